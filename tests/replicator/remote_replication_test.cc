// Replication over HTTP with a real `settee serve` process on each side (or one side local).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "live_server.h"
#include "settee/database.h"
#include "settee/replicator.h"

using namespace settee;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::TempDir;

namespace {

std::string url(const LiveServer& node, const std::string& db) {
  return "http://127.0.0.1:" + std::to_string(node.port()) + "/" + db;
}

// Each document's leaves with their histories and the winner's conflicts, as the server reports them.
std::string treeOf(const LiveServer& node, const std::string& db, const std::string& id) {
  auto leaves = node("GET", "/" + db + "/" + id + "?open_revs=all&revs=true", "", {{"Accept", "application/json"}});
  auto winner = node("GET", "/" + db + "/" + id + "?conflicts=true&deleted_conflicts=true");
  return std::to_string(leaves.status) + leaves.body + "|" + std::to_string(winner.status) + winner.body;
}

void seed(const LiveServer& node, const std::string& db) {
  REQUIRE(node("PUT", "/" + db).status == 201);
  std::string docs = R"({"docs":[)";
  for (int i = 0; i < 600; ++i) docs += (i ? "," : "") + std::string(R"({"_id":"d)") + std::to_string(i) + R"(","n":)" + std::to_string(i) + "}";
  docs += "]}";
  REQUIRE(node("POST", "/" + db + "/_bulk_docs", docs).status == 201);
  REQUIRE(node("POST", "/" + db + "/_bulk_docs",
               R"({"new_edits":false,"docs":[{"_id":"c","_rev":"2-aa","_revisions":{"start":2,"ids":["aa","r"]},"s":1},)"
               R"({"_id":"c","_rev":"2-bb","_revisions":{"start":2,"ids":["bb","r"]},"s":2},)"
               R"({"_id":"c","_rev":"3-dd","_revisions":{"start":3,"ids":["dd","cc","r"]},"_deleted":true}]})")
              .status == 201);
  auto att = node("PUT", "/" + db + "/att", R"({"_attachments":{"f.bin":{"content_type":"application/octet-stream","data":")" +
                                              std::string(4000, 'A') + R"("}}})");
  REQUIRE(att.status == 201);
  REQUIRE(node("PUT", "/" + db + "/_design/app", R"({"language":"javascript"})").status == 201);
  auto del = Json(node("PUT", "/" + db + "/gone", "{}").body);
  REQUIRE(node("DELETE", "/" + db + "/gone?rev=" + del.str("rev")).status == 200);
}

}  // namespace

TEST_CASE("Replication over HTTP: Settee node to Settee node, then incremental", "[repl][remote]") {
  LiveServer a, b;
  seed(a, "src");
  Replication rep(ReplicationPeer::remote(url(a, "src")), ReplicationPeer::remote(url(b, "dst")),
                  [] {
                    ReplicationOptions o;
                    o.createTarget = true;
                    return o;
                  }());
  Status st = rep.run();
  INFO(st.reason());
  REQUIRE(st.isOk());
  CHECK(rep.stats().docsWritten == 606);
  for (const char* id : {"d0", "d599", "c", "att", "_design/app", "gone"}) CHECK(treeOf(a, "src", id) == treeOf(b, "dst", id));
  CHECK(Json(a("GET", "/src/att").body)["_attachments"]["f.bin"]["digest"].get_string().value() ==
        Json(b("GET", "/dst/att").body)["_attachments"]["f.bin"]["digest"].get_string().value());
  // Checkpoints on both sides.
  CHECK(a("GET", "/src/_local/" + rep.id()).status == 200);
  CHECK(b("GET", "/dst/_local/" + rep.id()).status == 200);

  REQUIRE(a("PUT", "/src/late", "{}").status == 201);
  Replication again(ReplicationPeer::remote(url(a, "src")), ReplicationPeer::remote(url(b, "dst")));
  REQUIRE(again.run().isOk());
  CHECK(again.stats().docsRead == 1);
  CHECK(b("GET", "/dst/late").status == 200);
}

