// Mango queries on a real Store: the `_find` body and its errors, the planner's choices index by index,
// key ranges, and the execution (skip, limit, fields, conflicts, bookmarks, statistics, warnings).
#include "db/mango_find.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "db/collate_key.h"
#include "db/database_internal.h"
#include "db/mango_plan.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::db::FindPlan;
using settee::db::FindQuery;
using settee::db::IndexSpec;
using settee::test::Json;
using settee::test::TempDir;

namespace {

FindQuery query(const std::string& body) {
  auto q = db::parseFindRequest(body);
  INFO(body << ": " << q.status().reason());
  REQUIRE(q.isOk());
  return std::move(*q);
}

// The error a body is refused with, as "name: reason".
std::string refusal(const std::string& body) {
  auto q = db::parseFindRequest(body);
  if (q) return "(accepted)";
  CHECK(q.status().code() == ErrorCode::BadRequest);
  return std::string(q.status().error()) + ": " + q.status().reason();
}

IndexSpec index(const std::string& ddoc, const std::string& name, std::vector<std::string> fields,
                const std::string& partial = "") {
  IndexSpec spec;
  spec.ddoc = "_design/" + ddoc;
  spec.name = name;
  for (auto& f : fields) spec.fields.push_back({f, false});
  if (!partial.empty()) {
    spec.partialJson = partial;
    auto sel = db::Selector::parseJson(partial);
    REQUIRE(sel);
    spec.partial = std::make_shared<const db::Selector>(std::move(*sel));
  }
  return spec;
}

FindPlan plan(const std::string& body, const std::vector<IndexSpec>& indexes) {
  auto p = db::planFind(query(body), indexes);
  INFO(body << ": " << p.status().reason());
  REQUIRE(p.isOk());
  return std::move(*p);
}

std::string chosen(const FindPlan& p) { return p.index ? p.index->name : "_all_docs"; }

// The candidate called `name` ("_all_docs" for the special index).
const db::IndexCandidate& candidate(const FindPlan& p, const std::string& name) {
  for (const auto& c : p.candidates) {
    if ((c.index ? c.index->name : "_all_docs") == name) return c;
  }
  FAIL("no candidate " << name);
  return p.candidates.front();
}

std::string key(const std::string& json) {
  simdjson::dom::parser parser;
  std::string out;
  db::appendCollationKey(parser.parse(json).value(), out);
  return out;
}

std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto opened = Database::open(dir.file("db.settee"), "db", {});
  REQUIRE(opened);
  return std::move(*opened);
}

// The orders and customers of ../shared/transcripts/couchdb-mango.txt.
void seed(Database& db) {
  for (int n = 0; n < 12; ++n) {
    char id[8];
    std::snprintf(id, sizeof id, "o%03d", n);
    const char* tags[] = {"[]", R"(["a"])", R"(["a","b"])"};
    std::string doc = std::string(R"({"_id":")") + id + R"(","type":"order","route":"r)" +
                      std::to_string(n % 3) + R"(","status":")" + (n % 2 ? "done" : "open") + R"(","ts":)" +
                      std::to_string(1000 + n) + R"(,"tags":)" + tags[n % 3] + R"(,"n":)" +
                      std::to_string(n) + "}";
    REQUIRE(db.put(doc));
  }
  REQUIRE(db.put(R"({"_id":"c1","type":"customer","name":"Ann"})"));
  REQUIRE(db.put(R"({"_id":"c2","type":"customer","name":"Bob","vip":true})"));
}

struct Page {
  std::vector<std::string> docs;
  FindSummary summary;
};

Page run(Database& db, const std::string& body) {
  Page page;
  auto ran = db::runFind(db::storeOf(db), query(body), [&](std::string_view doc) {
    page.docs.emplace_back(doc);
    return true;
  });
  INFO(body << ": " << ran.status().reason());
  REQUIRE(ran.isOk());
  page.summary = *ran;
  return page;
}

std::vector<std::string> ids(const Page& page) {
  std::vector<std::string> out;
  for (const auto& d : page.docs) out.push_back(Json(d).str("_id"));
  return out;
}

}  // namespace

