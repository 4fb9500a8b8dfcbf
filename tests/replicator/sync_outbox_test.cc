// Sync (settee/sync.h) with the database's per-peer bookkeeping: document events, the outbox (pending),
// refusals (failed, with the peer's reason), the second phase on a metered network, the last sync time
// kept across restarts, conflicts and their resolution by policy, and progress told at most 4 times a
// second. Against a real `settee serve` peer.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "live_server.h"
#include "settee/database.h"
#include "settee/sync.h"
#include "sync_test_support.h"

using namespace settee;
using namespace std::chrono_literals;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::TempDir;
using namespace settee::test::sync_support;

namespace {

size_t countEvents(const std::vector<DocEvent>& events, DocEventKind kind) {
  return size_t(
      std::count_if(events.begin(), events.end(), [&](const DocEvent& e) { return e.kind == kind; }));
}

SyncOptions quick() {
  SyncOptions o;
  o.minBackoff = 200ms;
  o.maxBackoff = 2000ms;
  o.heartbeat = 1000ms;
  o.timeout = 5000ms;
  return o;
}

// An attachment of `bytes` bytes ('A's), inline as base64.
std::string withAttachment(const std::string& id, size_t bytes) {
  std::string data;
  for (size_t i = 0; i < bytes / 3; ++i) data += "QUFB";
  return R"({"_id":")" + id +
         R"(","_attachments":{"photo.bin":{"content_type":"application/octet-stream","data":")" + data +
         R"("}}})";
}

}  // namespace

TEST_CASE("Sync: every document pushed and pulled is told as an event, and the outbox empties",
          "[sync][remote][outbox]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  for (int i = 0; i < 5; ++i) REQUIRE(peer("PUT", "/shared/in" + std::to_string(i), "{}").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  for (int i = 0; i < 7; ++i) putLocal(*db, R"({"_id":"out)" + std::to_string(i) + R"("})");
  // Registered: every local document is pending for the peer until it confirms it.
  REQUIRE(db->registerSyncPeer(syncPeerKey(peerUrl(peer, "shared"))).isOk());
  auto before = db->syncCounts(syncPeerKey(peerUrl(peer, "shared")));
  REQUIRE(before);
  CHECK(before->pending == 7);
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), quick());
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  auto idle = rec.waitState(SyncState::Idle);
  REQUIRE(idle);
  auto events = rec.events();
  CHECK(countEvents(events, DocEventKind::Pushed) == 7);
  CHECK(countEvents(events, DocEventKind::Pulled) == 5);
  CHECK(countEvents(events, DocEventKind::Failed) == 0);
  for (const auto& e : events) CHECK(!e.rev.empty());
  auto after = sync.counts();
  REQUIRE(after);
  CHECK(after->pending == 0);  // pulled documents came from the peer: never pending for it
  CHECK(after->lastSyncMicros == idle->lastSyncMicros);
  CHECK(idle->counts.pending == 0);
  auto state = sync.documentState("out3");
  REQUIRE(state);
  CHECK(state->state == DocSyncState::Synced);
}

TEST_CASE("Sync: writes made offline wait in the outbox and leave when the network returns",
          "[sync][remote][outbox]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), quick());
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  REQUIRE(rec.waitState(SyncState::Idle));
  auto mark = rec.mark();
  sync.networkChanged(false);
  REQUIRE(rec.waitState(SyncState::Offline, mark));
  for (int i = 0; i < 4; ++i) putLocal(*db, R"({"_id":"offline)" + std::to_string(i) + R"("})");
  CHECK(sync.status().counts.pending == 4);
  auto pending = sync.documents(DocSyncState::Pending);
  REQUIRE(pending);
  REQUIRE(pending->size() == 4);
  CHECK((*pending)[0].id == "offline0");
  mark = rec.mark();
  sync.networkChanged(true);
  REQUIRE(rec.waitState(SyncState::Idle, mark));
  CHECK(sync.status().counts.pending == 0);
  CHECK(peerHas(peer, "shared", "offline3"));
}