TEST_CASE("Replication over HTTP: pull into a local database and push back out", "[repl][remote]") {
  LiveServer node;
  seed(node, "src");
  TempDir dir;
  DataDir data(dir.path());
  auto local = *data.create("copy");
  REQUIRE(Replication(ReplicationPeer::remote(url(node, "src")), ReplicationPeer::local(local)).run().isOk());
  CHECK(local->info()->docCount == 603);  // 600 + c + att + design
  CHECK(*local->conflicts("c") == std::vector<std::string>{"2-aa"});
  (void)local->put(R"({"_id":"from-local"})");
  ReplicationOptions create;
  create.createTarget = true;
  REQUIRE(Replication(ReplicationPeer::local(local), ReplicationPeer::remote(url(node, "back")), create).run().isOk());
  CHECK(node("GET", "/back/from-local").status == 200);
  CHECK(treeOf(node, "src", "c") == treeOf(node, "back", "c"));
}

TEST_CASE("Replication over HTTP: an unreachable or missing peer fails clearly", "[repl][remote]") {
  LiveServer node;
  ReplicationOptions fast;
  fast.retries = 1;
  fast.timeout = std::chrono::milliseconds(2000);
  Replication missing(ReplicationPeer::remote(url(node, "nope")), ReplicationPeer::remote(url(node, "dst")), fast);
  CHECK(!missing.run().isOk());
  CHECK(missing.state() == ReplicationState::Failed);
  Replication refused(ReplicationPeer::remote("http://127.0.0.1:1/db"), ReplicationPeer::remote(url(node, "dst")), fast);
  CHECK(!refused.run().isOk());
}

TEST_CASE("Replication over HTTP: a 401 from a peer with an admin stops the replication", "[repl][remote]") {
  LiveServer secured("[admins]\nadmin = pw\n");
  LiveServer open;
  seed(open, "src");
  ReplicationOptions o;
  o.createTarget = true;
  Replication noCreds(ReplicationPeer::remote(url(open, "src")), ReplicationPeer::remote(url(secured, "dst")), o);
  Status st = noCreds.run();
  CHECK(st.code() == ErrorCode::Unauthorized);
  std::string withCreds = "http://admin:pw@127.0.0.1:" + std::to_string(secured.port()) + "/dst";
  Replication ok(ReplicationPeer::remote(url(open, "src")), ReplicationPeer::remote(withCreds), o);
  REQUIRE(ok.run().isOk());
  CHECK(secured("GET", "/dst/d1", "", {{"Authorization", "Basic YWRtaW46cHc="}}).status == 200);
}

TEST_CASE("Replication over HTTP: the source killed mid-pull and restarted; the pull resumes and completes",
          "[repl][remote][crash]") {
  LiveServer a;
  REQUIRE(a("PUT", "/src").status == 201);
  for (int batch = 0; batch < 10; ++batch) {
    std::string docs = R"({"docs":[)";
    for (int i = 0; i < 500; ++i)
      docs += (i ? "," : "") + std::string(R"({"_id":"k)") + std::to_string(batch * 500 + i) + R"(","pad":")" + std::string(300, 'x') + "\"}";
    REQUIRE(a("POST", "/src/_bulk_docs", docs + "]}").status == 201);
  }
  TempDir dir;
  DataDir data(dir.path());
  auto local = *data.create("copy");
  ReplicationOptions o;
  o.batchSize = 200;
  o.retries = 50;
  Replication rep(ReplicationPeer::remote(url(a, "src")), ReplicationPeer::local(local), o);
  rep.start();
  for (int i = 0; i < 400 && rep.stats().docsWritten < 500; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  a.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  a.start();
  REQUIRE(rep.wait().isOk());
  CHECK(local->info()->docCount == 5000);
}

TEST_CASE("Replication over HTTP: documents with big attachments go as multipart/related PUTs", "[repl][remote]") {
  // The target refuses request bodies over 1.2 MB: a ~1 MB attachment inline in _bulk_docs (base64, 1.4 MB)
  // would be refused, while a multipart PUT carries its raw bytes under that limit.
  LiveServer source;
  LiveServer target("[chttpd]\nmax_http_request_size = 1200000\n");
  REQUIRE(source("PUT", "/src").status == 201);
  std::string big;
  for (int i = 0; big.size() < 1400000; ++i) big += static_cast<char>('A' + (i * 31 + i / 7) % 26);  // base64 text
  REQUIRE(source("PUT", "/src/big", R"({"kind":"photo","_attachments":{"p.bin":{"content_type":"image/x-test","data":")" +
                                        big + R"("},"n.txt":{"content_type":"text/plain","data":"aGk="}}})")
              .status == 201);
  REQUIRE(source("PUT", "/src/small", R"({"_attachments":{"s.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})")
              .status == 201);
  REQUIRE(source("PUT", "/src/plain", R"({"v":1})").status == 201);
  ReplicationOptions o;
  o.createTarget = true;
  o.retries = 2;
  Replication rep(ReplicationPeer::remote(url(source, "src")), ReplicationPeer::remote(url(target, "dst")), o);
  Status st = rep.run();
  INFO(st.reason());
  REQUIRE(st.isOk());
  CHECK(rep.stats().docWriteFailures == 0);
  CHECK(rep.stats().docsWritten == 3);
  for (const char* id : {"big", "small", "plain"}) CHECK(treeOf(source, "src", id) == treeOf(target, "dst", id));
  auto fromSource = source("GET", "/src/big/p.bin");
  auto fromTarget = target("GET", "/dst/big/p.bin");
  REQUIRE(fromTarget.status == 200);
  CHECK(fromTarget.body.size() == big.size() / 4 * 3);
  CHECK(fromTarget.body == fromSource.body);
  CHECK(*fromTarget.header("Content-Type") == "image/x-test");
  CHECK(target("GET", "/dst/big/n.txt").body == "hi");

  // Pushed again from a local database (the local source's inline attachments take the same path).
  TempDir dir;
  DataDir data(dir.path());
  auto local = *data.create("copy");
  REQUIRE(Replication(ReplicationPeer::remote(url(target, "dst")), ReplicationPeer::local(local)).run().isOk());
  Replication push(ReplicationPeer::local(local), ReplicationPeer::remote(url(target, "again")), o);
  REQUIRE(push.run().isOk());
  CHECK(push.stats().docWriteFailures == 0);
  CHECK(target("GET", "/again/big/p.bin").body == fromSource.body);
}