TEST_CASE("Find request: CouchDB's error names and reasons for bad bodies", "[db][mango][find]") {
  CHECK(refusal(R"({"selector": {"type": {"$bogus": 1}}})") == "invalid_operator: Invalid operator: $bogus");
  CHECK(refusal(R"({"selector": "x"})") ==
        "invalid_selector_json: Selector must be a JSON object, not: <<120>>");
  CHECK(refusal(R"({"selector": [1, true, null]})") ==
        "invalid_selector_json: Selector must be a JSON object, not: [1,true,null]");
  CHECK(refusal(R"({"selector": {"type": "order"}, "limit": -1})") ==
        "invalid_non_neg_integer: -1 is not an integer greater than or equal to zero");
  CHECK(refusal(R"({"selector": {}, "skip": 1.5})") ==
        "invalid_non_neg_integer: 1.5 is not an integer greater than or equal to zero");
  CHECK(refusal(R"({"limit": 1})") == "missing_required_key: Missing required key: selector");
  CHECK(refusal(R"({"selector": {}, "sort": {"a": "asc"}})") ==
        "invalid_sort_json: Sort must be an array of sort specs, not: {[{<<97>>,<<97,115,99>>}]}");
  CHECK(refusal(R"({"selector": {}, "sort": [{"a": "asc"}, {"b": "desc"}]})") ==
        "unsupported_mixed_sort: Sorts currently only support a single direction for all fields.");
  CHECK(refusal(R"({"selector": {}, "sort": [{"a": "up"}]})") ==
        "invalid_sort_dir: Invalid sort direction: <<117,112>>");
  CHECK(refusal(R"({"selector": {}, "sort": [1]})") == "invalid_sort_field: Invalid sort field: 1");
  CHECK(refusal(R"({"selector": {}, "fields": "a"})") ==
        "invalid_fields: Fields must be an array of strings, not: <<97>>");
  CHECK(refusal(R"({"selector": {}, "fields": [1]})") == "invalid_field: Invalid JSON for field spec: 1");
  CHECK(refusal(R"({"selector": {}, "conflicts": "yes"})") ==
        "invalid_boolean: Invalid boolean value: <<121,101,115>>");
  CHECK(refusal(R"({"selector": {}, "r": 0})") ==
        "invalid_pos_integer: 0 is not an integer greater than zero");
  CHECK(refusal(R"({"selector": {}, "use_index": 3})") == "invalid_index_name: Invalid index name: 3");
  CHECK(refusal(R"({"selector": {}, "use_index": "a/b/c"})") ==
        "invalid_index_name: Invalid index name: <<97,47,98,47,99>>");
  CHECK(refusal(R"({"selector": {}, "bookmark": 3})") == "invalid_bookmark: Invalid bookmark value: 3");
  CHECK(refusal(R"({"selector": {}, "nope": 1})") == "invalid_key: Invalid key nope for this request.");
  CHECK(refusal("[]") == "bad_request: Request body must be a JSON object");
  CHECK(refusal("{") == "bad_request: invalid UTF-8 JSON");
  // The selector is judged first, whatever else is wrong.
  CHECK(refusal(R"({"selector": 1, "limit": -1, "nope": 1})").rfind("invalid_selector_json", 0) == 0);
}

