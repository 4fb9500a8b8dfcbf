// A disk that fills up or fails one read or write (tests/db/faulty_vfs.h under a real SQLite file): the
// failing call answers an error, nothing acknowledged is lost, a failed write leaves no half of itself,
// the database keeps serving reads, and once the disk is healthy again writes work on the same handle.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <string>

#include "db/storage/sqlite.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;

TEST_CASE("Transaction: a failed BEGIN is an error, and commit() never answers success for it",
          "[db][diskfull]") {
  // Regression: Transaction ignored a failed BEGIN IMMEDIATE (SQLITE_BUSY from another process on the
  // file, an I/O error reading page 1, a transaction left open). Every statement "in" it then ran in
  // autocommit mode and committed alone — a failure midway left half a write — and commit() answered
  // success when some other transaction was open: it committed that one instead.
  test::TempDir dir;
  db::Connection conn;
  REQUIRE(conn.open(dir.file("begin.settee"), true, false));
  REQUIRE(conn.exec("CREATE TABLE t(x)"));
  // A transaction already open on the connection: BEGIN IMMEDIATE fails ("within a transaction").
  REQUIRE(conn.exec("BEGIN"));
  REQUIRE(conn.exec("INSERT INTO t VALUES(1)"));
  {
    db::Transaction txn(conn);
    CHECK_FALSE(txn.begun().isOk());
    CHECK_THAT(txn.begun().reason(), Catch::Contains("begin"));
    Status st = txn.commit();
    CHECK_FALSE(st.isOk());
  }
  // The outer transaction is untouched by the failed one: still open, neither committed nor rolled back.
  CHECK(sqlite3_get_autocommit(conn.handle()) == 0);
  REQUIRE(conn.exec("ROLLBACK"));
  {
    db::Transaction txn(conn);
    REQUIRE(txn.begun().isOk());
    REQUIRE(conn.exec("INSERT INTO t VALUES(2)"));
    REQUIRE(txn.commit());
  }
  sqlite3_stmt* count = nullptr;
  REQUIRE(sqlite3_prepare_v2(conn.handle(), "SELECT group_concat(x) FROM t", -1, &count, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(count) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(count, 0))) == "2");
  sqlite3_finalize(count);
}
