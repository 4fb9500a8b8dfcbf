// Replication from (and to) a hostile peer whose answers never end: bodies without end (Content-Length
// that never arrives, chunks for ever), feeds that never finish, one line without end. Each must end the
// replication Failed within its timeouts, with an error that names the request and its bound, in bounded
// memory (measured for `settee replicate` itself), and with nothing wrong written to the local side.
// The one endless answer that is no fault: a waiting longpoll of heartbeats (CouchDB's and pouchdb-server's
// idle feed), asked again at each deadline.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "replicator/hostile_replication.h"

using namespace settee;
using namespace settee::test;

// ---- (a) bodies that never end -------------------------------------------------------------------

TEST_CASE(
    "Hostile peer: a _changes answer whose Content-Length never arrives fails as too large, not retried",
    "[repl][hostile]") {
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (!isChanges(r)) return false;
    c.endlessBody(R"({"results":[)");
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  Outcome out = pull(peer, target, /*retries*/ 3);
  checkFailed(out, "_changes", *target, couch);
  CHECK(out.status.code() == ErrorCode::TooLarge);
  CHECK(peer.count("/_changes") == 1);
  CHECK(target->info()->docCount == 0);
}

TEST_CASE("Hostile peer: a chunked _changes answer that never ends fails as too large", "[repl][hostile]") {
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (!isChanges(r)) return false;
    if (c.beginChunked(200) && c.chunk(R"({"results":[{"seq":1,"id":")"))
      c.chunkForever(std::string(65536, 'x'));
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  Outcome out = pull(peer, target);
  checkFailed(out, "_changes", *target, couch);
  CHECK(out.status.code() == ErrorCode::TooLarge);
}

TEST_CASE("Hostile peer: an endless _bulk_get answer fails as too large after splitting down to one document",
          "[repl][hostile]") {
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (!isBulkGet(r)) return false;
    if (c.beginChunked(200)) c.chunkForever(std::string(65536, ' '));
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  Outcome out = pull(peer, target, 0, 5000);
  checkFailed(out, "_bulk_get", *target, couch, 30);
  CHECK(out.status.code() == ErrorCode::TooLarge);
  CHECK(target->info()->docCount == 0);
}

TEST_CASE("Hostile peer: an endless open_revs answer (a peer without _bulk_get) fails as too large",
          "[repl][hostile]") {
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (isBulkGet(r)) {
      c.reply(404, R"({"error":"not_found","reason":"missing"})");
      return true;
    }
    if (!r.query.count("open_revs")) return false;
    c.endlessBody("[");
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  Outcome out = pull(peer, target, 0, 5000);
  checkFailed(out, "open_revs", *target, couch, 30);
  CHECK(out.status.code() == ErrorCode::TooLarge);
}

TEST_CASE("Hostile peer: an endless GET of the database's info fails as too large", "[repl][hostile]") {
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (r.path != "/db" || r.method != "GET") return false;
    c.endlessBody("{\"update_seq\":");
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  Outcome out = pull(peer, target, 2);
  checkFailed(out, "GET http://127.0.0.1:" + std::to_string(peer.port()) + "/db", *target, couch);
  CHECK(out.status.code() == ErrorCode::TooLarge);
  CHECK(peer.exactly("GET /db") == 1);
}

TEST_CASE("Hostile peer: an endless checkpoint answer fails a push; from a source it is done without",
          "[repl][hostile]") {
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (r.path.rfind("/db/_local/", 0) != 0 || r.method != "GET") return false;
    c.endlessBody("{\"history\":");
    return true;
  }));
  Outcome pushed = push(peer, 2);
  INFO("push: " << pushed.status.reason());
  CHECK(pushed.state == ReplicationState::Failed);
  CHECK(pushed.status.code() == ErrorCode::TooLarge);
  CHECK_THAT(pushed.status.reason(), Catch::Contains("GET checkpoint") && Catch::Contains("over its limit"));
  // A source's checkpoint is optional (a read-only source has none): its failure costs a full re-read,
  // and the pull is still right.
  TempDir dir;
  auto target = openDb(dir, "t");
  Outcome pulled = pull(peer, target, 2);
  INFO("pull: " << pulled.status.reason());
  CHECK(pulled.status.isOk());
  CHECK(target->info()->docCount == 3);
  checkOnlyCorrect(*target, couch);
}

TEST_CASE("Hostile peer: an endless /_session answer is read once, then the pull goes on with Basic auth",
          "[repl][hostile]") {
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (r.path != "/_session") return false;
    c.endlessBody("{\"ok\":");
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  ReplicationOptions options;
  options.retries = 0;
  options.timeout = std::chrono::milliseconds(1000);
  std::string url = peer.url();
  url.insert(url.find("//") + 2, "bob:secret@");
  Replication rep(ReplicationPeer::remote(url), ReplicationPeer::local(target), options);
  Status st = rep.run();
  INFO(st.reason());
  CHECK(st.isOk());
  CHECK(peer.count("/_session") == 1);
  CHECK(target->info()->docCount == 3);
  checkOnlyCorrect(*target, couch);
}

