// Batches as CouchDB 3.4.3 takes them, at the database layer: `_local` documents inside a batch, revisions
// no tree can hold, and a deletion judged in one transaction.
#include <catch2/catch.hpp>

#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::TempDir;

TEST_CASE("Database: a batch writes _local documents as PUT does, answered 0-N, and deletes them",
          "[db][bulk]") {
  TempDir dir;
  auto db = Database::open(dir.file("db.sqlite"), "db");
  REQUIRE(db);
  auto first = (*db)->bulkDocs({R"({"_id":"_local/x","v":1})", R"({"_id":"a"})"});
  REQUIRE(first.size() == 2);
  CHECK(first[0].status.isOk());
  CHECK(first[0].id == "_local/x");
  CHECK(first[0].rev == "0-1");
  CHECK(first[1].status.isOk());
  auto local = (*db)->getLocal("_local/x");
  REQUIRE(local);
  CHECK(*local == R"({"_id":"_local/x","_rev":"0-1","v":1})");

  auto second = (*db)->bulkDocs({R"({"_id":"_local/x","_rev":"0-1","v":2})", R"({"_id":"_local/x","v":3})"});
  CHECK(second[0].rev == "0-2");
  CHECK(second[1].status.code() == ErrorCode::Conflict);  // no _rev for a document that exists

  auto gone = (*db)->bulkDocs({R"({"_id":"_local/x","_rev":"0-2","_deleted":true})"});
  CHECK(gone[0].status.isOk());
  CHECK(gone[0].rev == "0-0");
  CHECK((*db)->getLocal("_local/x").status().code() == ErrorCode::NotFound);
  // Local documents are neither counted nor in the changes feed.
  CHECK((*db)->info()->docCount == 1);
}

TEST_CASE("Database: a revision CouchDB parses but no tree holds is a conflict for that document alone",
          "[db][bulk]") {
  TempDir dir;
  auto db = Database::open(dir.file("db.sqlite"), "db");
  REQUIRE(db);
  auto a = (*db)->put(R"({"_id":"a","v":1})");
  REQUIRE(a);
  auto r =
      (*db)->bulkDocs({R"({"_id":"a","_rev":"1-not_a_hash","v":2})", R"({"_id":"a","_rev":"0-abc","v":2})",
                       R"({"_id":"a","_rev":"1-abcdef","v":2})", R"({"_id":"b"})"});
  REQUIRE(r.size() == 4);
  for (int i = 0; i < 3; ++i) {
    INFO(i);
    CHECK(r[static_cast<size_t>(i)].status.code() == ErrorCode::Conflict);
    CHECK(r[static_cast<size_t>(i)].id == "a");
  }
  CHECK(r[3].status.isOk());
  CHECK((*db)->info()->docCount == 2);
  CHECK((*db)->get("a")->find(a->rev) != std::string::npos);  // untouched
}

TEST_CASE("Database: remove judges absence and deletion in its own transaction", "[db][bulk]") {
  TempDir dir;
  auto db = Database::open(dir.file("db.sqlite"), "db");
  REQUIRE(db);
  auto missing = (*db)->remove("nope", "1-abc");
  CHECK(missing.status().code() == ErrorCode::NotFound);
  CHECK(missing.status().reason() == "missing");
  auto a = (*db)->put(R"({"_id":"a"})");
  REQUIRE(a);
  CHECK((*db)->remove("a", "").status().code() == ErrorCode::Conflict);  // live, and no revision named
  CHECK((*db)->remove("a", "1-abc").status().code() == ErrorCode::Conflict);
  REQUIRE((*db)->remove("a", a->rev));
  auto again = (*db)->remove("a", a->rev);
  CHECK(again.status().code() == ErrorCode::NotFound);
  CHECK(again.status().reason() == "deleted");
  CHECK((*db)->remove("a", "").status().reason() == "deleted");
}
