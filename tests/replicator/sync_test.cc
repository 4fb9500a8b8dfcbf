// Sync (settee/sync.h) against a real `settee serve` peer: two-way sync, its states, going offline and
// back, priority, selective sync, the second phase on a metered network, refusals, restarts.
#include "settee/sync.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "db/metrics.h"
#include "live_server.h"
#include "settee/database.h"
#include "sync_test_support.h"

using namespace settee;
using namespace std::chrono_literals;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::TempDir;
using namespace settee::test::sync_support;

namespace {

// The ids of the peer's _changes in its sequence order.
std::vector<std::string> changesOrder(const LiveServer& node, const std::string& db) {
  auto reply = node("GET", "/" + db + "/_changes");
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  Json changes(reply.body);
  std::vector<std::string> ids;
  simdjson::dom::array rows = changes["results"].get_array().value();
  for (simdjson::dom::element row : rows) ids.emplace_back(row["id"].get_string().value());
  return ids;
}

// Established TCP connections from this host to `port` (the client side: the remote port is the peer's).
int connectionsTo(int port) {
  int count = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream row(line);
      std::string slot, local, remote, state;
      row >> slot >> local >> remote >> state;
      const auto colon = remote.rfind(':');
      if (state == "01" && colon != std::string::npos &&
          std::stoi(remote.substr(colon + 1), nullptr, 16) == port)
        ++count;
    }
  }
  return count;
}

int threadCount() {
  int n = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

SyncOptions quick() {
  SyncOptions o;
  o.minBackoff = 200ms;
  o.maxBackoff = 2000ms;
  o.heartbeat = 1000ms;
  o.timeout = 5000ms;
  return o;
}

}  // namespace

TEST_CASE("Sync: two-way sync converges, passing through connecting, syncing and idle, and keeps following",
          "[sync][remote]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  for (int i = 0; i < 30; ++i)
    REQUIRE(peer("PUT", "/shared/remote" + std::to_string(i), R"({"side":"peer"})").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  for (int i = 0; i < 20; ++i) putLocal(*db, R"({"_id":"local)" + std::to_string(i) + R"(","side":"app"})");

  auto metric = [](std::string_view name) -> std::optional<metrics::Sample> {
    for (auto& s : metrics::snapshot())
      if (s.name == name) return s;
    return std::nullopt;
  };
  const auto completedBefore = metric("settee.sync.completed");
  const uint64_t durationsBefore =
      metric("settee.sync.duration_seconds") ? metric("settee.sync.duration_seconds")->histogram.total : 0;

  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), quick());
  rec.attach(sync);
  const auto before = uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
  REQUIRE(sync.start().isOk());
  CHECK(sync.status().state != SyncState::Stopped);  // started: the state says so at once
  auto idle = rec.waitState(SyncState::Idle);
  REQUIRE(idle);
  auto states = rec.states();
  REQUIRE(states.size() >= 3);
  CHECK(states[0] == SyncState::Connecting);
  CHECK(states[1] == SyncState::Syncing);
  CHECK(std::find(states.begin(), states.end(), SyncState::Idle) != states.end());
  CHECK(idle->lastError.isOk());
  CHECK(idle->lastSyncMicros >= before);
  CHECK(sync.status().lastSyncMicros == idle->lastSyncMicros);
  CHECK(idle->progress.docsPushed == 20);
  CHECK(idle->progress.docsPulled == 30);
  CHECK(Json(peer("GET", "/shared").body)["doc_count"].get_uint64().value() == 50);
  CHECK(db->info()->docCount == 50);
  // The node's metrics (/_node/_local/_stats): one more complete sync, its duration, the outbox empty.
  auto completed = metric("settee.sync.completed");
  REQUIRE(completed);
  CHECK(completed->counter == (completedBefore ? completedBefore->counter : 0) + 1);
  auto duration = metric("settee.sync.duration_seconds");
  REQUIRE(duration);
  CHECK(duration->histogram.total == durationsBefore + 1);
  auto outbox = metric("settee.sync.outbox_depth");
  REQUIRE(outbox);
  CHECK(outbox->gauge == 0);

  // Following, both ways: a change on either side arrives and the sync is idle again.
  auto mark = rec.mark();
  REQUIRE(peer("PUT", "/shared/later", R"({"side":"peer"})").status == 201);
  putLocal(*db, R"({"_id":"later-local"})");
  // Small news is written without leaving the caught-up state: idle again with both counted.
  auto again = rec.waitStatus(
      [](const SyncStatus& s) {
        return s.state == SyncState::Idle && s.progress.docsPushed == 21 && s.progress.docsPulled == 31;
      },
      mark);
  REQUIRE(again);
  CHECK(db->get("later"));
  CHECK(peerHas(peer, "shared", "later-local"));
  CHECK(again->lastSyncMicros > idle->lastSyncMicros);  // synced as of the news
  // Quiet for longer than a feed's deadline (timeout + silence = 4 heartbeats): no failure, still idle.
  mark = rec.mark();
  std::this_thread::sleep_for(5s);
  for (const auto& s : rec.statusesSince(mark)) CHECK(s.state == SyncState::Idle);
  CHECK(sync.status().state == SyncState::Idle);
  CHECK(sync.status().lastError.isOk());

  sync.stop();
  CHECK(sync.status().state == SyncState::Stopped);
  CHECK(rec.states().back() == SyncState::Stopped);
}