TEST_CASE("Sync: a document the peer refuses is failed with the peer's reason, and the rest still syncs",
          "[sync][remote][outbox]") {
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
  for (int i = 0; i < 3; ++i) putLocal(*db, R"({"_id":"note)" + std::to_string(i) + R"("})");
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared", "bob:bobpw"), quick());
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  auto failed = rec.waitEvent(DocEventKind::Failed, "_design/app");
  REQUIRE(failed);
  CHECK(failed->error.code() == ErrorCode::Unauthorized);
  CHECK(failed->error.reason() == "You are not a db or server admin.");
  auto idle = rec.waitState(SyncState::Idle);
  REQUIRE(idle);
  CHECK(idle->lastError.isOk());  // a refused document is not a failure of the sync
  CHECK(idle->counts.failed == 1);
  CHECK(idle->counts.pending == 0);
  auto state = sync.documentState("_design/app");
  REQUIRE(state);
  CHECK(state->state == DocSyncState::Failed);
  CHECK(state->failure.reason() == "You are not a db or server admin.");
  for (int i = 0; i < 3; ++i)
    CHECK(peer("GET", "/shared/note" + std::to_string(i), "", {admin}).status == 200);
}

TEST_CASE("Sync: a document with large attachments waits while metered and follows when not",
          "[sync][remote][outbox]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  putLocal(*db, withAttachment("big", 30000));
  putLocal(*db, R"({"_id":"small"})");
  auto options = quick();
  options.largeAttachmentBytes = 10000;
  options.metered = true;
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), options);
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  auto idle = rec.waitState(SyncState::Idle);
  REQUIRE(idle);
  CHECK(peerHas(peer, "shared", "small"));
  CHECK_FALSE(peerHas(peer, "shared", "big"));
  CHECK(idle->counts.pending == 1);  // the big one is still in the outbox
  CHECK(idle->lastSyncMicros == 0);  // not complete while the second phase is held
  auto state = sync.documentState("big");
  REQUIRE(state);
  CHECK(state->pending);

  auto mark = rec.mark();
  sync.setMetered(false);
  auto complete = rec.waitState(SyncState::Idle, mark, 20s, true);
  REQUIRE(complete);
  CHECK(peerHas(peer, "shared", "big"));
  CHECK(complete->counts.pending == 0);
  CHECK(complete->lastSyncMicros > 0);
  Json att(peer("GET", "/shared/big").body);
  CHECK(att["_attachments"]["photo.bin"]["length"].get_uint64().value() == 30000);

  // Metered again: a new big document waits, a new small one does not.
  REQUIRE(peerHas(peer, "shared", "big"));
  sync.setMetered(true);
  mark = rec.mark();
  putLocal(*db, withAttachment("big2", 30000));
  putLocal(*db, R"({"_id":"small2"})");
  bool small2 = false;  // the peer's state: nothing to wait on but a poll
  for (int i = 0; i < 200 && !small2; ++i) {
    small2 = peerHas(peer, "shared", "small2");
    if (!small2) std::this_thread::sleep_for(50ms);
  }
  CHECK(small2);
  CHECK_FALSE(peerHas(peer, "shared", "big2"));
  CHECK(sync.status().counts.pending == 1);
}

TEST_CASE("Sync: the last sync time is kept by the database across restarts", "[sync][remote][outbox]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  uint64_t last = 0;
  {
    Recorder rec;
    Sync sync(db, peerUrl(peer, "shared"), quick());
    rec.attach(sync);
    REQUIRE(sync.start().isOk());
    auto idle = rec.waitState(SyncState::Idle);
    REQUIRE(idle);
    sync.stop();
    last = sync.status().lastSyncMicros;
    REQUIRE(last >= idle->lastSyncMicros);
    REQUIRE(last > 0);
  }
  auto counts = db->syncCounts(syncPeerKey(peerUrl(peer, "shared")));
  REQUIRE(counts);
  CHECK(counts->lastSyncMicros == last);
  Sync again(db, peerUrl(peer, "shared"), quick());
  again.networkChanged(false);  // not connected: the time comes from the database alone
  REQUIRE(again.start().isOk());
  CHECK(again.status().state == SyncState::Offline);
  CHECK(again.status().lastSyncMicros == last);
}

