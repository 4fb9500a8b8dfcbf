// bench_replicate — Settee's replicator pulling N documents of ~1 KB from a Settee node.
//
//   build/bench_replicate [N=100000] [runs=3]
//
// Builds the source database with the embedded API, serves it with `settee serve` (a child process
// on a free loopback port), then in each run: (a) replicates it into a second Settee node over
// loopback HTTP, (b) pulls it into a local database in this process. Prints docs/s (median of runs)
// and this process's peak RSS (the replicator's memory; the servers are separate processes).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "settee/database.h"
#include "settee/replicator.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

pid_t serve(const std::string& binary, const std::string& data, int port) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string p = std::to_string(port);
    execl(binary.c_str(), binary.c_str(), "serve", "--port", p.c_str(), "--data", data.c_str(), "--log-level", "none",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 400 && !listening(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  return pid;
}

void stop(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

std::string makeDoc(int i) {
  char id[32];
  std::snprintf(id, sizeof id, "doc-%08d", i);
  std::string doc = R"({"_id":")" + std::string(id) + R"(","type":"reading","n":)" + std::to_string(i) +
                    R"(,"tags":["a","b"],"note":")";
  for (int k = 0; doc.size() < 1000; ++k) doc.push_back(static_cast<char>('a' + (i * 7 + k * 13) % 26));
  return doc + "\"}";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  std::string binary = (fs::path(argv[0]).parent_path() / "settee").string();
  fs::path root = fs::temp_directory_path() / "settee-bench-replicate";
  fs::remove_all(root);
  fs::create_directories(root / "src");
  {
    settee::DataDir data((root / "src").string());
    auto db = *data.create("source");
    std::vector<std::string> docs;
    for (int start = 0; start < n; start += 1000) {
      docs.clear();
      for (int i = start; i < std::min(n, start + 1000); ++i) docs.push_back(makeDoc(i));
      std::vector<std::string_view> views(docs.begin(), docs.end());
      (void)db->bulkDocs(views);
    }
  }
  int srcPort = freePort();
  pid_t src = serve(binary, (root / "src").string(), srcPort);
  std::string source = "http://127.0.0.1:" + std::to_string(srcPort) + "/source";
  std::vector<double> toNode, toLocal;
  for (int run = 0; run < runs; ++run) {
    fs::remove_all(root / "dst");
    fs::create_directories(root / "dst");
    int dstPort = freePort();
    pid_t dst = serve(binary, (root / "dst").string(), dstPort);
    settee::ReplicationOptions create;
    create.createTarget = true;
    settee::Replication http(settee::ReplicationPeer::remote(source),
                             settee::ReplicationPeer::remote("http://127.0.0.1:" + std::to_string(dstPort) + "/copy"), create);
    auto t0 = Clock::now();
    settee::Status st = http.run();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    stop(dst);
    if (!st || http.stats().docsWritten != static_cast<uint64_t>(n)) {
      std::fprintf(stderr, "node-to-node replication failed: %s (%llu written)\n", st.reason().c_str(),
                   static_cast<unsigned long long>(http.stats().docsWritten));
      stop(src);
      return 1;
    }
    toNode.push_back(n / secs);

    fs::remove_all(root / "local");
    settee::DataDir local((root / "local").string());
    auto db = *local.create("copy");
    settee::Replication pull(settee::ReplicationPeer::remote(source), settee::ReplicationPeer::local(db));
    t0 = Clock::now();
    st = pull.run();
    secs = std::chrono::duration<double>(Clock::now() - t0).count();
    auto info = db->info();
    if (!st || !info || info->docCount != static_cast<uint64_t>(n)) {
      std::fprintf(stderr, "pull into a local database failed: %s\n", st.reason().c_str());
      stop(src);
      return 1;
    }
    toLocal.push_back(n / secs);
    std::printf("run %d: node->node %.0f docs/s, node->local %.0f docs/s\n", run + 1, toNode.back(), toLocal.back());
  }
  stop(src);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("N=%d docs of ~1 KB, median of %d runs:\n", n, runs);
  std::printf("  settee -> settee over loopback HTTP  %10.0f docs/s\n", median(toNode));
  std::printf("  settee node -> local database        %10.0f docs/s\n", median(toLocal));
  std::printf("  peak RSS of the replicating process  %ld KB\n", ru.ru_maxrss);
  fs::remove_all(root);
  return 0;
}
