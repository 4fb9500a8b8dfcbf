// What a policy decides on (Store::conflictInput), the guard that stops a resolution from deleting a
// leaf it never saw, and Database::resolveConflict end to end on one database.
#include <catch2/catch.hpp>

#include "db/database_internal.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {

std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto db = Database::open(dir.file("c.settee"), "c");
  REQUIRE(db);
  return std::move(*db);
}

// A stored base 1-base (with a body) and two children of it written offline elsewhere.
void twoBranches(Database& db) {
  auto put = db.put(R"({"_id":"d","v":0,"t":0})");
  REQUIRE(put);
  std::string base = put->rev.substr(2);
  auto res = db.bulkDocs(
      {R"({"_id":"d","_rev":"2-aaa","_revisions":{"start":2,"ids":["aaa",")" + base + R"("]},"v":1,"t":9})",
       R"({"_id":"d","_rev":"2-bbb","_revisions":{"start":2,"ids":["bbb",")" + base + R"("]},"v":2,"t":1})"},
      {.newEdits = false});
  for (auto& r : res) REQUIRE(r.status);
}

}  // namespace

TEST_CASE("Store::conflictInput: live leaves winner first, rendered, with their deepest common ancestor",
          "[db][conflict]") {
  TempDir dir;
  auto db = openDb(dir);
  twoBranches(*db);
  auto in = db::storeOf(*db).conflictInput("d");
  REQUIRE(in);
  REQUIRE(in->leaves.size() == 2);
  CHECK(in->leaves[0].rev == "2-bbb");  // CouchDB's winner
  CHECK(in->leaves[1].rev == "2-aaa");
  CHECK(Json(in->leaves[1].json).str("_rev") == "2-aaa");
  CHECK(int64_t(Json(in->leaves[1].json)["v"]) == 1);
  CHECK(in->ancestorRev.rfind("1-", 0) == 0);
  REQUIRE(in->ancestorJson);
  CHECK(int64_t(Json(*in->ancestorJson)["v"]) == 0);
  CHECK(Json(*in->ancestorJson).str("_rev") == in->ancestorRev);

  // Compaction drops the ancestor's body: the revision is still named, its body absent.
  REQUIRE(db->compact());
  auto compacted = db::storeOf(*db).conflictInput("d");
  REQUIRE(compacted);
  CHECK(compacted->ancestorRev == in->ancestorRev);
  CHECK_FALSE(compacted->ancestorJson);

  // A deleted leaf is no longer part of the conflict.
  REQUIRE(db->remove("d", "2-aaa"));
  auto single = db::storeOf(*db).conflictInput("d");
  REQUIRE(single);
  CHECK(single->leaves.size() == 1);
  CHECK(single->ancestorRev.empty());
}

TEST_CASE(
    "Store::conflictInput: the ancestor is the deepest revision common to every live leaf; none across roots",
    "[db][conflict]") {
  TempDir dir;
  auto db = openDb(dir);
  auto res = db->bulkDocs({R"({"_id":"d","_rev":"3-x","_revisions":{"start":3,"ids":["x","b","a"]}})",
                           R"({"_id":"d","_rev":"3-y","_revisions":{"start":3,"ids":["y","b","a"]}})",
                           R"({"_id":"d","_rev":"2-z","_revisions":{"start":2,"ids":["z","a"]}})",
                           R"({"_id":"e","_rev":"1-p"})", R"({"_id":"e","_rev":"1-q"})"},
                          {.newEdits = false});
  auto in = db::storeOf(*db).conflictInput("d");
  REQUIRE(in);
  CHECK(in->leaves.size() == 3);
  CHECK(in->ancestorRev == "1-a");  // 2-b is on two of the three paths only
  CHECK_FALSE(in->ancestorJson);    // known by id only
  auto roots = db::storeOf(*db).conflictInput("e");
  REQUIRE(roots);
  CHECK(roots->leaves.size() == 2);
  CHECK(roots->ancestorRev.empty());
  CHECK(db::storeOf(*db).conflictInput("nope").status().code() == ErrorCode::NotFound);
}

