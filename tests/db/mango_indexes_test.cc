// Index management (mango_indexes.cc) through the Database API on real SQLite files: the design
// documents CouchDB writes, "exists", listings, deletions and CouchDB's errors for bad definitions.
#include <catch2/catch.hpp>
#include <string>

#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {

std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto db = Database::open(dir.file("db.settee"), "db");
  REQUIRE(db);
  return std::move(*db);
}

IndexDefinition def(std::vector<SortField> fields, std::string ddoc = "", std::string name = "",
                    std::string partial = "") {
  IndexDefinition d;
  d.fields = std::move(fields);
  d.ddoc = std::move(ddoc);
  d.name = std::move(name);
  d.partialFilterSelector = std::move(partial);
  return d;
}

std::string viewOf(Database& db, const std::string& ddoc, const char* name) {
  auto doc = db.get(ddoc);
  REQUIRE(doc);
  Json j(*doc);
  simdjson::dom::element view = j["views"][name];
  return simdjson::minify(view);
}

}  // namespace

TEST_CASE("Index management: created, then exists, kept in a query design document as CouchDB keeps it",
          "[db][index][mango]") {
  TempDir dir;
  auto db = openDb(dir);
  auto created = db->createIndex(def({{"type"}, {"ts"}}, "orders", "type-ts"));
  REQUIRE(created);
  CHECK(created->created);
  CHECK(created->id == "_design/orders");
  CHECK(created->name == "type-ts");
  // CouchDB's design document (transcript #8).
  Json ddoc(*db->get("_design/orders"));
  CHECK(ddoc.str("language") == "query");
  CHECK(viewOf(*db, "_design/orders", "type-ts") ==
        R"({"map":{"fields":{"type":"asc","ts":"asc"},"partial_filter_selector":{}},"reduce":"_count",)"
        R"("options":{"def":{"fields":["type","ts"]}}})");
  auto again = db->createIndex(def({{"type"}, {"ts"}}, "_design/orders", "type-ts"));
  REQUIRE(again);
  CHECK_FALSE(again->created);
  CHECK(Json(*db->get("_design/orders")).str("_rev").substr(0, 2) == "1-");  // no second write

  // A second index joins the same design document.
  REQUIRE(db->createIndex(def({{"n", true}}, "orders", "n-desc")));
  Json both(*db->get("_design/orders"));
  CHECK(both.str("_rev").substr(0, 2) == "2-");
  CHECK(viewOf(*db, "_design/orders", "n-desc") ==
        R"({"map":{"fields":{"n":"desc"},"partial_filter_selector":{}},"reduce":"_count",)"
        R"("options":{"def":{"fields":[{"n":"desc"}]}}})");
}

TEST_CASE(
    "Index management: an unnamed index is named, with its design document, by a hash of its definition",
    "[db][index][mango]") {
  TempDir dir;
  auto db = openDb(dir);
  auto created = db->createIndex(def({{"route"}}, "", "", R"({"status":"open"})"));
  REQUIRE(created);
  CHECK(created->name.size() == 40);
  CHECK(created->id == "_design/" + created->name);
  auto same = db->createIndex(def({{"route"}}, "", "", R"({"status":"open"})"));
  REQUIRE(same);
  CHECK_FALSE(same->created);
  CHECK(same->name == created->name);
  auto other = db->createIndex(def({{"route"}}));
  REQUIRE(other);
  CHECK(other->name != created->name);
  auto list = db->indexes();
  REQUIRE(list);
  REQUIRE(list->size() == 3);
  for (const IndexInfo& info : *list)
    if (info.name == created->name) CHECK(info.partialFilterSelector == R"({"status":{"$eq":"open"}})");
}

TEST_CASE("Index management: the listing has _all_docs first, then json indexes by design document and name",
          "[db][index][mango]") {
  TempDir dir;
  auto db = openDb(dir);
  REQUIRE(db->createIndex(def({{"b"}}, "zeta", "b")));
  REQUIRE(db->createIndex(def({{"a"}}, "alpha", "y")));
  REQUIRE(db->createIndex(def({{"a"}, {"c"}}, "alpha", "x")));
  auto list = db->indexes();
  REQUIRE(list);
  REQUIRE(list->size() == 4);
  CHECK((*list)[0].name == "_all_docs");
  CHECK((*list)[0].type == "special");
  CHECK((*list)[0].ddoc.empty());
  CHECK((*list)[0].fields.size() == 1);
  CHECK((*list)[0].fields[0].field == "_id");
  CHECK((*list)[1].ddoc == "_design/alpha");
  CHECK((*list)[1].name == "x");
  CHECK((*list)[1].type == "json");
  CHECK((*list)[1].fields.size() == 2);
  CHECK((*list)[2].name == "y");
  CHECK((*list)[3].ddoc == "_design/zeta");
}