TEST_CASE("Find request: every member CouchDB documents is read", "[db][mango][find]") {
  FindQuery q = query(R"({"selector": {"a": 1}, "fields": ["a", "b.c"], "sort": ["a", {"b": "asc"}],
      "limit": 7, "skip": 2, "bookmark": "x", "use_index": "_design/d/n", "conflicts": true, "r": 2,
      "update": false, "stable": true, "execution_stats": true, "allow_fallback": false, "partition": ""})");
  const FindOptions& o = q.options;
  CHECK(o.fields == std::vector<std::string>{"a", "b.c"});
  REQUIRE(o.sort.size() == 2);
  CHECK(o.sort[1].field == "b");
  CHECK_FALSE(o.sort[1].descending);
  CHECK(o.limit == 7);
  CHECK(o.skip == 2);
  CHECK(o.bookmark == "x");
  CHECK(o.useIndex == std::vector<std::string>{"d", "n"});
  CHECK(o.conflicts);
  CHECK(o.r == 2);
  CHECK_FALSE(o.update);
  CHECK(o.stable);
  CHECK(o.executionStats);
  CHECK_FALSE(o.allowFallback);
  CHECK(query(R"({"selector": {}, "use_index": ["d"]})").options.useIndex == std::vector<std::string>{"d"});
  CHECK(query(R"({"selector": {}, "use_index": "d"})").options.useIndex == std::vector<std::string>{"d"});
  CHECK(query(R"({"selector": {}, "use_index": null})").options.useIndex.empty());
  CHECK(query(R"({"selector": {}, "bookmark": null})").options.bookmark.empty());
  FindQuery stale = query(R"({"selector": {}, "stale": "ok"})");
  CHECK(stale.stale);
  CHECK_FALSE(stale.options.update);
  CHECK(query(R"({"selector": {}})").options.limit == 25);  // CouchDB's default
}

TEST_CASE("Planner: without an index the special _all_docs index serves, and a sort is no_usable_index",
          "[db][mango][plan]") {
  FindPlan p = plan(R"({"selector": {"name": "Ann"}})", {});
  CHECK(chosen(p) == "_all_docs");
  CHECK(p.candidates.empty());
  auto sorted = db::planFind(query(R"({"selector": {"type": "order"}, "sort": [{"ts": "desc"}]})"), {});
  REQUIRE_FALSE(sorted);
  CHECK(std::string(sorted.status().error()) == "no_usable_index");
  CHECK(sorted.status().reason() == "No index exists for this sort, try indexing by the sort fields.");
}

TEST_CASE("Planner: the transcript's choice of type-ts over a partial index and _all_docs",
          "[db][mango][plan]") {
  std::vector<IndexSpec> indexes = {index("orders", "type-ts", {"type", "ts"}),
                                    index("edcd", "edcd", {"route"}, R"({"status": "open"})")};
  FindPlan p = plan(
      R"({"selector": {"type": "order", "ts": {"$gt": 1003}}, "sort": [{"type": "desc"}, {"ts": "desc"}]})",
      indexes);
  CHECK(chosen(p) == "type-ts");
  CHECK(p.descending);
  CHECK(p.scan.descending);
  REQUIRE(p.prefix.size() == 2);
  CHECK(p.prefix[0].isEq());
  CHECK_FALSE(p.prefix[1].isEq());
  // Candidates in CouchDB's order with its reasons and rankings (#12).
  REQUIRE(p.candidates.size() == 2);
  CHECK(p.candidates[0].index->name == "edcd");
  CHECK(p.candidates[0].reason == "is_partial");
  CHECK(p.candidates[0].ranking == 2);
  CHECK_FALSE(p.candidates[1].index);
  CHECK(p.candidates[1].reason == "field_mismatch");
  CHECK(p.candidates[1].ranking == 1);
  // #13: a selector neither index covers is a full scan; type-ts lost on its fields.
  FindPlan scan = plan(R"({"selector": {"name": "Ann"}})", indexes);
  CHECK(chosen(scan) == "_all_docs");
  REQUIRE(scan.candidates.size() == 2);
  CHECK(scan.candidates[0].index->name == "type-ts");
  CHECK(scan.candidates[0].reason == "field_mismatch");
  CHECK(scan.candidates[0].ranking == 1);
  CHECK(scan.candidates[1].reason == "is_partial");
  CHECK(scan.candidates[1].ranking == 2);
}