TEST_CASE("Replication over HTTP: a continuous feed gone silent is taken for dead and reopened", "[repl][remote]") {
  LiveServer source;
  REQUIRE(source("PUT", "/src").status == 201);
  REQUIRE(source("PUT", "/src/before", "{}").status == 201);
  TempDir dir;
  DataDir data(dir.path());
  auto local = *data.create("copy");
  ReplicationOptions o;
  o.continuous = true;
  o.heartbeat = std::chrono::milliseconds(400);  // silence past 1 s is death
  std::mutex mu;
  std::vector<std::pair<ReplicationState, std::string>> seen;
  Replication rep(ReplicationPeer::remote(url(source, "src")), ReplicationPeer::local(local), o);
  rep.start([&](ReplicationState s, const ReplicationStats&, const Status& st) {
    std::lock_guard lock(mu);
    seen.emplace_back(s, st.reason());
  });
  auto waitFor = [&](auto pred, int ms) {
    for (int i = 0; i < ms / 20 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return pred();
  };
  REQUIRE(waitFor([&] { return local->info()->docCount == 1 && rep.state() == ReplicationState::Idle; }, 10000));
  // The source stops answering with its sockets open: the waiting longpoll hears no heartbeat.
  source.freeze(true);
  CHECK(waitFor([&] { return rep.state() == ReplicationState::Retrying; }, 5000));
  source.freeze(false);
  REQUIRE(source("PUT", "/src/after", "{}").status == 201);
  CHECK(waitFor([&] { return local->info()->docCount == 2; }, 15000));
  CHECK(waitFor([&] { return rep.state() == ReplicationState::Idle || rep.state() == ReplicationState::Running; }, 5000));
  rep.stop();
  std::lock_guard lock(mu);
  auto retrying = std::find_if(seen.begin(), seen.end(), [](auto& e) { return e.first == ReplicationState::Retrying; });
  REQUIRE(retrying != seen.end());
  CHECK(retrying->second.find("_changes") != std::string::npos);  // the listener is told which request failed
}

TEST_CASE("Replication over HTTP: a document the target refuses is a write failure, the rest are written",
          "[repl][remote]") {
  // bob is a member of the target database, not its admin: design documents are refused to him one by
  // one (as CouchDB answers them in _bulk_docs), and the replication goes on without them.
  LiveServer source;
  LiveServer target("[admins]\nadmin = pw\n");
  const std::vector<std::pair<std::string, std::string>> admin = {{"Authorization", "Basic YWRtaW46cHc="}};
  REQUIRE(target("PUT", "/_users/org.couchdb.user:bob", R"({"name":"bob","password":"pw2","roles":[],"type":"user"})", admin)
              .status == 201);
  REQUIRE(target("PUT", "/dst", "", admin).status == 201);
  REQUIRE(target("PUT", "/dst/_security", R"({"admins":{"names":[],"roles":[]},"members":{"names":["bob"],"roles":[]}})", admin)
              .status == 200);
  REQUIRE(source("PUT", "/src").status == 201);
  REQUIRE(source("POST", "/src/_bulk_docs", R"({"docs":[{"_id":"a"},{"_id":"b"},{"_id":"_design/app","views":{}}]})").status == 201);

  const std::string bob = "http://bob:pw2@127.0.0.1:" + std::to_string(target.port()) + "/dst";
  Replication rep(ReplicationPeer::remote(url(source, "src")), ReplicationPeer::remote(bob));
  Status st = rep.run();
  INFO(st.reason());
  REQUIRE(st.isOk());
  CHECK(rep.stats().docsWritten == 2);
  CHECK(rep.stats().docWriteFailures == 1);
  CHECK(target("GET", "/dst/a", "", admin).status == 200);
  CHECK(target("GET", "/dst/_design/app", "", admin).status == 404);

  // The same refusal, as the target answers it.
  auto direct = target("POST", "/dst/_bulk_docs", R"({"docs":[{"_id":"_design/x"},{"_id":"c"}]})",
                       {{"Authorization", "Basic Ym9iOnB3Mg=="}});
  REQUIRE(direct.status == 201);
  Json results(direct.body);
  CHECK(std::string(results.root().at(0)["error"].get_string().value()) == "unauthorized");
  CHECK(std::string(results.root().at(0)["id"].get_string().value()) == "_design/x");
  CHECK(bool(results.root().at(1)["ok"]));
  CHECK(target("GET", "/dst/_design/x", "", admin).status == 404);
}

namespace {

// The high-water mark of a running process's resident memory (VmHWM), in kB; 0 once it is gone.
long vmHwm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// Runs `settee replicate` with `args` in a child process; its exit code and peak RSS in kB. The peak is
// read from /proc while the child runs: getrusage's ru_maxrss of a forked child also counts the pages it
// shared with this (large) test process before exec.
std::pair<int, long> replicateProcess(const std::vector<std::string>& args) {
  // Closed by exec: until then the child's memory is a copy of this process's, not settee's.
  int execed[2];
  if (pipe2(execed, O_CLOEXEC) != 0) return {-1, 0};
  pid_t pid = fork();
  if (pid == 0) {
    close(execed[0]);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
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
  long peak = 0;
  int status = 0;
  for (;;) {
    peak = std::max(peak, vmHwm(pid));
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0) return {-1, peak};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!WIFEXITED(status)) return {-1, peak};
  return {WEXITSTATUS(status), peak};
}

}  // namespace

TEST_CASE("Replication over HTTP: documents with big attachments move one at a time, in bounded memory",
          "[repl][remote]") {
  // 24 documents of 2 MB each: fetched in one batch with their bytes (base64, then decoded) they would
  // take well over 100 MB in the replicating process; one at a time they take a few MB.
  LiveServer source;
  REQUIRE(source("PUT", "/src").status == 201);
  std::string data;
  for (int i = 0; data.size() < 2800000; ++i) data += static_cast<char>('A' + (i * 131 + i / 17) % 26);
  for (int i = 0; i < 24; ++i) {
    data[0] = static_cast<char>('A' + i);  // a different attachment each time
    REQUIRE(source("PUT", "/src/big" + std::to_string(i),
                   R"({"_attachments":{"b.bin":{"content_type":"application/octet-stream","data":")" + data + R"("}}})")
                .status == 201);
  }
  REQUIRE(source("POST", "/src/_bulk_docs", R"({"docs":[{"_id":"plain1"},{"_id":"plain2"}]})").status == 201);
  TempDir dir;
  auto [exitCode, rss] = replicateProcess({url(source, "src"), "copy", "--data", dir.path(), "--create-target"});
  CHECK(exitCode == 0);
  INFO("peak RSS of settee replicate: " << rss << " kB");
  CHECK(rss > 0);
  CHECK(rss < 80 * 1024);
  DataDir data2(dir.path());
  auto copy = *data2.open("copy");
  CHECK(copy->info()->docCount == 26);
  Attachment got = *copy->getAttachment("big23", "b.bin");
  CHECK(got.digest == Json(source("GET", "/src/big23").body)["_attachments"]["b.bin"]["digest"].get_string().value());
}


TEST_CASE("Replication over HTTP: an attachment bigger than the replicator's memory streams through it",
          "[repl][remote]") {
  // One 48 MB attachment, pulled from a node into a local database and pushed from there to another
  // node by `settee replicate`: the bytes go through a spool file (open_revs multipart/mixed read as it
  // arrives, SQLite blob writes, a multipart PUT streamed from the file), so the replicating process
  // peaks well under the attachment's size.
  const size_t size = 48u * 1024 * 1024;
  std::string bytes(size, '\0');
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    std::memcpy(&bytes[i], &x, 4);
  }
  LiveServer source;
  LiveServer target;
  REQUIRE(source("PUT", "/src").status == 201);
  auto put = source("PUT", "/src/huge/blob.bin", bytes, {{"Content-Type", "application/octet-stream"}});
  REQUIRE(put.status == 201);
  const std::string digest(Json(source("GET", "/src/huge").body)["_attachments"]["blob.bin"]["digest"].get_string().value());
  bytes.clear();
  bytes.shrink_to_fit();
  REQUIRE(source("PUT", "/src/small", R"({"v":1})").status == 201);

  TempDir dir;
  auto [pullExit, pullRss] = replicateProcess({url(source, "src"), "copy", "--data", dir.path(), "--create-target"});
  CHECK(pullExit == 0);
  INFO("peak RSS of the pull: " << pullRss << " kB");
  CHECK(pullRss > 0);
  CHECK(pullRss < 40 * 1024);
  {
    DataDir data(dir.path());
    auto copy = *data.open("copy");
    CHECK(copy->info()->docCount == 2);
    auto att = copy->getAttachment("huge", "blob.bin");
    REQUIRE(att);
    CHECK(att->digest == digest);
    CHECK(att->length == size);
  }

  auto [pushExit, pushRss] =
      replicateProcess({"copy", url(target, "dst"), "--data", dir.path(), "--create-target"});
  CHECK(pushExit == 0);
  INFO("peak RSS of the push: " << pushRss << " kB");
  CHECK(pushRss < 40 * 1024);
  auto doc = target("GET", "/dst/huge");
  REQUIRE(doc.status == 200);
  CHECK(Json(doc.body)["_attachments"]["blob.bin"]["digest"].get_string().value() == digest);
  CHECK(Json(doc.body)["_attachments"]["blob.bin"]["length"].get_uint64().value() == size);
  CHECK(treeOf(source, "src", "huge") == treeOf(target, "dst", "huge"));
}

