// The replicator's sync hooks (ReplicationOptions::syncPeer, onDocuments, maxAttachmentBytes) between
// databases in this process: a push confirms what the target took and marks what it refused, a pull
// does not make its revisions pending for the peer they came from, every batch reports its documents,
// and large attachments can wait for a replication of their own.
#include <catch2/catch.hpp>
#include <mutex>

#include "settee/database.h"
#include "settee/replicator.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {

std::shared_ptr<Database> openDb(const TempDir& dir, const std::string& name) {
  auto db = Database::open(dir.file(name + ".settee"), name);
  REQUIRE(db);
  return std::shared_ptr<Database>(std::move(*db));
}

void put(Database& db, const std::string& json) {
  auto r = db.put(json);
  REQUIRE(r);
  REQUIRE(r->status);
}

const char* kPeer = "http://peer.example/db";

}  // namespace

TEST_CASE("Sync hooks: a push with syncPeer confirms what the target took and marks what it refused",
          "[repl][sync_hooks]") {
  TempDir dir;
  auto source = openDb(dir, "source");
  auto target = openDb(dir, "target");
  for (int i = 0; i < 30; ++i) put(*source, R"({"_id":"doc)" + std::to_string(i) + R"("})");
  put(*source, R"({"_id":"secret"})");

  // The target's writer may not write `secret`, as a validation function would refuse it.
  auto access = std::make_shared<LocalAccess>();
  access->write = [](std::string_view id) {
    return id == "secret" ? Status(ErrorCode::Forbidden, "secret is not yours") : Status::ok();
  };
  ReplicationOptions options;
  options.syncPeer = kPeer;
  options.batchSize = 7;
  std::mutex mu;
  std::vector<DocOutcome> outcomes;
  options.onDocuments = [&](const std::vector<DocOutcome>& batch) {
    std::lock_guard lock(mu);
    outcomes.insert(outcomes.end(), batch.begin(), batch.end());
  };
  Replication rep(ReplicationPeer::local(source), ReplicationPeer::local(target, access), options);
  REQUIRE(rep.run().isOk());

  // Registered at start: every document was pending; now only the refused one is left, failed.
  auto counts = *source->syncCounts(kPeer);
  CHECK(counts.pending == 0);
  CHECK(counts.failed == 1);
  auto state = *source->docSyncState(kPeer, "secret");
  CHECK(state.state == DocSyncState::Failed);
  CHECK(state.failure.code() == ErrorCode::Forbidden);
  CHECK(state.failure.reason() == "secret is not yours");
  CHECK(source->docSyncState(kPeer, "doc3")->state == DocSyncState::Synced);

  // One outcome per document: the revision written, or the refusal.
  REQUIRE(outcomes.size() == 31);
  for (const DocOutcome& o : outcomes) {
    if (o.id == "secret") {
      CHECK(o.status.code() == ErrorCode::Forbidden);
      CHECK(o.revs.empty());
    } else {
      CHECK(o.status);
      CHECK(o.revs.size() == 1);
      CHECK_FALSE(o.seq.empty());
    }
  }

  SECTION("a change after the push is pending again, and the next push confirms it") {
    auto doc = Json(*source->get("doc3"));
    put(*source, R"({"_id":"doc3","_rev":")" + doc.str("_rev") + R"(","v":2})");
    CHECK(source->syncCounts(kPeer)->pending == 1);
    outcomes.clear();
    Replication again(ReplicationPeer::local(source), ReplicationPeer::local(target, access), options);
    REQUIRE(again.run().isOk());
    CHECK(source->syncCounts(kPeer)->pending == 0);
    CHECK(source->syncCounts(kPeer)->failed == 1);
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].id == "doc3");
  }
}

TEST_CASE("Sync hooks: what a pull with syncPeer writes is not pending for that peer, a local edit is",
          "[repl][sync_hooks]") {
  TempDir dir;
  auto remote = openDb(dir, "remote");
  auto local = openDb(dir, "local");
  put(*remote, R"({"_id":"fromPeer"})");
  REQUIRE(local->registerSyncPeer(kPeer));
  put(*local, R"({"_id":"mine"})");

  ReplicationOptions options;
  options.syncPeer = kPeer;
  REQUIRE(Replication(ReplicationPeer::local(remote), ReplicationPeer::local(local), options).run().isOk());
  REQUIRE(local->get("fromPeer"));
  CHECK(local->docSyncState(kPeer, "fromPeer")->state == DocSyncState::Synced);
  CHECK(local->docSyncState(kPeer, "mine")->state == DocSyncState::Pending);
  CHECK(local->syncCounts(kPeer)->pending == 1);
}

TEST_CASE(
    "Sync hooks: maxAttachmentBytes leaves a document with large new attachments for a replication "
    "without the limit",
    "[repl][sync_hooks]") {
  TempDir dir;
  auto source = openDb(dir, "source");
  auto target = openDb(dir, "target");
  put(*source, R"({"_id":"small","_attachments":{"a.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})");
  std::string b64;  // 3,000 bytes of "x"
  for (int i = 0; i < 1000; ++i) b64 += "eHh4";
  put(*source, R"({"_id":"big","_attachments":{"b.bin":{"content_type":"application/octet-stream","data":")" +
                   b64 + R"("}}})");
  put(*source, R"({"_id":"plain"})");

  ReplicationOptions limited;
  limited.maxAttachmentBytes = 1000;
  limited.syncPeer = kPeer;
  Replication first(ReplicationPeer::local(source), ReplicationPeer::local(target), limited);
  REQUIRE(first.run().isOk());
  CHECK(first.stats().docsSkipped == 1);
  CHECK(first.stats().docWriteFailures == 0);
  CHECK(target->get("small"));
  CHECK(target->get("plain"));
  CHECK_FALSE(target->get("big"));
  // Not sent, not refused: still pending.
  CHECK(source->docSyncState(kPeer, "big")->state == DocSyncState::Pending);
  CHECK(source->syncCounts(kPeer)->pending == 1);

  ReplicationOptions unlimited;
  unlimited.syncPeer = kPeer;
  Replication second(ReplicationPeer::local(source), ReplicationPeer::local(target), unlimited);
  REQUIRE(second.run().isOk());
  CHECK(second.id() != first.id());
  CHECK(second.stats().docsSkipped == 0);
  auto att = target->getAttachment("big", "b.bin");
  REQUIRE(att);
  CHECK(att->data.size() == 3000);
  CHECK(source->syncCounts(kPeer)->pending == 0);
}