TEST_CASE("Planner: an index is usable only when the selector requires each of its fields",
          "[db][mango][plan]") {
  std::vector<IndexSpec> indexes = {index("d", "ab", {"a", "b"})};
  CHECK(chosen(plan(R"({"selector": {"a": 1}})", indexes)) == "_all_docs");
  CHECK(chosen(plan(R"({"selector": {"a": 1, "b": {"$exists": true}}})", indexes)) == "ab");
  CHECK(chosen(plan(R"({"selector": {"a": 1, "b": {"$exists": false}}})", indexes)) == "_all_docs");
  CHECK(chosen(plan(R"({"selector": {"a": 1, "b": {"$ne": 3}}})", indexes)) == "ab");
  // Both branches of an $or require `b`; only one requires `a`'s partner here.
  CHECK(chosen(plan(R"({"selector": {"a": 1, "$or": [{"b": 1}, {"b": 2}]}})", indexes)) == "ab");
  CHECK(chosen(plan(R"({"selector": {"a": 1, "$or": [{"b": 1}, {"c": 2}]}})", indexes)) == "_all_docs");
  // A sort field need not be required: the index orders by it.
  CHECK(chosen(plan(R"({"selector": {"a": 1}, "sort": ["a", "b"]})", indexes)) == "ab");
}

TEST_CASE("Planner: a sort is served when it is a prefix of the index after fields fixed by $eq",
          "[db][mango][plan]") {
  std::vector<IndexSpec> indexes = {index("d", "type-ts", {"type", "ts"})};
  CHECK(chosen(plan(R"({"selector": {"type": "order", "ts": {"$gt": 0}}, "sort": ["ts"]})", indexes)) ==
        "type-ts");
  auto unfixed = db::planFind(
      query(R"({"selector": {"type": {"$gt": "a"}, "ts": {"$gt": 0}}, "sort": ["ts"]})"), indexes);
  REQUIRE_FALSE(unfixed);
  CHECK(std::string(unfixed.status().error()) == "no_usable_index");
  CHECK(chosen(plan(R"({"selector": {"type": "order", "ts": {"$gt": 0}}, "sort": [{"type": "desc"}]})",
                    indexes)) == "type-ts");
  // The special index sorts by _id when the selector constrains _id.
  FindPlan byId = plan(R"({"selector": {"_id": {"$gt": "a"}}, "sort": [{"_id": "desc"}]})", {});
  CHECK(chosen(byId) == "_all_docs");
  CHECK(byId.descending);
  CHECK(byId.startId == "a");
  CHECK_FALSE(byId.startInclusive);
}

TEST_CASE("Planner: most overlap wins, then fewer fields, then ddoc and name", "[db][mango][plan]") {
  std::vector<IndexSpec> indexes = {index("d", "type", {"type"}), index("d", "type-ts", {"type", "ts"}),
                                    index("c", "type2", {"type"})};
  FindPlan both = plan(R"({"selector": {"type": "order", "ts": {"$gt": 1}}})", indexes);
  CHECK(chosen(both) == "type-ts");
  CHECK(candidate(both, "type").reason == "less_overlap");
  CHECK(candidate(both, "type").usable);
  CHECK(candidate(both, "_all_docs").reason == "unfavored_type");
  FindPlan one = plan(R"({"selector": {"type": "order", "ts": {"$exists": true}}})",
                      {index("d", "type-ts", {"type", "ts"}), index("d", "ts-type", {"ts", "type"})});
  CHECK(chosen(one) == "ts-type");  // same overlap and width: the name decides
  CHECK(candidate(one, "type-ts").reason == "alphabetically_comes_after");
  FindPlan fewer = plan(R"({"selector": {"type": "order"}, "sort": ["type"]})", indexes);
  CHECK(chosen(fewer) == "type2");  // "_design/c" before "_design/d"
  CHECK(candidate(fewer, "type").reason == "alphabetically_comes_after");
}

