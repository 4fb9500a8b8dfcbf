// Schema migration: a file written by an older Settee opens, is brought to the current schema in one
// transaction, and keeps every document, conflict leaf and attachment.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {

void sql(sqlite3* db, const char* text) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, text, nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  REQUIRE(rc == SQLITE_OK);
}

std::string scalar(const std::string& path, const char* query) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, query, -1, &stmt, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(stmt) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

}  // namespace

TEST_CASE("Migration: a schema version 1 file opens with every revision and attachment", "[db][migration]") {
  TempDir dir;
  const std::string path = dir.file("old.settee");
  std::string winner;
  {
    auto db = std::move(*Database::open(path, "old"));
    REQUIRE(db->put(R"({"_id":"plain","v":1})"));
    REQUIRE(db->put(R"({"_id":"att","_attachments":{"a.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})"));
    // Two leaves of one document, written as a replicator would.
    REQUIRE(db->put(R"({"_id":"c","_rev":"1-aaaa","_revisions":{"start":1,"ids":["aaaa"]},"side":"a"})", {.newEdits = false}));
    REQUIRE(db->put(R"({"_id":"c","_rev":"1-bbbb","_revisions":{"start":1,"ids":["bbbb"]},"side":"b"})", {.newEdits = false}));
  }
  {
    // Rewrite the file into version 1's layout: revision bodies in a WITHOUT ROWID table.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    sql(raw,
        "BEGIN;"
        "CREATE TABLE revs_v1(doc_id TEXT NOT NULL, rev TEXT NOT NULL, atts TEXT, body BLOB NOT NULL,"
        "  PRIMARY KEY(doc_id, rev)) WITHOUT ROWID;"
        "INSERT INTO revs_v1 SELECT doc_id, rev, atts, body FROM revs;"
        "DROP TABLE revs; ALTER TABLE revs_v1 RENAME TO revs;"
        "UPDATE meta SET value = 1 WHERE key = 'schema_version';"
        "COMMIT;");
    sqlite3_close(raw);
    REQUIRE(scalar(path, "SELECT sql FROM sqlite_schema WHERE name = 'revs'").find("WITHOUT ROWID") != std::string::npos);
  }

  auto db = std::move(*Database::open(path, "old"));
  CHECK(db->info()->docCount == 3);
  Json plain(*db->get("plain"));
  CHECK(plain["v"].get_int64().value() == 1);
  Attachment att = *db->getAttachment("att", "a.txt");
  CHECK(att.data == "hello");
  auto leaves = *db->getOpenRevs("c", {});
  CHECK(leaves.size() == 2);
  CHECK(db->conflicts("c")->size() == 1);
  // Writes after the migration go to the new table and keep working.
  auto updated = db->put(R"({"_id":"plain","_rev":")" + plain.str("_rev") + R"(","v":2})");
  REQUIRE(updated);
  db.reset();

  CHECK(scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == "4");
  CHECK(scalar(path, "SELECT sql FROM sqlite_schema WHERE name = 'revs'").find("WITHOUT ROWID") == std::string::npos);
  CHECK(scalar(path, "SELECT count(*) FROM revs WHERE doc_id = 'c'") == "2");
  CHECK(scalar(path, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("Migration: a file from a newer Settee is refused, not rewritten", "[db][migration]") {
  TempDir dir;
  const std::string path = dir.file("new.settee");
  { REQUIRE(Database::open(path, "new")); }
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    sql(raw, "UPDATE meta SET value = 99 WHERE key = 'schema_version';");
    sqlite3_close(raw);
  }
  auto reopened = Database::open(path, "new");
  REQUIRE_FALSE(reopened);
  CHECK(reopened.status().reason().find("newer") != std::string::npos);
  CHECK(scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == "99");
}
