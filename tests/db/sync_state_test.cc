// The sync ledger (settee/sync_state.h): per-peer pending and failed documents kept in the write's own
// transaction, the conflicted documents, their counts after a reopen, and compaction keeping the bodies
// a merge needs while a peer has not confirmed a document.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "db/database_internal.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {

std::unique_ptr<Database> openDb(const std::string& path) {
  auto db = Database::open(path, "sync");
  REQUIRE(db);
  return std::move(*db);
}

std::string put(Database& db, const std::string& json) {
  auto r = db.put(json);
  REQUIRE(r);
  REQUIRE(r->status);
  return r->rev;
}

// A replicated revision of `id` (as a pull from `origin` writes it).
void pull(Database& db, const std::string& json, std::string_view origin) {
  auto& store = db::storeOf(db);
  std::vector<db::WriteOp> ops;
  ops.push_back(store.parse(json));
  auto results = store.write(ops, false, origin);
  REQUIRE(results.size() == 1);
  REQUIRE(results[0].status);
}

ReadOptions revision(const std::string& rev) {
  ReadOptions options;
  options.rev = rev;
  return options;
}

uint64_t seqOf(Database& db, const std::string& id) {
  uint64_t seq = 0;
  REQUIRE(db.changes({}, [&](const Change& c) {
    if (c.id == id) seq = c.seq;
    return true;
  }));
  return seq;
}

std::vector<std::string> ids(const std::vector<DocSyncEntry>& entries) {
  std::vector<std::string> out;
  for (auto& e : entries) out.push_back(e.id);
  return out;
}

int64_t scalar(const std::string& path, const char* query) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, query, -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  int64_t out = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  return out;
}

}  // namespace

TEST_CASE("SyncState: a local write is pending for every registered peer, a pulled one not for its origin",
          "[db][sync_state]") {
  TempDir dir;
  auto db = openDb(dir.file("a.settee"));
  REQUIRE(db->registerSyncPeer("http://a/db"));
  REQUIRE(db->registerSyncPeer("http://b/db"));
  CHECK(*db->syncPeers() == std::vector<std::string>{"http://a/db", "http://b/db"});

  put(*db, R"({"_id":"local","v":1})");
  pull(*db, R"({"_id":"fromA","_rev":"1-aaaa","_revisions":{"start":1,"ids":["aaaa"]}})", "http://a/db");

  auto a = *db->syncCounts("http://a/db");
  auto b = *db->syncCounts("http://b/db");
  CHECK(a.pending == 1);
  CHECK(b.pending == 2);
  CHECK(ids(*db->syncDocuments("http://a/db", DocSyncState::Pending, 10)) ==
        std::vector<std::string>{"local"});
  CHECK(ids(*db->syncDocuments("http://b/db", DocSyncState::Pending, 10)) ==
        std::vector<std::string>{"fromA", "local"});
  auto state = *db->docSyncState("http://a/db", "local");
  CHECK(state.state == DocSyncState::Pending);
  CHECK(state.seq == seqOf(*db, "local"));
  CHECK(db->docSyncState("http://a/db", "fromA")->state == DocSyncState::Synced);

  SECTION("a revision pulled from a peer leaves that peer's entry of an unconfirmed local edit as it was") {
    const uint64_t before = seqOf(*db, "local");
    pull(*db, R"({"_id":"local","_rev":"1-ffff","_revisions":{"start":1,"ids":["ffff"]}})", "http://a/db");
    auto again = *db->docSyncState("http://a/db", "local");
    CHECK(again.pending);
    CHECK(again.seq == before);
    CHECK(db->docSyncState("http://b/db", "local")->seq == seqOf(*db, "local"));
  }
  SECTION("paging goes on after the last id given") {
    CHECK(ids(*db->syncDocuments("http://b/db", DocSyncState::Pending, 1)) ==
          std::vector<std::string>{"fromA"});
    CHECK(ids(*db->syncDocuments("http://b/db", DocSyncState::Pending, 10, "fromA")) ==
          std::vector<std::string>{"local"});
  }
  SECTION("an unknown peer is not_found, not synced") {
    CHECK(db->syncCounts("http://c/db").status().code() == ErrorCode::NotFound);
    CHECK(db->docSyncState("http://c/db", "local").status().code() == ErrorCode::NotFound);
    CHECK(db->syncDocuments("http://c/db", DocSyncState::Pending, 10).status().code() == ErrorCode::NotFound);
  }
}