TEST_CASE("Planner: use_index picks among usable indexes, falls back with a warning, or refuses",
          "[db][mango][plan]") {
  std::vector<IndexSpec> indexes = {index("orders", "type-ts", {"type", "ts"}),
                                    index("other", "type", {"type"}),
                                    index("partial", "route", {"route"}, R"({"status": "open"})")};
  FindPlan named = plan(R"({"selector": {"type": "order", "ts": 3}, "use_index": "other"})", indexes);
  CHECK(chosen(named) == "type");
  CHECK(named.useIndexWarning.empty());
  CHECK(candidate(named, "type-ts").reason == "excluded_by_user");
  // #17: the named design document has no index usable for this selector.
  FindPlan fallback =
      plan(R"({"selector": {"status": "open", "route": "r1"}, "use_index": "_design/orders"})", indexes);
  CHECK(chosen(fallback) == "_all_docs");
  CHECK(fallback.useIndexWarning ==
        "_design/orders was not used because it does not contain a valid index for this query.");
  FindPlan byName = plan(R"({"selector": {"status": "open"}, "use_index": ["orders", "type-ts"]})", indexes);
  CHECK(byName.useIndexWarning ==
        "_design/orders, type-ts was not used because it is not a valid index for this query.");
  auto strict = db::planFind(
      query(R"({"selector": {"status": "open"}, "use_index": "orders", "allow_fallback": false})"), indexes);
  REQUIRE_FALSE(strict);
  CHECK(std::string(strict.status().error()) == "no_usable_index");
  // A partial index serves only when named.
  CHECK(chosen(plan(R"({"selector": {"route": "r1"}})", indexes)) == "_all_docs");
  CHECK(chosen(plan(R"({"selector": {"route": "r1"}, "use_index": "partial"})", indexes)) == "route");
}

TEST_CASE("Planner: key ranges grow field by field while the fields before are equalities",
          "[db][mango][plan]") {
  std::vector<IndexSpec> indexes = {index("d", "abc", {"a", "b", "c"})};
  FindPlan eqRange = plan(R"({"selector": {"a": "x", "b": {"$gt": 5, "$lte": 9}, "c": 1}})", indexes);
  CHECK(eqRange.scan.range.lower == key(R"("x")") + key("5") + db::kAfterAll);  // exclusive: past every 5...
  CHECK(eqRange.scan.range.upper == key(R"("x")") + key("9") + db::kAfterAll);  // inclusive: every 9...
  CHECK(eqRange.scan.range.upperInclusive);
  FindPlan allEq = plan(R"({"selector": {"a": "x", "b": 2, "c": {"$exists": true}}})", indexes);
  CHECK(allEq.scan.range.lower == key(R"("x")") + key("2"));
  CHECK(allEq.scan.range.upper == key(R"("x")") + key("2") + db::kAfterAll);
  FindPlan below = plan(R"({"selector": {"a": {"$lt": "m"}, "b": 1, "c": 1}})", indexes);
  CHECK_FALSE(below.scan.range.lower);
  CHECK(below.scan.range.upper == key(R"("m")"));
  CHECK_FALSE(below.scan.range.upperInclusive);
  // Conditions no value satisfies read nothing.
  CHECK(plan(R"({"selector": {"a": {"$gt": 5, "$lt": 3}, "b": 1, "c": 1}})", indexes).nothing);
  CHECK(plan(R"({"selector": {"a": 1, "b": 1, "c": 1, "d": {"$gt": 2, "$lte": 2}}})", indexes).nothing);
  // Conditions on indexed fields are judged on the row's values before the document is read.
  REQUIRE(eqRange.prefilter.size() == 3);
}

TEST_CASE("Find: a full scan answers matching documents in id order, design documents aside",
          "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  seed(*db);
  REQUIRE(db->put(R"({"_id":"_design/x","type":"order","status":"open"})"));
  Page p = run(*db, R"({"selector": {"type": "order", "status": "open"}, "limit": 3})");
  CHECK(ids(p) == std::vector<std::string>{"o000", "o002", "o004"});
  CHECK(p.summary.warning == "No matching index found, create an index to optimize query time.");
  CHECK(p.summary.index == "_all_docs");
  CHECK(p.summary.stats.resultsReturned == 3);
  CHECK(p.summary.stats.totalDocsExamined == 7);  // c1, c2, o000 ... o004: stopped at the third match
  Page ops = run(*db, R"({"selector": {"tags": {"$size": 2}, "n": {"$mod": [4, 2]}}})");
  CHECK(ids(ops) == std::vector<std::string>{"o002"});
  CHECK(ops.summary.warning ==
        "No matching index found, create an index to optimize query time.\nThe number of documents examined "
        "is high "
        "in proportion to the number of results returned. Consider adding a more specific index to improve "
        "this.");
  CHECK(run(*db, R"({"selector": {"type": "order"}, "limit": 0})").docs.empty());
}