TEST_CASE("Hostile peer: an endless _revs_diff answer fails a push as too large", "[repl][hostile]") {
  // A target written before: a push into a never-written one does not ask _revs_diff (revs_differ.h).
  FakeCouch couch({{"other", {kHashA}, 0, ""}});
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (r.path != "/db/_revs_diff") return false;
    c.endlessBody("{");
    return true;
  }));
  Outcome out = push(peer, 2);
  INFO("error: " << out.status.reason());
  CHECK(out.state == ReplicationState::Failed);
  CHECK(out.status.code() == ErrorCode::TooLarge);
  CHECK_THAT(out.status.reason(), Catch::Contains("_revs_diff"));
}

// ---- (d) a feed that never ends -------------------------------------------------------------------

TEST_CASE("Hostile peer: a one-shot pull whose _changes answer never ends fails within its timeouts",
          "[repl][hostile]") {
  // Silent after its headers: the read timeout. Newlines for ever (heartbeats nobody asked for, which
  // restart the read timeout each time): the answer's deadline, ten request timeouts.
  const bool heartbeats = GENERATE(false, true);
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [heartbeats](const PeerRequest& r, PeerConnection& c) {
    if (!isChanges(r)) return false;
    if (!c.beginChunked(200) || !c.chunk(R"({"results":[)")) return true;
    while (c.pause(50) && (!heartbeats || c.chunk("\n"))) {
    }
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  const int timeoutMs = 300, retries = 1;
  Outcome out = pull(peer, target, retries, timeoutMs);
  // Each try ends after its timeout (or deadline); one backoff between the two.
  const double bound = (retries + 1) * (heartbeats ? 10 : 1) * timeoutMs / 1000.0 + 1.0 + 2.0;
  checkFailed(out, heartbeats ? "did not end within" : "no data", *target, couch, bound);
  CHECK(out.seconds >= (heartbeats ? 10 : 1) * timeoutMs / 1000.0);
  CHECK(peer.count("/_changes") == 2);
}

TEST_CASE(
    "Hostile peer: a continuous pull whose longpoll feed sends heartbeats for ever asks again at each "
    "deadline, never Retrying",
    "[repl][hostile]") {
  // CouchDB and pouchdb-server answer an idle longpoll that asked for heartbeats this way: newlines
  // until a change, whatever `timeout` said. Each wait is bounded by its deadline and ends as an empty
  // batch; the peer, heard from all along, is live and the replication stays Idle.
  FakeCouch couch(plainDocs());
  std::atomic<int> feeds{0};
  std::atomic<int> gzipAsked{0};
  HostilePeer peer(breaking(couch, [&](const PeerRequest& r, PeerConnection& c) {
    if (!isChanges(r) || !r.query.count("feed")) return false;
    ++feeds;
    if (r.header("accept-encoding").find("gzip") != std::string::npos) ++gzipAsked;
    if (!c.beginChunked(200) || !c.chunk(R"({"results":[)")) return true;
    while (c.pause(50) && c.chunk("\n")) {
    }
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  ReplicationOptions options;
  options.continuous = true;
  options.heartbeat = std::chrono::milliseconds(200);
  options.timeout = std::chrono::milliseconds(1000);
  std::mutex mu;
  std::vector<ReplicationState> states;
  Replication rep(ReplicationPeer::remote(peer.url()), ReplicationPeer::local(target), options);
  rep.start([&](ReplicationState s, const ReplicationStats&, const Status&) {
    std::lock_guard lock(mu);
    if (states.empty() || states.back() != s) states.push_back(s);
  });
  // The longpoll asks for 300 ms; its deadline is that plus one silence (500 ms): four waits in 4 s.
  const auto began = std::chrono::steady_clock::now();
  while (feeds < 5 && std::chrono::steady_clock::now() - began < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  CHECK(feeds >= 5);
  CHECK(seconds < 6.0);
  CHECK(rep.state() == ReplicationState::Idle);
  rep.stop();
  {
    std::lock_guard lock(mu);
    CHECK(std::find(states.begin(), states.end(), ReplicationState::Retrying) == states.end());
    CHECK(std::find(states.begin(), states.end(), ReplicationState::Failed) == states.end());
  }
  CHECK(gzipAsked == 0);                 // heartbeats must not wait in a compressor's buffer
  CHECK(target->info()->docCount == 3);  // the one-shot part before the feed was fine
  checkOnlyCorrect(*target, couch);
}

// ---- (e) one line without end ---------------------------------------------------------------------

TEST_CASE("Hostile peer: a _changes row with a 100 MB id fails as too large", "[repl][hostile]") {
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [](const PeerRequest& r, PeerConnection& c) {
    if (!isChanges(r)) return false;
    std::string row = R"({"results":[{"seq":1,"id":")";
    if (c.beginChunked(200) && c.chunk(row)) {
      std::string piece(1 << 20, 'i');
      for (int i = 0; i < 100 && c.chunk(piece); ++i) {
      }
      c.chunk(R"(","changes":[{"rev":"1-a"}]}],"last_seq":1})");
      c.chunk("");
    }
    return true;
  }));
  TempDir dir;
  auto target = openDb(dir, "t");
  Outcome out = pull(peer, target, 2);
  checkFailed(out, "over its limit", *target, couch);
  CHECK(out.status.code() == ErrorCode::TooLarge);
}