TEST_CASE(
    "SyncState: with no peer registered nothing is recorded, and a peer registered later has every "
    "document pending, deleted ones too",
    "[db][sync_state]") {
  TempDir dir;
  const std::string path = dir.file("a.settee");
  {
    auto db = openDb(path);
    put(*db, R"({"_id":"a"})");
    std::string rev = put(*db, R"({"_id":"gone"})");
    REQUIRE(db->remove("gone", rev));
  }
  CHECK(scalar(path, "SELECT count(*) FROM sync_docs") == 0);

  auto db = openDb(path);
  REQUIRE(db->registerSyncPeer("p"));
  CHECK(db->syncCounts("p")->pending == 2);
  // Registering again is a no-op: the outbox is not refilled.
  REQUIRE(db::storeOf(*db).confirmSynced("p", {{"a", seqOf(*db, "a")}}));
  REQUIRE(db->registerSyncPeer("p"));
  CHECK(db->syncCounts("p")->pending == 1);
  CHECK(ids(*db->syncDocuments("p", DocSyncState::Pending, 10)) == std::vector<std::string>{"gone"});
}

TEST_CASE("SyncState: a confirmation clears a document only up to the sequence the peer has",
          "[db][sync_state]") {
  TempDir dir;
  auto db = openDb(dir.file("a.settee"));
  auto& store = db::storeOf(*db);
  REQUIRE(db->registerSyncPeer("p"));
  std::string rev = put(*db, R"({"_id":"d","v":1})");
  const uint64_t first = seqOf(*db, "d");
  put(*db, R"({"_id":"d","_rev":")" + rev + R"(","v":2})");
  const uint64_t second = seqOf(*db, "d");

  REQUIRE(store.confirmSynced("p", {{"d", first}}));
  CHECK(db->docSyncState("p", "d")->pending);
  CHECK(db->syncCounts("p")->pending == 1);
  REQUIRE(store.confirmSynced("p", {{"d", second}}));
  CHECK(db->docSyncState("p", "d")->state == DocSyncState::Synced);
  CHECK(db->syncCounts("p")->pending == 0);
  CHECK(store.confirmSynced("q", {{"d", second}}).code() == ErrorCode::NotFound);
}

TEST_CASE("SyncState: a refused document is failed with the peer's reason until it changes again",
          "[db][sync_state]") {
  TempDir dir;
  auto db = openDb(dir.file("a.settee"));
  auto& store = db::storeOf(*db);
  REQUIRE(db->registerSyncPeer("p"));
  std::string rev = put(*db, R"({"_id":"d","v":1})");
  put(*db, R"({"_id":"other"})");
  const uint64_t seq = seqOf(*db, "d");

  REQUIRE(store.markSyncFailed("p", "d", seq, Status(ErrorCode::Forbidden, "only admins may write d")));
  auto state = *db->docSyncState("p", "d");
  CHECK(state.state == DocSyncState::Failed);
  CHECK(state.failed);
  CHECK_FALSE(state.pending);
  CHECK(state.failure.code() == ErrorCode::Forbidden);
  CHECK(state.failure.reason() == "only admins may write d");
  auto counts = *db->syncCounts("p");
  CHECK(counts.failed == 1);
  CHECK(counts.pending == 1);
  auto failed = *db->syncDocuments("p", DocSyncState::Failed, 10);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].id == "d");
  CHECK(std::string(failed[0].failure.error()) == "forbidden");
  CHECK(ids(*db->syncDocuments("p", DocSyncState::Pending, 10)) == std::vector<std::string>{"other"});

  // Another change: pending again, and a late refusal of the old sequence does not fail the new one.
  put(*db, R"({"_id":"d","_rev":")" + rev + R"(","v":2})");
  REQUIRE(store.markSyncFailed("p", "d", seq, Status(ErrorCode::TooLarge, "too big")));
  state = *db->docSyncState("p", "d");
  CHECK(state.state == DocSyncState::Pending);
  CHECK(state.seq == seqOf(*db, "d"));
  counts = *db->syncCounts("p");
  CHECK(counts.failed == 0);
  CHECK(counts.pending == 2);
}

