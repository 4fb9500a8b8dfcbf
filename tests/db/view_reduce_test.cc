// View reduces (db/view_index.h reduce(), db/view_reduce.h): grouping as CouchDB groups, the built-ins
// as couch_query_servers.erl computes them (errors included), and JavaScript reduces through the Reducer
// in bounded chunks.
#include "db/view_reduce.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "view_test_support.h"

using namespace settee::test::views;

namespace {

using settee::db::BuiltinReduce;
using settee::db::ReduceInput;

ViewGrouping level(uint32_t n) {
  ViewGrouping g;
  g.groupLevel = n;
  return g;
}
ViewGrouping exact() {
  ViewGrouping g;
  g.group = true;
  return g;
}

// A built-in reduce of values (JSON texts), each under key null.
Result<std::string> builtin(const std::string& source, const std::vector<std::string>& values) {
  auto acc = BuiltinReduce::make(source);
  REQUIRE(acc);
  for (const std::string& v : values)
    if (Status st = acc->add("null", v); !st) return st;
  return acc->final();
}
std::string builtinOk(const std::string& source, const std::vector<std::string>& values) {
  auto r = builtin(source, values);
  INFO((r ? "" : r.status().reason()));
  REQUIRE(r);
  return *r;
}

// The transcript's documents: keys [type, n] with value n.
std::unique_ptr<ViewIndex> typedIndex(const TempDir& dir, Database& db, const std::string& reduce = "_sum") {
  for (int n = 0; n < 6; ++n)
    put(db, R"({"_id":"d)" + std::to_string(n) + R"(","k":[")" + (n % 2 ? "b" : "a") + R"(",)" +
                std::to_string(n) + R"(],"v":)" + std::to_string(n) + "}");
  put(db, R"({"_id":"plain","k":"x","v":100})");
  auto index = openIndex(dir, kvSpec(reduce));
  REQUIRE(index->update(db, kvMapper()));
  return index;
}

}  // namespace

TEST_CASE("View reduce: group=false, group=true and group_level, as CouchDB groups", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  auto index = typedIndex(dir, *db);
  CHECK(reduceOf(*index, 0, {}) == std::vector<std::string>{"null 115"});
  CHECK(reduceOf(*index, 0, level(0)) == std::vector<std::string>{"null 115"});
  // A key that is not an array groups as itself at any level.
  CHECK(reduceOf(*index, 0, level(1)) == std::vector<std::string>{R"("x" 100)", R"(["a"] 6)", R"(["b"] 9)"});
  CHECK(reduceOf(*index, 0, level(2)).size() == 7);
  CHECK(reduceOf(*index, 0, level(5)) == reduceOf(*index, 0, exact()));
  ViewScan scan;
  scan.startKey = R"(["a"])";
  scan.endKey = R"(["a",{}])";
  CHECK(reduceOf(*index, 0, exact(), scan) ==
        std::vector<std::string>{R"(["a",0] 0)", R"(["a",2] 2)", R"(["a",4] 4)"});
  CHECK(reduceOf(*index, 0, {}, scan) == std::vector<std::string>{"null 6"});

  SECTION("skip and limit count reduced rows") {
    ViewScan paged;
    paged.skip = 1;
    paged.limit = 1;
    CHECK(reduceOf(*index, 0, level(1), paged) == std::vector<std::string>{R"(["a"] 6)"});
    paged.descending = true;
    CHECK(reduceOf(*index, 0, level(1), paged) == std::vector<std::string>{R"(["a"] 6)"});
    paged.skip = 0;
    CHECK(reduceOf(*index, 0, level(1), paged) == std::vector<std::string>{R"(["b"] 9)"});
  }
  SECTION("an empty range reduces to no rows, grouped or not") {
    ViewScan none;
    none.startKey = R"({"past":"every array"})";
    CHECK(reduceOf(*index, 0, {}, none).empty());
    CHECK(reduceOf(*index, 0, exact(), none).empty());
  }
  SECTION("a map-only view has no reduce") {
    Status st = index->reduce(1, {}, {}, {}, [](const ReducedRow&) { return true; });
    CHECK(st.code() == ErrorCode::BadRequest);
    CHECK(std::string(st.error()) == "query_parse_error");
    CHECK(st.reason() == "Reduce is invalid for map-only views.");
  }
}

TEST_CASE("View reduce: keys CouchDB's collation calls equal form one group", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  put(*db, R"({"_id":"a","k":1,"v":1})");
  put(*db, R"({"_id":"b","k":1.0,"v":2})");
  put(*db, R"({"_id":"c","k":[1,"x"],"v":3})");
  put(*db, R"({"_id":"d","k":[1.0,"y"],"v":4})");
  auto index = openIndex(dir, kvSpec("_sum"));
  REQUIRE(index->update(*db, kvMapper()));
  CHECK(reduceOf(*index, 0, exact()) == std::vector<std::string>{"1 3", R"([1,"x"] 3)", R"([1.0,"y"] 4)"});
  CHECK(reduceOf(*index, 0, level(1)) == std::vector<std::string>{"1 3", "[1] 7"});
}