TEST_CASE("Index management: deleting the last view deletes the design document; missing ones are not_found",
          "[db][index][mango]") {
  TempDir dir;
  auto db = openDb(dir);
  REQUIRE(db->createIndex(def({{"a"}}, "d", "one")));
  REQUIRE(db->createIndex(def({{"b"}}, "d", "two")));
  CHECK(db->deleteIndex("d", "missing").code() == ErrorCode::NotFound);
  CHECK(db->deleteIndex("nope", "one").code() == ErrorCode::NotFound);
  REQUIRE(db->deleteIndex("_design/d", "one"));
  CHECK(db->indexes()->size() == 2);
  Json left(*db->get("_design/d"));
  CHECK(left["views"].get_object().value().size() == 1);
  REQUIRE(db->deleteIndex("d", "two"));
  CHECK(db->indexes()->size() == 1);
  CHECK(db->get("_design/d").status().reason() == "deleted");
  CHECK(db->deleteIndex("d", "two").code() == ErrorCode::NotFound);
  // A design document that holds more than its views keeps the rest.
  REQUIRE(db->put(R"({"_id":"_design/keep","language":"query","owner":"me"})"));
  REQUIRE(db->createIndex(def({{"a"}}, "keep", "only")));
  REQUIRE(db->deleteIndex("keep", "only"));
  Json kept(*db->get("_design/keep"));
  CHECK(kept.str("owner") == "me");
  CHECK_FALSE(kept.has("views"));
}

TEST_CASE("Index management: bad definitions get CouchDB's errors", "[db][index][mango]") {
  TempDir dir;
  auto db = openDb(dir);
  auto mixed = db->createIndex(def({{"a"}, {"b", true}}));
  CHECK(mixed.status().code() == ErrorCode::BadRequest);
  CHECK(std::string(mixed.status().error()) == "unsupported_mixed_sort");
  auto empty = db->createIndex(def({}));
  CHECK(empty.status().code() == ErrorCode::BadRequest);
  auto blank = db->createIndex(def({{""}}));
  CHECK(std::string(blank.status().error()) == "invalid_sort_field");
  auto badPartial = db->createIndex(def({{"a"}}, "", "", R"({"a":{"$bogus":1}})"));
  CHECK(badPartial.status().code() == ErrorCode::BadRequest);
  REQUIRE(db->put(R"({"_id":"_design/js","language":"javascript","views":{}})"));
  auto lang = db->createIndex(def({{"a"}}, "js", "x"));
  CHECK(lang.status().code() == ErrorCode::BadRequest);
  CHECK(std::string(lang.status().error()) == "invalid_ddoc_lang");
  CHECK(db->indexes()->size() == 1);
}

TEST_CASE("Index management: a partial filter selector is kept in CouchDB's normal form",
          "[db][index][mango]") {
  TempDir dir;
  auto db = openDb(dir);
  auto created = db->createIndex(def({{"route"}}, "p", "open", R"({"status": "open"})"));
  REQUIRE(created);
  CHECK(
      viewOf(*db, "_design/p", "open") ==
      R"({"map":{"fields":{"route":"asc"},"partial_filter_selector":{"status":{"$eq":"open"}}},)"
      R"("reduce":"_count","options":{"def":{"fields":["route"],"partial_filter_selector":{"status":"open"}}}})");
  REQUIRE(
      db->createIndex(def({{"a"}}, "p", "multi", R"({"type":"order","ts":{"$gt":3,"$lt":9},"x":{"y":1}})")));
  auto list = db->indexes();
  REQUIRE(list);
  REQUIRE(list->size() == 3);
  CHECK((*list)[1].name == "multi");
  CHECK((*list)[1].partialFilterSelector ==
        R"({"$and":[{"type":{"$eq":"order"}},{"ts":{"$gt":3}},{"ts":{"$lt":9}},{"x.y":{"$eq":1}}]})");
  CHECK((*list)[2].partialFilterSelector == R"({"status":{"$eq":"open"}})");
}