TEST_CASE("Find: skip, limit and bookmarks page through every match exactly once", "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  seed(*db);
  Page skipped = run(*db, R"({"selector": {"type": "order"}, "skip": 10, "limit": 5})");
  CHECK(ids(skipped) == std::vector<std::string>{"o010", "o011"});
  std::vector<std::string> seen;
  std::string bookmark;
  for (int page = 0; page < 10; ++page) {
    std::string body = R"({"selector": {"type": "order", "ts": {"$gt": 1000}}, "limit": 3)";
    if (!bookmark.empty()) body += R"(, "bookmark": ")" + bookmark + "\"";
    Page p = run(*db, body + "}");
    if (page == 1) REQUIRE(db->put(R"({"_id":"o0005","type":"order","ts":2000})"));  // before the cursor
    if (p.docs.empty()) {
      CHECK(p.summary.bookmark == bookmark);  // an empty page gives its bookmark back
      break;
    }
    for (auto& id : ids(p)) seen.push_back(id);
    bookmark = p.summary.bookmark;
  }
  CHECK(seen == std::vector<std::string>{"o001", "o002", "o003", "o004", "o005", "o006", "o007", "o008",
                                         "o009", "o010", "o011"});
  CHECK(run(*db, R"({"selector": {"type": "none"}})").summary.bookmark == "nil");
}

TEST_CASE("Find: a bad bookmark is invalid_bookmark, never a crash", "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  seed(*db);
  for (std::string bad : {"zzz", "!!!", "WyJrIiwiZyIsIngiXQ", "e30", "WyJrIiwiMDAiLCJ4Il0", ""}) {
    if (bad.empty()) continue;
    auto q = query(R"({"selector": {}, "bookmark": ")" + bad + "\"}");
    auto ran = db::runFind(db::storeOf(*db), q, [](std::string_view) { return true; });
    INFO(bad);
    REQUIRE_FALSE(ran);
    CHECK(std::string(ran.status().error()) == "invalid_bookmark");
    CHECK(ran.status().reason() == "Invalid bookmark value: \"" + bad + "\"");
  }
}

TEST_CASE("Find: fields project nested paths and leave out what is absent", "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  REQUIRE(db->put(R"({"_id":"a","x":{"y":1,"z":2},"list":[10,20],"w":"k"})"));
  Page p = run(*db, R"({"selector": {"_id": "a"}, "fields": ["w", "x.z", "nope", "list.1", "_id"]})");
  REQUIRE(p.docs.size() == 1);
  CHECK(p.docs[0] == R"({"w":"k","x":{"z":2},"list":{"1":20},"_id":"a"})");
  Page ann = run(*db, R"({"selector": {"_id": "a"}, "fields": ["x"]})");
  CHECK(ann.docs[0] == R"({"x":{"y":1,"z":2}})");  // no _id or _rev unless asked
}

TEST_CASE("Find: conflicts adds _conflicts to documents that have them", "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  REQUIRE(db->put(R"({"_id":"a","v":1})"));
  auto& store = db::storeOf(*db);
  std::vector<db::WriteOp> ops;
  ops.push_back(store.parse(R"({"_id":"a","_rev":"1-ffffffffffffffffffffffffffffffff","v":2})"));
  auto written = store.write(ops, false);
  REQUIRE(written.size() == 1);
  REQUIRE(written[0].status);
  Page p = run(*db, R"({"selector": {"v": {"$gt": 0}}, "conflicts": true})");
  REQUIRE(p.docs.size() == 1);
  CHECK(Json(p.docs[0]).has("_conflicts"));
  CHECK_FALSE(Json(run(*db, R"({"selector": {"v": {"$gt": 0}}})").docs[0]).has("_conflicts"));
}