TEST_CASE("View reduce: _sum adds numbers, arrays element-wise and objects member-wise", "[views]") {
  CHECK(builtinOk("_sum", {"1", "2", "3"}) == "6");
  CHECK(builtinOk("_sum", {"1", "0.5"}) == "1.5");
  CHECK(builtinOk("_sum", {"0.5", "0.5"}) == "1.0");
  CHECK(builtinOk("_sum", {"[1,2]", "[10,20,30]"}) == "[11,22,30]");
  CHECK(builtinOk("_sum", {"5", "[1,2]"}) == "[6,2]");
  CHECK(builtinOk("_sum", {"[1,2]", "5"}) == "[6,2]");
  CHECK(builtinOk("_sum", {R"({"b":1,"a":{"x":1}})", R"({"a":{"x":2,"y":[1]},"c":3})"}) ==
        R"({"a":{"x":3,"y":[1]},"b":1,"c":3})");
  CHECK(builtinOk(" _sum ", {"1"}) == "1");
  CHECK(builtinOk("_sum", {"9223372036854775807", "1"}) == "9223372036854775808");
  // Past 64 bits CouchDB's bignums stay exact; the nearest double is what Settee holds.
  CHECK(builtinOk("_sum", {"18446744073709551615", "1"}) == "18446744073709553000.0");
  CHECK(builtinOk("_sum", {"-9223372036854775808", "-1"}) == "-9223372036854776000.0");
}

TEST_CASE("View reduce: _sum of values it cannot add answers builtin_reduce_error as the value", "[views]") {
  const std::string reason =
      "The _sum function requires that map values be numbers, arrays of numbers, or objects. Objects cannot "
      "be mixed "
      "with other data structures. Objects can be arbitrarily nested, provided that the values for all "
      "fields are "
      "themselves numbers, arrays of numbers, or objects.";
  auto errorWith = [&](const std::string& cause) {
    return R"({"error":"builtin_reduce_error","reason":")" + reason + R"(","caused_by":)" + cause + "}";
  };
  CHECK(builtinOk("_sum", {"null"}) == errorWith("null"));
  CHECK(builtinOk("_sum", {"1", R"("a")", "2"}) == errorWith(R"("a")"));
  CHECK(builtinOk("_sum", {"[1,2]", R"([1,"a"])"}) == errorWith("[2]"));
  CHECK(builtinOk("_sum", {"1", R"({"a":1})"}) == errorWith(R"({"a":1})"));
  CHECK(builtinOk("_sum", {R"({"a":1})", "1"}) == errorWith("1"));
  // A failed partial stays the answer when merged (rereduce).
  auto failed = BuiltinReduce::make("_sum");
  REQUIRE(failed->add("null", "true"));
  auto fine = BuiltinReduce::make("_sum");
  REQUIRE(fine->add("null", "1"));
  REQUIRE(fine->merge(*failed));
  CHECK(fine->final().value() == errorWith("true"));
}

TEST_CASE("View reduce: _count counts rows and merges by adding", "[views]") {
  CHECK(builtinOk("_count", {"null", R"("x")", "{}"}) == "3");
  auto a = BuiltinReduce::make("_count");
  auto b = BuiltinReduce::make("_count");
  REQUIRE(a->add("1", "1"));
  REQUIRE(b->add("1", "1"));
  REQUIRE(b->add("2", "1"));
  REQUIRE(a->merge(*b));
  CHECK(a->final().value() == "3");
}

TEST_CASE("View reduce: _stats of numbers, arrays and pre-aggregated objects", "[views]") {
  CHECK(builtinOk("_stats", {"0", "2", "4"}) == R"({"sum":6,"count":3,"min":0,"max":4,"sumsqr":20})");
  CHECK(builtinOk("_stats", {"1.5"}) == R"({"sum":1.5,"count":1,"min":1.5,"max":1.5,"sumsqr":2.25})");
  CHECK(
      builtinOk("_stats", {"[1,10]", "[3,20]"}) ==
      R"([{"sum":4,"count":2,"min":1,"max":3,"sumsqr":10},{"sum":30,"count":2,"min":10,"max":20,"sumsqr":500}])");
  CHECK(builtinOk("_stats", {R"({"sum":10,"count":2,"min":4,"max":6,"sumsqr":52,"other":1})", "1"}) ==
        R"({"sum":11,"count":3,"min":1,"max":6,"sumsqr":53})");
  auto a = BuiltinReduce::make("_stats");
  auto b = BuiltinReduce::make("_stats");
  REQUIRE(a->add("1", "1"));
  REQUIRE(b->add("1", "5"));
  REQUIRE(a->merge(*b));
  CHECK(a->final().value() == R"({"sum":6,"count":2,"min":1,"max":5,"sumsqr":26})");
}