TEST_CASE("Sync: a restarted Sync resumes from its checkpoints and transfers nothing already synced",
          "[sync][remote]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  REQUIRE(peer("PUT", "/shared/r1", "{}").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  putLocal(*db, R"({"_id":"l1"})");
  {
    Recorder rec;
    Sync sync(db, peerUrl(peer, "shared"), quick());
    rec.attach(sync);
    REQUIRE(sync.start().isOk());
    auto idle = rec.waitState(SyncState::Idle);
    REQUIRE(idle);
    CHECK(idle->progress.docsPushed == 1);
    CHECK(idle->progress.docsPulled == 1);
  }
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), quick());
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  auto idle = rec.waitState(SyncState::Idle);
  REQUIRE(idle);
  CHECK(idle->progress.docsPushed == 0);
  CHECK(idle->progress.docsPulled == 0);
}

TEST_CASE(
    "Sync: a peer that goes away makes it offline with the error and a backoff; networkChanged(true) "
    "reconnects at once",
    "[sync][remote]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  putLocal(*db, R"({"_id":"first"})");
  auto options = quick();
  options.minBackoff = 30s;  // longer than the test: only networkChanged(true) can bring it back in time
  options.maxBackoff = 60s;
  const int threadsBefore = threadCount();
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), options);
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  REQUIRE(rec.waitState(SyncState::Idle));

  auto mark = rec.mark();
  peer.kill9();
  auto offline = rec.waitState(SyncState::Offline, mark, 10s);
  REQUIRE(offline);
  CHECK_FALSE(offline->lastError.isOk());
  INFO(offline->lastError.reason());
  const auto now = uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  CHECK(offline->nextRetryMicros >= now + 20'000'000);  // at least minBackoff, less the time since
  CHECK(sync.status().state == SyncState::Offline);
  // Backing off costs nothing: no connection to the peer's port stays open, no replication runs.
  CHECK(connectionsTo(peer.port()) == 0);
  CHECK(threadCount() == threadsBefore + 1);

  // Told offline while backing off: no try is due any more, only the app's word brings it back.
  mark = rec.mark();
  sync.networkChanged(false);
  REQUIRE(rec.waitStatus(
      [](const SyncStatus& s) { return s.state == SyncState::Offline && s.nextRetryMicros == 0; }, mark, 5s));

  peer.start();
  putLocal(*db, R"({"_id":"while-away"})");
  mark = rec.mark();
  const auto told = std::chrono::steady_clock::now();
  sync.networkChanged(true);
  auto idle = rec.waitState(SyncState::Idle, mark, 15s);
  REQUIRE(idle);
  CHECK(std::chrono::steady_clock::now() - told < 10s);  // well before the 30 s backoff
  CHECK(idle->lastError.isOk());
  CHECK(peerHas(peer, "shared", "while-away"));
}

TEST_CASE("Sync: networkChanged(false) stops every request until networkChanged(true)", "[sync][remote]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  const int threadsBefore = threadCount();
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), quick());
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  REQUIRE(rec.waitState(SyncState::Idle));
  CHECK(threadCount() > threadsBefore + 1);  // the replications' threads

  auto mark = rec.mark();
  sync.networkChanged(false);
  auto offline = rec.waitState(SyncState::Offline, mark, 5s);
  REQUIRE(offline);
  CHECK(offline->nextRetryMicros == 0);  // waits for the app's word, not for a time
  REQUIRE(peer("PUT", "/shared/meanwhile", "{}").status == 201);
  putLocal(*db, R"({"_id":"local-meanwhile"})");
  // Nothing asks the peer: its write does not arrive, the local one does not leave, no connection is open.
  std::this_thread::sleep_for(1500ms);
  CHECK_FALSE(db->get("meanwhile"));
  CHECK_FALSE(peerHas(peer, "shared", "local-meanwhile"));
  CHECK(connectionsTo(peer.port()) == 0);
  CHECK(threadCount() == threadsBefore + 1);  // the Sync's own, waiting; no replication runs
  CHECK(sync.status().state == SyncState::Offline);

  mark = rec.mark();
  sync.networkChanged(true);
  REQUIRE(rec.waitState(SyncState::Idle, mark, 15s));
  CHECK(db->get("meanwhile"));
  CHECK(peerHas(peer, "shared", "local-meanwhile"));
}

