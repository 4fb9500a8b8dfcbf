// Mango queries: the `_find` body and its errors, and the planner's choices index by index with its key
// ranges (execution is in mango_find_run_test.cc).
#include <catch2/catch.hpp>

#include "mango_find_support.h"

using namespace settee;
using namespace settee::test::find;
using settee::test::Json;
using settee::test::TempDir;

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
  // CouchDB's cursor reads nothing for a lone empty $or or $and.
  CHECK(plan(R"({"selector": {"$or": []}})", {}).nothing);
  CHECK(plan(R"({"selector": {"$and": []}})", {}).nothing);
  CHECK_FALSE(plan(R"({"selector": {"a": 1, "$or": []}})", {}).nothing);
  // Conditions on indexed fields are judged on the row's values before the document is read.
  REQUIRE(eqRange.prefilter.size() == 3);
}