TEST_CASE("Find: _explain of a full scan has CouchDB's shape", "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  REQUIRE(db::writeExplain(db::storeOf(*db), query(R"({"selector": {"name": "Ann"}})"), "m", w));
  // #13 of the transcript, but for index_candidates, which lists the indexes this database lacks.
  CHECK(
      std::string(db::bufferView(buf)) ==
      R"({"dbname":"m","index":{"ddoc":null,"name":"_all_docs","type":"special","def":{"fields":[{"_id":"asc"}]}},)"
      R"("partitioned":false,"selector":{"name":{"$eq":"Ann"}},"opts":{"use_index":[],"bookmark":"nil","limit":25,)"
      R"("skip":0,"sort":{},"fields":[],"partition":"","r":1,"conflicts":false,"stale":false,"update":true,)"
      R"("stable":false,"execution_stats":false,"allow_fallback":true},"limit":25,"skip":0,"fields":[],)"
      R"("index_candidates":[],"selector_hints":[{"type":"json","indexable_fields":["name"],)"
      R"("unindexable_fields":[]}],"mrargs":{"include_docs":true,"view_type":"map","reduce":false,)"
      R"("partition":null,"start_key":null,"end_key":"<MAX>","direction":"fwd","stable":false,"update":true,)"
      R"("conflicts":"undefined"},"covering":false})");
}

TEST_CASE("Selector: the normalised rendering CouchDB's _explain shows", "[db][mango]") {
  auto render = [](const std::string& json) {
    auto sel = db::Selector::parseJson(json);
    REQUIRE(sel);
    db::JsonBuffer buf;
    db::JsonWriter w(buf);
    sel->writeNormalized(w);
    return std::string(db::bufferView(buf));
  };
  CHECK(render(R"({"type": "order", "ts": {"$gt": 1003}})") ==
        R"({"$and":[{"type":{"$eq":"order"}},{"ts":{"$gt":1003}}]})");
  CHECK(render(R"({"a": {"b": 1}})") == R"({"a.b":{"$eq":1}})");
  CHECK(render(R"({"$or": [{"a": 1}, {"b": {"$in": [1, 2]}}]})") ==
        R"({"$or":[{"a":{"$eq":1}},{"b":{"$in":[1,2]}}]})");
  CHECK(render(R"({"a": {"$not": {"$gt": 1}}})") == R"({"a":{"$lte":1}})");
}

TEST_CASE("Find: an index answers in key order, by its range, either direction", "[db][mango][find][index]") {
  TempDir dir;
  auto db = openDb(dir);
  seed(*db);
  IndexDefinition def;
  def.fields = {{"type", false}, {"ts", false}};
  def.ddoc = "orders";
  def.name = "type-ts";
  REQUIRE(db->createIndex(def));
  Page desc = run(
      *db, R"({"selector": {"type": "order", "ts": {"$gt": 1003}}, "sort": [{"type": "desc"}, {"ts": "desc"}],
      "fields": ["_id", "ts", "status"], "limit": 4})");
  CHECK(desc.docs == std::vector<std::string>{R"({"_id":"o011","ts":1011,"status":"done"})",
                                              R"({"_id":"o010","ts":1010,"status":"open"})",
                                              R"({"_id":"o009","ts":1009,"status":"done"})",
                                              R"({"_id":"o008","ts":1008,"status":"open"})"});
  CHECK(desc.summary.index == "_design/orders/type-ts");
  CHECK(desc.summary.warning.empty());
  // The range starts at the first match: nothing before it is read.
  CHECK(desc.summary.stats.totalKeysExamined == 4);
  CHECK(desc.summary.stats.totalDocsExamined == 4);
  Page asc = run(*db, R"({"selector": {"type": "order", "ts": {"$gte": 1009}}, "sort": ["type", "ts"]})");
  CHECK(ids(asc) == std::vector<std::string>{"o009", "o010", "o011"});
  CHECK(asc.summary.stats.totalKeysExamined == 3);
  Page upTo = run(*db, R"({"selector": {"type": "order", "ts": {"$lte": 1001}}})");
  CHECK(ids(upTo) == std::vector<std::string>{"o000", "o001"});
  // Pages of an index scan resume after the last row, whatever was written before it meanwhile.
  std::vector<std::string> seen;
  std::string bookmark;
  for (int page = 0; page < 10; ++page) {
    std::string body =
        R"({"selector": {"type": "order", "ts": {"$gt": 1000}}, "sort": ["type", "ts"], "limit": 5)";
    if (!bookmark.empty()) body += R"(, "bookmark": ")" + bookmark + "\"";
    Page p = run(*db, body + "}");
    if (page == 0) REQUIRE(db->put(R"({"_id":"early","type":"order","ts":1001.5})"));
    if (p.docs.empty()) break;
    for (auto& id : ids(p)) seen.push_back(id);
    bookmark = p.summary.bookmark;
  }
  CHECK(seen == std::vector<std::string>{"o001", "o002", "o003", "o004", "o005", "o006", "o007", "o008",
                                         "o009", "o010", "o011"});
  // A full scan's bookmark does not resume an index scan.
  auto q = query(R"({"selector": {"type": "order", "ts": {"$gt": 1}}, "bookmark": "WyJpIiwibzAwMyJd"})");
  auto ran = db::runFind(db::storeOf(*db), q, [](std::string_view) { return true; });
  REQUIRE_FALSE(ran);
  CHECK(std::string(ran.status().error()) == "invalid_bookmark");
}