TEST_CASE("Sync: a conflict a pull brings is detected, and resolved by the policy on both sides",
          "[sync][remote][outbox][policy]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  REQUIRE(peer("PUT", "/shared/c", R"({"v":"peer","t":2})").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  putLocal(*db, R"({"_id":"c","v":"local","t":1})");
  auto options = quick();
  options.policy = ConflictPolicy::lastWriteWins("t");
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), options);
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  auto detected = rec.waitEvent(DocEventKind::ConflictDetected, "c");
  REQUIRE(detected);
  auto resolved = rec.waitEvent(DocEventKind::ConflictResolved, "c");
  REQUIRE(resolved);
  INFO(resolved->error.reason());
  REQUIRE(resolved->error.isOk());
  // The resolution is pushed like any edit: both sides end with the peer's body and no conflict.
  auto converged = [&] {
    // The loser's tombstone has arrived (before it, the peer may hold the loser live, or not yet at all).
    Json remote(peer("GET", "/shared/c?conflicts=true&deleted_conflicts=true").body);
    auto local = db->conflicts("c");
    return !remote.has("_conflicts") && remote.has("_deleted_conflicts") && local && local->empty() &&
           remote.str("v") == "peer";
  };
  bool done = false;  // the peer's state: nothing to wait on but a poll
  for (int i = 0; i < 200 && !(done = converged()); ++i) std::this_thread::sleep_for(50ms);
  CHECK(done);
  INFO("peer: "
       << peer("GET", "/shared/c?open_revs=all&revs=true", "", {{"Accept", "application/json"}}).body);
  INFO("events: " << [&] {
    std::string all;
    for (const auto& e : rec.events())
      if (e.id == "c") all += std::string(docEventName(e.kind)) + " " + e.rev + " " + e.error.reason() + "; ";
    return all;
  }());
  CHECK(Json(peer("GET", "/shared/c").body).str("_rev") == resolved->rev);
}

TEST_CASE("Sync: with the keep policy a pulled conflict is told and left for the app",
          "[sync][remote][outbox]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  REQUIRE(peer("PUT", "/shared/c", R"({"v":"peer"})").status == 201);
  TempDir dir;
  auto db = openDb(dir);
  putLocal(*db, R"({"_id":"c","v":"local"})");
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), quick());
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  REQUIRE(rec.waitEvent(DocEventKind::ConflictDetected, "c"));
  REQUIRE(rec.waitState(SyncState::Idle));
  CHECK(countEvents(rec.events(), DocEventKind::ConflictResolved) == 0);
  auto conflicts = db->conflicts("c");
  REQUIRE(conflicts);
  CHECK(conflicts->size() == 1);
  CHECK(sync.status().counts.conflicted == 1);
}

TEST_CASE("Sync: progress is told at most four times a second, with a docs/s rate",
          "[sync][remote][outbox]") {
  LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  std::string docs = R"({"docs":[)";
  for (int i = 0; i < 3000; ++i)
    docs += (i ? "," : "") + std::string(R"({"_id":"d)") + std::to_string(i) + R"("})";
  docs += "]}";
  REQUIRE(peer("POST", "/shared/_bulk_docs", docs).status == 201);
  TempDir dir;
  auto db = openDb(dir);
  auto options = quick();
  Recorder rec;
  Sync sync(db, peerUrl(peer, "shared"), options);
  rec.attach(sync);
  REQUIRE(sync.start().isOk());
  auto idle = rec.waitState(SyncState::Idle, 0, 60s);
  REQUIRE(idle);
  CHECK(idle->progress.docsPulled == 3000);
  auto statuses = rec.statuses();
  bool sawRate = false;
  for (size_t i = 1; i < statuses.size(); ++i) {
    if (statuses[i].second.progress.docsPerSecond > 0) sawRate = true;
    if (statuses[i].second.state != statuses[i - 1].second.state) continue;  // state changes are told at once
    CHECK(statuses[i].first - statuses[i - 1].first >= 240ms);
  }
  CHECK(sawRate);
}