TEST_CASE("View reduce: _stats of anything else fails the query with CouchDB's reason", "[views]") {
  auto reasonOf = [](const std::vector<std::string>& values) {
    auto r = builtin("_stats", values);
    REQUIRE_FALSE(r);
    CHECK(std::string(r.status().error()) == "invalid_value");
    return r.status().reason();
  };
  CHECK(reasonOf({R"("a")"}) == R"(non-numeric _stats input: <<"a">>)");
  CHECK(reasonOf({"1", R"("a")"}) ==
        R"(The _stats function requires that map values be numbers or arrays of numbers, not '<<"a">>')");
  CHECK(reasonOf({"1", "null"}) ==
        "The _stats function requires that map values be numbers or arrays of numbers, not 'null'");
  CHECK(reasonOf({R"({"sum":1})"}).starts_with("user _stats input missing required field count"));
  CHECK(reasonOf({R"({"sum":1,"count":"x","min":1,"max":1,"sumsqr":1})"}) ==
        R"(non-numeric _stats input received for count: <<"x">>)");
}

TEST_CASE("View reduce: _approx_count_distinct counts distinct keys, collation-equal ones once", "[views]") {
  size_t failures = 0;
  auto acc = BuiltinReduce::make("_approx_count_distinct");
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 300; ++i) failures += !acc->add(R"(["k",)" + std::to_string(i) + "]", "null").isOk();
  REQUIRE(acc->add("1", "null"));
  REQUIRE(acc->add("1.0", "null"));
  auto n = std::stoll(acc->final().value());
  CHECK(n >= 295);
  CHECK(n <= 307);
  // Merging sketches of the same keys counts them once.
  auto other = BuiltinReduce::make("_approx_count_distinct");
  for (int i = 0; i < 300; ++i) failures += !other->add(R"(["k",)" + std::to_string(i) + "]", "null").isOk();
  REQUIRE(acc->merge(*other));
  CHECK(std::stoll(acc->final().value()) == n);
  // Large counts stay close.
  auto big = BuiltinReduce::make("_approx_count_distinct");
  for (int i = 0; i < 100000; ++i) failures += !big->add(std::to_string(i), "null").isOk();
  CHECK(failures == 0);
  auto estimate = std::stoll(big->final().value());
  CHECK(estimate > 92000);
  CHECK(estimate < 108000);
}

TEST_CASE("View reduce: a JavaScript reduce gets rows in bounded chunks, then rereduces the partials",
          "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::vector<std::string> docs;
  for (int i = 0; i < 2500; ++i)
    docs.push_back(R"({"_id":"d)" + std::to_string(10000 + i) + R"(","k":[")" + (i < 2400 ? "big" : "small") +
                   R"(",)" + std::to_string(i) + R"(],"v":1})");
  std::vector<std::string_view> views(docs.begin(), docs.end());
  for (const auto& r : db->bulkDocs(views)) REQUIRE(r.status);
  auto index = openIndex(dir, kvSpec("function(keys, values, rereduce){ return sum(values); }"));
  REQUIRE(index->update(*db, kvMapper(), {}, 1000));
  size_t reduceCalls = 0, rereduceCalls = 0, largest = 0;
  // sum(values), as the JavaScript says; rows carry their id and key.
  Reducer reducer = [&](std::string_view source, const ReduceInput& input) -> Result<std::string> {
    CHECK(source.starts_with("function"));
    long long sum = 0;
    if (input.rereduce) {
      ++rereduceCalls;
      for (std::string_view v : input.values) sum += std::stoll(std::string(v));
    } else {
      ++reduceCalls;
      largest = std::max(largest, input.rows.size());
      for (const ViewRow& r : input.rows) {
        CHECK(r.id.starts_with("d"));
        CHECK(r.key.starts_with("["));
        sum += std::stoll(std::string(r.value));
      }
    }
    return std::to_string(sum);
  };
  CHECK(reduceOf(*index, 0, {}, {}, reducer) == std::vector<std::string>{"null 2500"});
  CHECK(reduceCalls == 3);
  CHECK(rereduceCalls == 1);
  CHECK(largest == 1000);
  reduceCalls = rereduceCalls = 0;
  CHECK(reduceOf(*index, 0, level(1), {}, reducer) ==
        std::vector<std::string>{R"(["big"] 2400)", R"(["small"] 100)"});
  CHECK(reduceCalls == 4);  // 1000 + 1000 + 400, then 100
  CHECK(rereduceCalls == 1);
  // A reducer's error is the query's.
  Reducer failing = [](std::string_view, const ReduceInput&) -> Result<std::string> {
    return Status(ErrorCode::Internal, "reduce crashed", "os_process_error");
  };
  Status st = index->reduce(0, {}, {}, failing, [](const ReducedRow&) { return true; });
  CHECK(st.reason() == "reduce crashed");
  CHECK(std::string(st.error()) == "os_process_error");
}