TEST_CASE("Find: a document the index values exclude is never read", "[db][mango][find][index]") {
  TempDir dir;
  auto db = openDb(dir);
  for (int i = 0; i < 40; ++i) {
    REQUIRE(db->put(R"({"_id":"d)" + std::to_string(100 + i) + R"(","a":)" + std::to_string(i % 4) +
                    R"(,"b":)" + std::to_string(i) + "}"));
  }
  IndexDefinition def;
  def.fields = {{"a", false}, {"b", false}};
  REQUIRE(db->createIndex(def));
  // `a` bounds the range; `b`'s conditions are judged on the index row's values.
  Page p = run(*db, R"({"selector": {"a": {"$gte": 1}, "b": {"$mod": [10, 3]}}, "execution_stats": true})");
  CHECK(ids(p) == std::vector<std::string>{"d113", "d133", "d103", "d123"});  // in (a, b) order
  CHECK(p.summary.stats.totalKeysExamined == 30);
  CHECK(p.summary.stats.totalDocsExamined == 4);
  Page range = run(*db, R"({"selector": {"a": {"$gt": 2}, "b": {"$lt": 10}}})");
  CHECK(ids(range) == std::vector<std::string>{"d103", "d107"});
  CHECK(range.summary.stats.totalDocsExamined == 2);
  // A covering query reads no document at all.
  Page covered = run(*db, R"({"selector": {"a": 3, "b": {"$gt": 30}}, "fields": ["_id", "b"]})");
  CHECK(covered.docs == std::vector<std::string>{R"({"_id":"d131","b":31})", R"({"_id":"d135","b":35})",
                                                 R"({"_id":"d139","b":39})"});
  CHECK(covered.summary.stats.totalDocsExamined == 0);
}

TEST_CASE("Find: a partial index serves when named, and only its documents", "[db][mango][find][index]") {
  TempDir dir;
  auto db = openDb(dir);
  seed(*db);
  IndexDefinition def;
  def.fields = {{"route", false}};
  def.partialFilterSelector = R"({"status": "open"})";
  def.ddoc = "partial";
  REQUIRE(db->createIndex(def));
  Page unnamed = run(*db, R"({"selector": {"route": "r1"}})");
  CHECK(unnamed.summary.index == "_all_docs");
  CHECK(ids(unnamed) == std::vector<std::string>{"o001", "o004", "o007", "o010"});
  Page named = run(*db, R"({"selector": {"route": "r1"}, "use_index": "partial"})");
  CHECK(named.summary.index.rfind("_design/partial/", 0) == 0);
  CHECK(ids(named) == std::vector<std::string>{"o004", "o010"});
}
