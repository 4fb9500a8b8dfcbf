// A push to a peer whose max_document_size one document is over. The peer (a real `settee serve`, as
// CouchDB 3.4 does) answers the whole _bulk_docs 413 for it; the replicator splits the batch, as
// CouchDB's does, until that document is alone: it is a write failure (refused too_large with the
// peer's reason, failed in the sync ledger) and every other document is written and confirmed.
#include <catch2/catch.hpp>
#include <mutex>

#include "live_server.h"
#include "settee/database.h"
#include "settee/replicator.h"

using namespace settee;
using settee::test::LiveServer;
using settee::test::TempDir;

namespace {

void put(Database& db, const std::string& json) {
  auto r = db.put(json);
  REQUIRE(r);
  REQUIRE(r->status);
}

}  // namespace

TEST_CASE(
    "Replication over HTTP: a document over the peer's max_document_size fails alone, the rest are written",
    "[repl][remote][too_large]") {
  LiveServer peer("[couchdb]\nmax_document_size = 4096\n");
  REQUIRE(peer("PUT", "/dst").status == 201);
  const std::string target = "http://127.0.0.1:" + std::to_string(peer.port()) + "/dst";

  TempDir dir;
  auto opened = Database::open(dir.file("source.settee"), "source");
  REQUIRE(opened);
  std::shared_ptr<Database> source(std::move(*opened));
  for (int i = 0; i < 25; ++i) put(*source, R"({"_id":"before)" + std::to_string(i) + R"("})");
  put(*source, R"({"_id":"huge","text":")" + std::string(20000, 'x') + R"("})");
  for (int i = 0; i < 25; ++i) put(*source, R"({"_id":"after)" + std::to_string(i) + R"("})");

  ReplicationOptions options;
  options.syncPeer = target;
  std::mutex mu;
  std::vector<DocOutcome> outcomes;
  options.onDocuments = [&](const std::vector<DocOutcome>& batch) {
    std::lock_guard lock(mu);
    outcomes.insert(outcomes.end(), batch.begin(), batch.end());
  };
  Replication rep(ReplicationPeer::local(source), ReplicationPeer::remote(target), options);
  Status st = rep.run();
  INFO(st.reason());
  REQUIRE(st.isOk());
  CHECK(rep.stats().docsWritten == 50);
  CHECK(rep.stats().docWriteFailures == 1);
  CHECK(peer("GET", "/dst/before0").status == 200);
  CHECK(peer("GET", "/dst/after24").status == 200);
  CHECK(peer("GET", "/dst/huge").status == 404);

  REQUIRE(outcomes.size() == 51);
  for (const DocOutcome& o : outcomes) {
    INFO(o.id);
    if (o.id == "huge") {
      CHECK(o.status.code() == ErrorCode::TooLarge);
      CHECK(std::string(o.status.error()) == "too_large");
      CHECK(o.status.reason().find("max_document_size") != std::string::npos);
      CHECK(o.revs.empty());
    } else {
      CHECK(o.status);
      CHECK(o.revs.size() == 1);
    }
  }

  auto state = source->docSyncState(target, "huge");
  REQUIRE(state);
  CHECK(state->state == DocSyncState::Failed);
  CHECK(state->failure.code() == ErrorCode::TooLarge);
  CHECK(state->failure.reason().find("max_document_size") != std::string::npos);
  auto counts = source->syncCounts(target);
  REQUIRE(counts);
  CHECK(counts->pending == 0);
  CHECK(counts->failed == 1);
  CHECK(source->docSyncState(target, "after3")->state == DocSyncState::Synced);
}
