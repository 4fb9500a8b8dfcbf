// sync_state_bench — what the sync ledger (settee/sync_state.h) costs a local write.
//
//   build/sync_state_bench [N=5000] [runs=5]
//
// For 0, 1 and 3 registered peers, on a new database each time: N small documents (~100 bytes) written
// one put() each (one transaction per document: the app's common write), then N more with bulkDocs() in
// batches of 100, then those N, once every peer confirmed them, updated in batches of 100 (the update
// finds and retires each peer's confirmation: the ledger's one lookup per write).
// Configurations alternate within each run, so a machine's changing load falls on all of them alike.
// Prints docs/s by the wall clock and by the process's CPU time (user + system: what other work on a
// loaded machine does not inflate), medians over `runs`, and each configuration's cost against 0 peers.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "db/database_internal.h"
#include "settee/database.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBulk = 100;
constexpr int kPeers[] = {0, 1, 3};

std::string makeDoc(int i) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                R"({"_id":"doc-%08d","type":"delivery","seq":%d,"ok":true,"note":"left at door"})", i, i);
  return buf;
}

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string withRev(const std::string& doc, const std::string& rev) {
  return R"({"_rev":")" + rev + "\"," + doc.substr(1);
}

struct Sample {
  double wall = 0, cpu = 0;  // docs/s
};

struct Timer {
  Clock::time_point wall0 = Clock::now();
  double cpu0 = cpuSeconds();
  Sample rate(int docs) const {
    const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
    const double cpu = cpuSeconds() - cpu0;
    return {docs / wall, cpu > 0 ? docs / cpu : 0};
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One configuration: `peers` registered, then N puts and N bulk-written documents.
bool runOnce(const std::filesystem::path& dir, int peers, int n, Sample& put, Sample& bulk, Sample& update) {
  const std::filesystem::path file = dir / ("bench-" + std::to_string(peers) + ".settee");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + suffix);
  auto db = settee::Database::open(file.string(), "bench");
  if (!db) {
    std::fprintf(stderr, "open: %s\n", db.status().reason().c_str());
    return false;
  }
  for (int p = 0; p < peers; ++p)
    if (!(*db)->registerSyncPeer("http://peer" + std::to_string(p) + ".example/db")) return false;
  std::vector<std::string> docs;
  for (int i = 0; i < 2 * n; ++i) docs.push_back(makeDoc(i));

  Timer t;
  for (int i = 0; i < n; ++i) {
    auto r = (*db)->put(docs[static_cast<size_t>(i)]);
    if (!r || !r->status) return false;
  }
  put = t.rate(n);

  std::vector<std::string> revs;
  Timer b;
  for (int i = n; i < 2 * n; i += kBulk) {
    std::vector<std::string_view> batch;
    for (int j = i; j < std::min(2 * n, i + kBulk); ++j) batch.push_back(docs[static_cast<size_t>(j)]);
    for (auto& r : (*db)->bulkDocs(batch)) {
      if (!r.status) return false;
      revs.push_back(r.rev);
    }
  }
  bulk = b.rate(n);
  if (peers > 0) {
    auto counts = (*db)->syncCounts("http://peer0.example/db");
    if (!counts || counts->pending != static_cast<uint64_t>(2 * n)) {
      std::fprintf(stderr, "the ledger does not hold every write\n");
      return false;
    }
  }

  // Every peer confirms every document (a push), then the bulk-written ones are updated.
  std::vector<std::pair<std::string, uint64_t>> confirmed;
  if (peers > 0) {
    auto scanned = (*db)->changes({}, [&](const settee::Change& c) {
      confirmed.emplace_back(c.id, c.seq);
      return true;
    });
    if (!scanned) return false;
    for (int p = 0; p < peers; ++p)
      if (!settee::db::storeOf(**db).confirmSynced("http://peer" + std::to_string(p) + ".example/db",
                                                   confirmed))
        return false;
  }
  std::vector<std::string> edits;
  for (int i = 0; i < n; ++i)
    edits.push_back(withRev(docs[static_cast<size_t>(n + i)], revs[static_cast<size_t>(i)]));
  Timer u;
  for (int i = 0; i < n; i += kBulk) {
    std::vector<std::string_view> batch;
    for (int j = i; j < std::min(n, i + kBulk); ++j) batch.push_back(edits[static_cast<size_t>(j)]);
    for (auto& r : (*db)->bulkDocs(batch))
      if (!r.status) return false;
  }
  update = u.rate(n);
  if (peers > 0) {
    auto counts = (*db)->syncCounts("http://peer0.example/db");
    if (!counts || counts->pending != static_cast<uint64_t>(n)) {
      std::fprintf(stderr, "the ledger does not count the updates pending again\n");
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const auto dir =
      std::filesystem::temp_directory_path() / ("sync_state_bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  constexpr size_t kConfigs = std::size(kPeers);
  constexpr int kModes = 3;  // put, bulk, update
  const char* names[kModes] = {"put", "bulk100", "update100"};
  std::vector<double> wall[kConfigs][kModes], cpu[kConfigs][kModes];
  for (int run = 0; run < runs; ++run) {
    for (size_t c = 0; c < kConfigs; ++c) {
      Sample s[kModes];
      if (!runOnce(dir, kPeers[c], n, s[0], s[1], s[2])) return 1;
      for (int m = 0; m < kModes; ++m) {
        wall[c][m].push_back(s[m].wall);
        cpu[c][m].push_back(s[m].cpu);
      }
    }
  }
  std::filesystem::remove_all(dir);
  std::printf(
      "sync_state_bench: N=%d documents per mode, median of %d runs; docs/s, and the cost against 0 peers\n",
      n, runs);
  std::printf("%-10s %-6s %12s %12s %10s %10s\n", "mode", "peers", "docs/s wall", "docs/s cpu", "cost wall",
              "cost cpu");
  for (int m = 0; m < kModes; ++m) {
    for (size_t c = 0; c < kConfigs; ++c) {
      // By CPU time: the bookkeeping's own work, whatever else the machine runs.
      const double costWall = 100.0 * (1.0 - median(wall[c][m]) / median(wall[0][m]));
      const double costCpu = 100.0 * (1.0 - median(cpu[c][m]) / median(cpu[0][m]));
      std::printf("%-10s %-6d %12.0f %12.0f %9.1f%% %9.1f%%\n", names[m], kPeers[c], median(wall[c][m]),
                  median(cpu[c][m]), costWall, costCpu);
    }
  }
  return 0;
}