TEST_CASE("Sync: priority documents go before the others pending with them, both ways", "[sync][remote]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  // Written first, so without priority they would be sent first.
  for (int i = 0; i < 300; ++i) putLocal(*db, R"({"_id":"photo)" + std::to_string(i) + R"("})");
  for (int i = 0; i < 5; ++i) putLocal(*db, R"({"_id":"confirm)" + std::to_string(i) + R"(","urgent":true})");
  auto options = quick();
  options.prioritySelector = R"({"urgent":true})";
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), options);
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  REQUIRE(rec.waitState(SyncState::Idle, 0, 30s));
  auto order = changesOrder(peer, "shared");
  REQUIRE(order.size() == 305);
  for (int i = 0; i < 5; ++i) CHECK(order[i].rfind("confirm", 0) == 0);
  sync.stop();

  // Pull: the same first-things-first from a peer that has the others first in its own order.
  REQUIRE(peer("PUT", "/field").status == 201);
  std::string photos = R"({"docs":[)";
  for (int i = 0; i < 300; ++i)
    photos += (i ? "," : "") + std::string(R"({"_id":"photo)") + std::to_string(i) + R"("})";
  REQUIRE(peer("POST", "/field/_bulk_docs", photos + "]}").status == 201);
  for (int i = 0; i < 5; ++i)
    REQUIRE(peer("PUT", "/field/confirm" + std::to_string(i), R"({"urgent":true})").status == 201);
  REQUIRE(changesOrder(peer, "field").front() == "photo0");
  TempDir dir2;
  auto device = openDb(dir2, "device");
  Recorder rec2;
  Sync pull(device, peerUrl(peer, "field"), options);
  rec2.attach(pull);
  REQUIRE(pull.start().isOk());
  REQUIRE(rec2.waitState(SyncState::Idle, 0, 30s));
  std::vector<std::string> local;
  REQUIRE(device->changes({}, [&](const Change& c) {
    local.push_back(c.id);
    return true;
  }));
  REQUIRE(local.size() == 305);
  for (int i = 0; i < 5; ++i) CHECK(local[i].rfind("confirm", 0) == 0);
}

TEST_CASE("Sync: push and pull selectors and pull ids choose what travels", "[sync][remote]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  REQUIRE(peer("PUT", "/shared/in-blue", R"({"color":"blue"})").status == 201);
  REQUIRE(peer("PUT", "/shared/in-red", R"({"color":"red"})").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  putLocal(*db, R"({"_id":"out-public","public":true})");
  putLocal(*db, R"({"_id":"out-private","public":false})");
  auto options = quick();
  options.pushSelector = R"({"public":true})";
  options.pullSelector = R"({"color":"blue"})";
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), options);
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  REQUIRE(rec.waitState(SyncState::Idle));
  CHECK(peerHas(peer, "shared", "out-public"));
  CHECK_FALSE(peerHas(peer, "shared", "out-private"));
  CHECK(db->get("in-blue"));
  CHECK_FALSE(db->get("in-red"));
  sync.stop();

  TempDir dir2;
  auto db2 = openDb(dir2);
  SyncOptions byId = quick();
  byId.pullDocIds = {"in-red"};
  Recorder rec2;
  Sync second(db2, peerUrl(peer, "shared"), byId);
  rec2.attach(second);
  REQUIRE(second.start().isOk());
  REQUIRE(rec2.waitState(SyncState::Idle));
  CHECK(db2->get("in-red"));
  CHECK_FALSE(db2->get("in-blue"));

  // A selector that is not JSON is refused at start, before anything runs.
  SyncOptions bad = quick();
  bad.pushSelector = "{not json";
  Sync refused(db2, peerUrl(peer, "shared"), bad);
  CHECK(refused.start().code() == ErrorCode::BadRequest);
  Sync badUrl(db2, "ftp://example.com/db", quick());
  CHECK(badUrl.start().code() == ErrorCode::BadRequest);
}

TEST_CASE("Sync: a document the peer refuses is counted and the rest still syncs", "[sync][remote]") {
  LiveServer peer("[admins]\nadmin = s3cret\n");
  const std::pair<std::string, std::string> admin{"Authorization", "Basic YWRtaW46czNjcmV0"};  // admin:s3cret
  REQUIRE(peer("PUT", "/_users/org.couchdb.user:bob",
               R"({"name":"bob","password":"bobpw","roles":[],"type":"user"})", {admin})
              .status == 201);
  REQUIRE(peer("PUT", "/shared", "", {admin}).status == 201);
  REQUIRE(peer("PUT", "/shared/_security", R"({"members":{"names":["bob"]},"admins":{}})", {admin}).status ==
          200);
  TempDir dir;
  auto db = openDb(dir);
  putLocal(*db, R"({"_id":"_design/app","language":"javascript"})");  // only a database admin may write it
  putLocal(*db, R"({"_id":"note"})");
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared", "bob:bobpw"), quick());
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  auto idle = rec.waitState(SyncState::Idle);
  REQUIRE(idle);
  CHECK(idle->progress.pushFailures == 1);
  CHECK(idle->progress.docsPushed == 1);
  CHECK(peer("GET", "/shared/note", "", {admin}).status == 200);
  CHECK(peer("GET", "/shared/_design/app", "", {admin}).status == 404);
}