TEST_CASE("SyncState: counts after a reopen equal what the file holds, as they were before closing",
          "[db][sync_state]") {
  TempDir dir;
  const std::string path = dir.file("a.settee");
  SyncCounts before;
  {
    auto db = openDb(path);
    auto& store = db::storeOf(*db);
    REQUIRE(db->registerSyncPeer("p"));
    std::vector<std::string> docs;
    for (int i = 0; i < 50; ++i) docs.push_back(R"({"_id":"d)" + std::to_string(i) + R"("})");
    std::vector<std::string_view> views(docs.begin(), docs.end());
    for (auto& r : db->bulkDocs(views)) REQUIRE(r.status);
    std::vector<std::pair<std::string, uint64_t>> confirmed;
    for (int i = 0; i < 20; ++i)
      confirmed.emplace_back("d" + std::to_string(i), seqOf(*db, "d" + std::to_string(i)));
    REQUIRE(store.confirmSynced("p", confirmed));
    for (int i = 20; i < 25; ++i)
      REQUIRE(store.markSyncFailed("p", "d" + std::to_string(i), seqOf(*db, "d" + std::to_string(i)),
                                   Status(ErrorCode::Unauthorized, "who are you")));
    REQUIRE(store.setLastSync("p", 1234));
    // The last write, then nothing else before the file is closed.
    put(*db, R"({"_id":"last"})");
    before = *db->syncCounts("p");
  }
  CHECK(before.pending == 26);
  CHECK(before.failed == 5);
  CHECK(scalar(path, "SELECT count(*) FROM sync_docs WHERE failed_error IS NULL") == 26);
  CHECK(scalar(path, "SELECT count(*) FROM sync_docs WHERE failed_error IS NOT NULL") == 5);
  auto db = openDb(path);
  auto after = *db->syncCounts("p");
  CHECK(after.pending == before.pending);
  CHECK(after.failed == before.failed);
  CHECK(after.lastSyncMicros == 1234);
  // Writes after the reopen are recorded (the peer list is read from the file again).
  put(*db, R"({"_id":"next"})");
  CHECK(db->syncCounts("p")->pending == 27);
}

TEST_CASE("SyncState: after kill -9 mid-write the outbox count is every document written, as the file holds",
          "[db][sync_state][crash]") {
  TempDir dir;
  const std::string path = dir.file("a.settee");
  {
    auto db = openDb(path);
    REQUIRE(db->registerSyncPeer("p"));
  }
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    auto db = Database::open(path, "sync");
    if (!db) _exit(3);
    for (int batch = 0;; ++batch) {
      std::vector<std::string> docs;
      for (int i = 0; i < 20; ++i)
        docs.push_back(R"({"_id":"b)" + std::to_string(batch) + "-" + std::to_string(i) + "\"}");
      std::vector<std::string_view> views(docs.begin(), docs.end());
      for (auto& r : (*db)->bulkDocs(views))
        if (!r.status) _exit(4);
      if (write(fds[1], &batch, sizeof batch) != sizeof batch) _exit(5);
    }
  }
  close(fds[1]);
  int acked = -1;
  for (int i = 0; i < 5; ++i) REQUIRE(read(fds[0], &acked, sizeof acked) == sizeof acked);
  std::this_thread::sleep_for(std::chrono::milliseconds(7));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  while (read(fds[0], &acked, sizeof acked) == sizeof acked) {
  }
  close(fds[0]);

  auto db = openDb(path);
  const uint64_t docs = db->info()->docCount;
  CHECK(docs >= static_cast<uint64_t>(20 * (acked + 1)));
  CHECK(db->syncCounts("p")->pending == docs);
  CHECK(ids(*db->syncDocuments("p", DocSyncState::Pending, 100000)).size() == docs);
}