TEST_CASE(
    "Store::resolveConflicts: with expected leaves, a resolution whose leaves changed meanwhile is a "
    "conflict",
    "[db][conflict]") {
  TempDir dir;
  auto db = openDb(dir);
  twoBranches(*db);
  uint64_t seq = db->info()->updateSeq;
  std::vector<std::string> stale = {"2-bbb"};  // decided before 2-aaa arrived
  auto r = db::storeOf(*db).resolveConflicts("d", "2-bbb", std::nullopt, &stale);
  CHECK(r.status().code() == ErrorCode::Conflict);
  CHECK(db->info()->updateSeq == seq);
  CHECK(db->conflicts("d")->size() == 1);
  std::vector<std::string> current = {"2-aaa", "2-bbb"};  // any order
  REQUIRE(db::storeOf(*db).resolveConflicts("d", "2-bbb", std::nullopt, &current));
  CHECK(db->conflicts("d")->empty());
}

TEST_CASE("Database::resolveConflict: writes the policy's resolution and reports the tombstones",
          "[db][conflict]") {
  TempDir dir;
  auto db = openDb(dir);
  twoBranches(*db);
  auto kept = db->resolveConflict("d", ConflictPolicy::keep());
  REQUIRE(kept);
  CHECK_FALSE(kept->resolved);
  CHECK(kept->rev == "2-bbb");
  CHECK(db->conflicts("d")->size() == 1);

  auto throws = db->resolveConflict("d", ConflictPolicy::custom([](const ConflictInput&) -> ConflictDecision {
                                      throw std::runtime_error("no");
                                    }));
  CHECK_FALSE(throws);
  CHECK(db->conflicts("d")->size() == 1);

  auto r = db->resolveConflict("d", ConflictPolicy::lastWriteWins("t"));
  REQUIRE(r);
  CHECK(r->resolved);
  CHECK(r->rev == "2-aaa");  // t=9 beats CouchDB's winner's t=1
  REQUIRE(r->deleted.size() == 1);
  CHECK(r->deleted[0].rfind("3-", 0) == 0);
  CHECK(db->conflicts("d")->empty());
  CHECK(Json(*db->get("d")).str("_rev") == "2-aaa");
  Json tomb(*db->get("d", {.rev = r->deleted[0]}));
  CHECK(tomb.has("_deleted"));

  auto again = db->resolveConflict("d", ConflictPolicy::lastWriteWins("t"));
  REQUIRE(again);
  CHECK_FALSE(again->resolved);
  CHECK(again->rev == "2-aaa");
  CHECK(db->resolveConflict("nope", ConflictPolicy::keep()).status().code() == ErrorCode::NotFound);
}

TEST_CASE("Database::resolveConflict: a merge is written on CouchDB's winner with the winner's attachments",
          "[db][conflict]") {
  TempDir dir;
  auto db = openDb(dir);
  auto put = db->put(
      R"({"_id":"d","a":0,"b":0,"_attachments":{"x.txt":{"content_type":"text/plain","data":"eA=="}}})");
  REQUIRE(put);
  // Two edits of the base, each keeping the attachment by stub.
  auto stub = R"("_attachments":{"x.txt":{"stub":true}})";
  auto e1 = db->put(R"({"_id":"d","_rev":")" + put->rev + R"(","a":1,"b":0,)" + stub + "}");
  REQUIRE(e1);
  auto res = db->bulkDocs({R"({"_id":"d","_rev":"2-000","_revisions":{"start":2,"ids":["000",")" +
                           put->rev.substr(2) + R"("]},"a":0,"b":2})"},
                          {.newEdits = false});
  REQUIRE(res[0].status);
  auto r = db->resolveConflict("d", ConflictPolicy::merge());
  REQUIRE(r);
  REQUIRE(r->resolved);
  Json doc(*db->get("d"));
  CHECK(int64_t(doc["a"]) == 1);
  CHECK(int64_t(doc["b"]) == 2);
  CHECK(doc.has("_attachments"));
  CHECK(db->getAttachment("d", "x.txt"));
  CHECK(db->conflicts("d")->empty());
}