// ---- memory: `settee replicate` against endless bodies ----------------------------------------------

namespace {

// The high-water mark of a running process's resident memory (VmHWM), in kB; 0 once it is gone.
long vmHwm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

struct ProcessOutcome {
  int exitCode = -1;
  long peakKb = 0;
  double seconds = 0;
  std::string stderrText;
};

// Runs `settee replicate` with `args`; its exit code, peak RSS (read from /proc while it runs: a forked
// child's ru_maxrss would count this test process's pages too), time and what it printed.
ProcessOutcome replicateProcess(const std::vector<std::string>& args, const TempDir& dir) {
  ProcessOutcome out;
  const std::string errPath = dir.file("stderr.txt");
  int execed[2];
  if (pipe2(execed, O_CLOEXEC) != 0) return out;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    close(execed[0]);
    int devnull = open("/dev/null", O_WRONLY);
    int err = open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(devnull, 1);
    dup2(err, 2);
    std::vector<char*> argv{const_cast<char*>(SETTEE_BINARY), const_cast<char*>("replicate")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(SETTEE_BINARY, argv.data());
    _exit(127);
  }
  close(execed[1]);
  char byte;
  while (read(execed[0], &byte, 1) < 0 && errno == EINTR) {
  }
  close(execed[0]);
  int status = 0;
  for (;;) {
    out.peakKb = std::max(out.peakKb, vmHwm(pid));
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid || done < 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) out.exitCode = WEXITSTATUS(status);
  std::ifstream in(errPath);
  out.stderrText.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return out;
}

}  // namespace

TEST_CASE("Hostile peer: settee replicate against endless bodies exits non-zero in bounded memory",
          "[repl][hostile]") {
  struct Case {
    const char* name;
    std::function<bool(const PeerRequest&)> hits;
    const char* says;
  };
  auto c = GENERATE(values<Case>({
      {"_changes", [](const PeerRequest& r) { return isChanges(r); }, "_changes"},
      {"_bulk_get", [](const PeerRequest& r) { return isBulkGet(r); }, "_bulk_get"},
      {"open_revs", [](const PeerRequest& r) { return r.query.count("open_revs") > 0; }, "open_revs"},
      {"GET /db", [](const PeerRequest& r) { return r.path == "/db" && r.method == "GET"; }, "GET"},
  }));
  FakeCouch couch(plainDocs());
  HostilePeer peer(breaking(couch, [&](const PeerRequest& r, PeerConnection& conn) {
    if (std::string(c.name) == "open_revs" && isBulkGet(r)) {
      conn.reply(404, R"({"error":"not_found","reason":"missing"})");
      return true;
    }
    if (!c.hits(r)) return false;
    if (conn.beginChunked(200)) conn.chunkForever(std::string(65536, ' '));
    return true;
  }));
  TempDir dir;
  ProcessOutcome out = replicateProcess(
      {peer.url(), "copy", "--data", dir.path(), "--create-target", "--timeout", "5000", "--retries", "1"},
      dir);
  INFO(c.name << ": exit " << out.exitCode << ", peak RSS " << out.peakKb << " kB, " << out.seconds << " s\n"
              << out.stderrText);
  WARN("settee replicate against an endless " << c.name << " answer: peak RSS " << out.peakKb / 1024
                                              << " MB, " << out.seconds << " s, exit " << out.exitCode);
  CHECK(out.exitCode == 1);
  CHECK_THAT(out.stderrText, Catch::Contains("replication failed") && Catch::Contains(c.says) &&
                                 Catch::Contains("over its limit"));
  CHECK(out.peakKb > 0);
#if !defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's shadow memory and quarantine make a sanitized binary's RSS say nothing about ours.
  CHECK(out.peakKb < 200 * 1024);
#endif
  CHECK(out.seconds < 60);
}