TEST_CASE(
    "SyncState: a document is conflicted while it has live losing leaves: replicated conflicts, "
    "resolution and purge",
    "[db][sync_state]") {
  TempDir dir;
  auto db = openDb(dir.file("a.settee"));
  REQUIRE(db->registerSyncPeer("p"));
  put(*db, R"({"_id":"plain"})");
  REQUIRE(
      db->put(R"({"_id":"c","_rev":"1-aaaa","_revisions":{"start":1,"ids":["aaaa"]}})", {.newEdits = false}));
  CHECK(db->conflictedDocuments(10)->empty());
  REQUIRE(
      db->put(R"({"_id":"c","_rev":"1-bbbb","_revisions":{"start":1,"ids":["bbbb"]}})", {.newEdits = false}));
  CHECK(*db->conflictedDocuments(10) == std::vector<std::string>{"c"});
  CHECK(db->syncCounts("p")->conflicted == 1);
  auto state = *db->docSyncState("p", "c");
  CHECK(state.conflicted);
  CHECK(state.pending);
  CHECK(state.state == DocSyncState::Conflicted);
  CHECK(ids(*db->syncDocuments("p", DocSyncState::Conflicted, 10)) == std::vector<std::string>{"c"});

  SECTION("a resolution ends it, and is pending for the peer") {
    REQUIRE(db::storeOf(*db).confirmSynced("p", {{"c", seqOf(*db, "c")}}));
    REQUIRE(db->resolveConflicts("c", "1-bbbb"));
    CHECK(db->conflictedDocuments(10)->empty());
    CHECK(db->syncCounts("p")->conflicted == 0);
    CHECK(db->docSyncState("p", "c")->state == DocSyncState::Pending);
  }
  SECTION("a losing leaf deleted by an edit ends it") {
    REQUIRE(db->remove("c", "1-aaaa"));
    CHECK(db->conflictedDocuments(10)->empty());
  }
  SECTION("a purge of the losing leaf ends it; a purge of the whole document drops its entries") {
    auto& store = db::storeOf(*db);
    REQUIRE(store.purge({{"c", {"1-aaaa"}}}));
    CHECK(db->conflictedDocuments(10)->empty());
    REQUIRE(db->put(R"({"_id":"c","_rev":"1-cccc","_revisions":{"start":1,"ids":["cccc"]}})",
                    {.newEdits = false}));
    CHECK(*db->conflictedDocuments(10) == std::vector<std::string>{"c"});
    REQUIRE(store.purge({{"c", {"1-bbbb", "1-cccc"}}}));
    CHECK(db->conflictedDocuments(10)->empty());
    CHECK(db->docSyncState("p", "c")->state == DocSyncState::Synced);
    CHECK(db->syncCounts("p")->pending == 1);
  }
}

TEST_CASE(
    "SyncState: compaction keeps the inner bodies of a document a peer has not confirmed, and drops "
    "them once it has",
    "[db][sync_state]") {
  TempDir dir;
  auto db = openDb(dir.file("a.settee"));
  REQUIRE(db->registerSyncPeer("p"));
  std::string first = put(*db, R"({"_id":"d","v":1})");
  put(*db, R"({"_id":"d","_rev":")" + first + R"(","v":2})");
  std::string other = put(*db, R"({"_id":"other","v":1})");
  put(*db, R"({"_id":"other","_rev":")" + other + R"(","v":2})");
  REQUIRE(db::storeOf(*db).confirmSynced("p", {{"other", seqOf(*db, "other")}}));

  REQUIRE(db->compact());
  auto ancestor = db->get("d", revision(first));
  REQUIRE(ancestor);
  CHECK(Json(*ancestor)["v"].get_int64().value() == 1);
  CHECK_FALSE(db->get("other", revision(other)));  // confirmed: compacted as before

  REQUIRE(db::storeOf(*db).confirmSynced("p", {{"d", seqOf(*db, "d")}}));
  REQUIRE(db->compact());
  CHECK_FALSE(db->get("d", revision(first)));
}

TEST_CASE("SyncState: a version 3 file gets the ledger, its conflicted documents listed, and no peer",
          "[db][sync_state][migration]") {
  TempDir dir;
  const std::string path = dir.file("old.settee");
  {
    auto db = openDb(path);
    put(*db, R"({"_id":"plain"})");
    REQUIRE(db->put(R"({"_id":"c","_rev":"1-aaaa","_revisions":{"start":1,"ids":["aaaa"]}})",
                    {.newEdits = false}));
    REQUIRE(db->put(R"({"_id":"c","_rev":"1-bbbb","_revisions":{"start":1,"ids":["bbbb"]}})",
                    {.newEdits = false}));
  }
  {
    // Back to version 3's layout: no ledger tables.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw,
                         "BEGIN; DROP TABLE sync_docs; DROP TABLE sync_peers; DROP TABLE sync_conflicts;"
                         "UPDATE meta SET value = 3 WHERE key = 'schema_version'; COMMIT;",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  {
    auto db = openDb(path);
    CHECK(*db->conflictedDocuments(10) == std::vector<std::string>{"c"});
    CHECK(db->syncCounts("p").status().code() == ErrorCode::NotFound);
    CHECK(db->syncPeers()->empty());
    REQUIRE(db->registerSyncPeer("p"));
    CHECK(db->syncCounts("p")->pending == 2);
    CHECK(db->syncCounts("p")->conflicted == 1);
  }
  CHECK(scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == 4);
}