TEST_CASE("Replication over HTTP: a continuous replication whose peer is down at start says so and stops promptly",
          "[repl][remote]") {
  TempDir dir;
  DataDir data(dir.path());
  auto local = *data.create("copy");
  ReplicationOptions o;
  o.continuous = true;
  std::mutex mu;
  std::string error;
  Replication rep(ReplicationPeer::remote("http://127.0.0.1:1/db"), ReplicationPeer::local(local), o);
  rep.start([&](ReplicationState s, const ReplicationStats&, const Status& st) {
    std::lock_guard lock(mu);
    if (s == ReplicationState::Retrying) error = st.reason();
  });
  for (int i = 0; i < 250 && rep.state() != ReplicationState::Retrying; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(rep.state() == ReplicationState::Retrying);
  {
    std::lock_guard lock(mu);
    CHECK(error.find("127.0.0.1:1") != std::string::npos);
  }
  auto t0 = std::chrono::steady_clock::now();
  rep.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK(rep.state() == ReplicationState::Stopped);
}

TEST_CASE("Replication over HTTP: a continuous replication waits for a missing source database to appear",
          "[repl][remote]") {
  LiveServer source;
  TempDir dir;
  DataDir data(dir.path());
  auto local = *data.create("copy");
  ReplicationOptions o;
  o.continuous = true;
  Replication rep(ReplicationPeer::remote(url(source, "later")), ReplicationPeer::local(local), o);
  rep.start();
  for (int i = 0; i < 250 && rep.state() != ReplicationState::Retrying; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(rep.state() == ReplicationState::Retrying);
  REQUIRE(source("PUT", "/later").status == 201);
  REQUIRE(source("PUT", "/later/arrived", "{}").status == 201);
  for (int i = 0; i < 1000 && local->info()->docCount < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(local->info()->docCount == 1);
  rep.stop();
  CHECK(rep.state() == ReplicationState::Stopped);
  // A one-shot replication still fails at once on a missing database.
  ReplicationOptions once;
  once.retries = 3;
  Replication missing(ReplicationPeer::remote(url(source, "nope")), ReplicationPeer::local(local), once);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(missing.run().code() == ErrorCode::NotFound);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}
