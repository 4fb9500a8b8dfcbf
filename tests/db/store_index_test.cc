// json index rows kept by the Store (store_index.cc) on real SQLite files: exact through every kind of
// write, built for documents older than their index, and scanned by range, direction and position.
#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "db/collate_key.h"
#include "db/json.h"
#include "db/store.h"
#include "faulty_vfs.h"
#include "test_util.h"

using namespace settee;
using settee::db::IndexScan;
using settee::db::IndexSpec;
using settee::db::Store;
using settee::db::WriteOp;
using settee::test::Json;
using settee::test::TempDir;

namespace {

std::unique_ptr<Store> openStore(const TempDir& dir) {
  auto store = Store::open(dir.file("db.settee"), "db", DatabaseOptions{});
  REQUIRE(store);
  return std::move(*store);
}

// Writes one document; returns its new revision.
std::string put(Store& store, const std::string& json, bool newEdits = true) {
  std::vector<WriteOp> ops;
  ops.push_back(store.parse(json));
  auto results = store.write(ops, newEdits);
  INFO(json << ": " << results[0].status.reason());
  REQUIRE(results[0].status.isOk());
  return results[0].rev;
}

std::string rev(Store& store, const std::string& id) {
  auto doc = store.get(id, ReadOptions{});
  REQUIRE(doc);
  return Json(*doc).str("_rev");
}

// A design document holding one json index view per (name, fields JSON object[, partial selector]).
std::string ddocJson(const std::string& id, const std::vector<std::vector<std::string>>& views,
                     const std::string& revision = "") {
  std::string out = R"({"_id":")" + id + "\"";
  if (!revision.empty()) out += R"(,"_rev":")" + revision + "\"";
  out += R"(,"language":"query","views":{)";
  for (size_t i = 0; i < views.size(); ++i) {
    out += (i ? "," : "") + ("\"" + views[i][0] + R"(":{"map":{"fields":)" + views[i][1]);
    if (views[i].size() > 2) out += R"(,"partial_filter_selector":)" + views[i][2];
    out += R"(},"reduce":"_count","options":{"def":{}}})";
  }
  return out + "}}";
}

IndexSpec specOf(Store& store, const std::string& ddoc, const std::string& name) {
  auto all = store.indexes();
  REQUIRE(all);
  for (auto& s : *all)
    if (s.ddoc == ddoc && s.name == name) return s;
  FAIL("no index " << ddoc << "/" << name);
  return {};
}

// The (doc id, values) of every row of the index in scan order.
std::vector<std::pair<std::string, std::string>> rows(Store& store, const IndexSpec& spec,
                                                      IndexScan scan = {}) {
  std::vector<std::pair<std::string, std::string>> out;
  auto n = store.scanIndex(spec, scan, ReadOptions{}, [&](const db::IndexEntry& e, const auto&) {
    out.emplace_back(std::string(e.docId), std::string(e.values));
    return true;
  });
  REQUIRE(n);
  CHECK(*n == out.size());
  return out;
}

std::vector<std::string> ids(const std::vector<std::pair<std::string, std::string>>& rs) {
  std::vector<std::string> out;
  for (auto& r : rs) out.push_back(r.first);
  return out;
}

std::string keyOf(const std::string& json) {
  simdjson::dom::parser p;
  simdjson::dom::element e = p.parse(json).value();
  std::string k;
  db::appendCollationKey(e, k);
  return k;
}

using Ids = std::vector<std::string>;

}  // namespace

TEST_CASE("Index rows: a document written after its index has its row at once, in key order", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, ddocJson("_design/i", {{"by-n", R"({"n":"asc"})"}}));
  put(*store, R"({"_id":"b","n":2})");
  put(*store, R"({"_id":"a","n":10})");
  put(*store, R"({"_id":"c","n":"text"})");
  put(*store, R"({"_id":"d","other":1})");      // no `n`: no row
  put(*store, R"({"_id":"e","n":null})");       // null is a value
  put(*store, R"({"_id":"_design/x","n":1})");  // design documents are never rows
  IndexSpec spec = specOf(*store, "_design/i", "by-n");
  auto rs = rows(*store, spec);
  CHECK(ids(rs) == Ids{"e", "b", "a", "c"});
  CHECK(rs[1].second == "[2]");
  CHECK(rs[3].second == R"(["text"])");
}

TEST_CASE("Index rows: updates move a row, deletions and a missing field remove it", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, ddocJson("_design/i", {{"by-n", R"({"n":"asc"})"}}));
  std::string a = put(*store, R"({"_id":"a","n":1})");
  put(*store, R"({"_id":"b","n":2})");
  IndexSpec spec = specOf(*store, "_design/i", "by-n");
  a = put(*store, R"({"_id":"a","_rev":")" + a + R"(","n":3})");
  CHECK(ids(rows(*store, spec)) == Ids{"b", "a"});
  CHECK(rows(*store, spec)[1].second == "[3]");
  a = put(*store, R"({"_id":"a","_rev":")" + a + R"(","m":3})");
  CHECK(ids(rows(*store, spec)) == Ids{"b"});
  a = put(*store, R"({"_id":"a","_rev":")" + a + R"(","n":0})");
  CHECK(ids(rows(*store, spec)) == Ids{"a", "b"});
  put(*store, R"({"_id":"a","_rev":")" + a + R"(","_deleted":true})");
  CHECK(ids(rows(*store, spec)) == Ids{"b"});
  // Re-created after the deletion: indexed again.
  put(*store, R"({"_id":"a","n":5})");
  CHECK(ids(rows(*store, spec)) == Ids{"b", "a"});
}

TEST_CASE("Index rows: an edit that keeps the key keeps the row, with the values the winner now holds",
          "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, ddocJson("_design/i", {{"by-n", R"({"n":"asc"})"}}));
  std::string a = put(*store, R"({"_id":"a","n":1,"note":"x"})");
  put(*store, R"({"_id":"b","n":2})");
  IndexSpec spec = specOf(*store, "_design/i", "by-n");
  // A field no index holds: the row stays as it was.
  a = put(*store, R"({"_id":"a","_rev":")" + a + R"(","n":1,"note":"y"})");
  auto rs = rows(*store, spec);
  CHECK(ids(rs) == Ids{"a", "b"});
  CHECK(rs[0].second == "[1]");
  // 1.0 collates as 1 (the same key) but is written as given: the row's values follow the winner.
  REQUIRE(keyOf("1.0") == keyOf("1"));
  put(*store, R"({"_id":"a","_rev":")" + a + R"(","n":1.0,"note":"y"})");
  rs = rows(*store, spec);
  CHECK(ids(rs) == Ids{"a", "b"});
  CHECK(rs[0].second == "[1.0]");
}

TEST_CASE("Index rows: the winner of a conflict is indexed, the losing branch is not", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, ddocJson("_design/i", {{"by-v", R"({"v":"asc"})"}}));
  IndexSpec spec = specOf(*store, "_design/i", "by-v");
  put(*store, R"({"_id":"c","_rev":"1-aaaa","v":"one"})", false);
  CHECK(rows(*store, spec) == std::vector<std::pair<std::string, std::string>>{{"c", R"(["one"])"}});
  // A replicated branch of the same generation with a greater hash wins.
  put(*store, R"({"_id":"c","_rev":"1-ffff","v":"two"})", false);
  CHECK(rows(*store, spec) == std::vector<std::pair<std::string, std::string>>{{"c", R"(["two"])"}});
  // A losing branch that arrives later changes nothing.
  put(*store, R"({"_id":"c","_rev":"1-0000","v":"zero"})", false);
  CHECK(rows(*store, spec) == std::vector<std::pair<std::string, std::string>>{{"c", R"(["two"])"}});
  // Resolving for the first branch makes it the winner.
  auto resolved = store->resolveConflicts("c", "1-aaaa", std::nullopt);
  REQUIRE(resolved);
  CHECK(rows(*store, spec) == std::vector<std::pair<std::string, std::string>>{{"c", R"(["one"])"}});
  // And resolving with a merged body indexes the merge.
  put(*store, R"({"_id":"c","_rev":"1-eeee","v":"three"})", false);
  REQUIRE(store->resolveConflicts("c", "1-eeee", std::string(R"({"v":"merged"})")));
  CHECK(rows(*store, spec) == std::vector<std::pair<std::string, std::string>>{{"c", R"(["merged"])"}});
}

TEST_CASE("Index rows: purge and compaction keep them exact", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, ddocJson("_design/i", {{"by-v", R"({"v":"asc"})"}}));
  IndexSpec spec = specOf(*store, "_design/i", "by-v");
  put(*store, R"({"_id":"p","_rev":"1-aaaa","v":"loser"})", false);
  put(*store, R"({"_id":"p","_rev":"1-ffff","v":"winner"})", false);
  std::string q = put(*store, R"({"_id":"q","v":"q1"})");
  put(*store, R"({"_id":"q","_rev":")" + q + R"(","v":"q2"})");
  CHECK(rows(*store, spec).front().second == R"(["q2"])");
  REQUIRE(store->compact());
  CHECK(ids(rows(*store, spec)) == Ids{"q", "p"});
  CHECK(rows(*store, spec)[1].second == R"(["winner"])");
  // A row's document still loads after compaction.
  std::string loaded;
  REQUIRE(store->scanIndex(spec, {}, ReadOptions{}, [&](const db::IndexEntry&, const auto& load) {
    auto doc = load();
    REQUIRE(doc);
    loaded += *doc;
    return false;
  }));
  CHECK(Json(loaded).str("v") == "q2");
  // Purging the winner makes the other branch the winner.
  REQUIRE(store->purge({{"p", {"1-ffff"}}}));
  CHECK(rows(*store, spec) ==
        std::vector<std::pair<std::string, std::string>>{{"p", R"(["loser"])"}, {"q", R"(["q2"])"}});
  // Purging the last revision removes the document and its row.
  REQUIRE(store->purge({{"p", {"1-aaaa"}}}));
  CHECK(ids(rows(*store, spec)) == Ids{"q"});
}

TEST_CASE("Index rows: an index over existing documents is built by updateIndex, in chunks", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  // More documents than one build chunk (2,000), some of them changed after the index is registered.
  std::vector<WriteOp> ops;
  for (int i = 0; i < 4500; ++i)
    ops.push_back(
        store->parse(R"({"_id":"d)" + std::to_string(100000 + i) + R"(","n":)" + std::to_string(i) + "}"));
  for (auto& r : store->write(ops, true)) REQUIRE(r.status.isOk());
  put(*store, R"({"_id":"gone","n":-1})");
  put(*store, ddocJson("_design/i", {{"by-n", R"({"n":"desc"})"}}));
  IndexSpec spec = specOf(*store, "_design/i", "by-n");
  CHECK(spec.fields.size() == 1);
  CHECK(spec.fields[0].descending);
  // Before the build only writes after the registration have rows.
  put(*store, R"({"_id":"late","n":-5})");
  put(*store, R"({"_id":"d100010","_rev":")" + rev(*store, "d100010") + R"(","n":-2})");
  put(*store, R"({"_id":"gone","_rev":")" + rev(*store, "gone") + R"(","_deleted":true})");
  CHECK(ids(rows(*store, spec)) == Ids{"late", "d100010"});
  REQUIRE(store->updateIndex(spec));
  auto rs = rows(*store, spec);
  REQUIRE(rs.size() == 4501);
  CHECK(ids(rs)[0] == "late");
  CHECK(ids(rs)[1] == "d100010");
  CHECK(rs[2].first == "d100000");
  CHECK(rs.back() == std::pair<std::string, std::string>{"d104499", "[4499]"});
  // Built: a second call has nothing to do, and writes keep the rows exact.
  REQUIRE(store->updateIndex(spec));
  CHECK(rows(*store, spec).size() == 4501);
}

TEST_CASE("Index scans: ranges, direction and resuming after a position", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, ddocJson("_design/i", {{"by-n", R"({"n":"asc"})"}}));
  IndexSpec spec = specOf(*store, "_design/i", "by-n");
  for (int i = 1; i <= 5; ++i)
    put(*store, R"({"_id":"d)" + std::to_string(i) + R"(","n":)" + std::to_string(i) + "}");
  put(*store, R"({"_id":"e3","n":3})");

  IndexScan scan;
  scan.range.lower = keyOf("2");
  scan.range.upper = keyOf("4");
  CHECK(ids(rows(*store, spec, scan)) == Ids{"d2", "d3", "e3", "d4"});
  scan.range.lowerInclusive = false;
  scan.range.upperInclusive = false;
  CHECK(ids(rows(*store, spec, scan)) == Ids{"d3", "e3"});
  scan.descending = true;
  CHECK(ids(rows(*store, spec, scan)) == Ids{"e3", "d3"});
  // Resume strictly after (key 3, "e3") in descending order: the next is (3, "d3").
  scan.after = std::make_pair(keyOf("3"), std::string("e3"));
  CHECK(ids(rows(*store, spec, scan)) == Ids{"d3"});
  IndexScan open;
  open.after = std::make_pair(keyOf("3"), std::string("d3"));
  CHECK(ids(rows(*store, spec, open)) == Ids{"e3", "d4", "d5"});
  IndexScan upperOnly;
  upperOnly.range.upper = keyOf("2");
  upperOnly.descending = true;
  CHECK(ids(rows(*store, spec, upperOnly)) == Ids{"d2", "d1"});
  // The callback stops the scan.
  int seen = 0;
  auto n = store->scanIndex(spec, {}, ReadOptions{},
                            [&](const db::IndexEntry&, const auto&) { return ++seen < 2; });
  REQUIRE(n);
  CHECK(*n == 2);
}

TEST_CASE("Index rows: compound keys order field by field, and _id can be indexed", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store,
      ddocJson("_design/i", {{"type-ts", R"({"type":"asc","ts":"asc"})"}, {"ids", R"({"_id":"asc"})"}}));
  put(*store, R"({"_id":"o1","type":"order","ts":5})");
  put(*store, R"({"_id":"o2","type":"order","ts":1})");
  put(*store, R"({"_id":"c1","type":"customer","ts":9})");
  put(*store, R"({"_id":"B","type":"order"})");
  CHECK(ids(rows(*store, specOf(*store, "_design/i", "type-ts"))) == Ids{"c1", "o2", "o1"});
  auto byId = rows(*store, specOf(*store, "_design/i", "ids"));
  CHECK(ids(byId) == Ids{"B", "c1", "o1", "o2"});  // ICU order: "B" before "c"
  CHECK(byId[0].second == R"(["B"])");
  // A prefix range: every key that extends ["order"].
  IndexScan scan;
  scan.range.lower = keyOf(R"("order")");
  scan.range.upper = keyOf(R"("order")") + db::kAfterAll;
  CHECK(ids(rows(*store, specOf(*store, "_design/i", "type-ts"), scan)) == Ids{"o2", "o1"});
}

TEST_CASE("Index rows: a partial index holds only documents its selector matches", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, R"({"_id":"x1","route":"r1","status":"open"})");
  put(*store, ddocJson("_design/p", {{"open-routes", R"({"route":"asc"})", R"({"status":"open"})"}}));
  IndexSpec spec = specOf(*store, "_design/p", "open-routes");
  CHECK(spec.partialJson == R"({"status":"open"})");
  std::string r2 = put(*store, R"({"_id":"x2","route":"r0","status":"open"})");
  put(*store, R"({"_id":"x3","route":"r2","status":"done"})");
  REQUIRE(store->updateIndex(spec));
  CHECK(ids(rows(*store, spec)) == Ids{"x2", "x1"});
  put(*store, R"({"_id":"x2","_rev":")" + r2 + R"(","route":"r0","status":"done"})");
  CHECK(ids(rows(*store, spec)) == Ids{"x1"});
}

TEST_CASE("Index rows: replacing or deleting the design document redefines or drops its indexes",
          "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, R"({"_id":"a","n":1,"m":9})");
  put(*store, R"({"_id":"b","n":2,"m":8})");
  std::string d = put(*store, ddocJson("_design/i", {{"idx", R"({"n":"asc"})"}, {"keep", R"({"m":"asc"})"}}));
  REQUIRE(store->updateIndex(specOf(*store, "_design/i", "idx")));
  REQUIRE(store->updateIndex(specOf(*store, "_design/i", "keep")));
  CHECK(ids(rows(*store, specOf(*store, "_design/i", "idx"))) == Ids{"a", "b"});
  // The same name with another definition: its rows are those of the new definition once built; the
  // unchanged index keeps its rows.
  d = put(*store, ddocJson("_design/i", {{"idx", R"({"m":"asc"})"}, {"keep", R"({"m":"asc"})"}}, d));
  CHECK(rows(*store, specOf(*store, "_design/i", "idx")).empty());
  CHECK(ids(rows(*store, specOf(*store, "_design/i", "keep"))) == Ids{"b", "a"});
  REQUIRE(store->updateIndex(specOf(*store, "_design/i", "idx")));
  CHECK(ids(rows(*store, specOf(*store, "_design/i", "idx"))) == Ids{"b", "a"});
  // Another language: not an index any more.
  d = put(*store, R"({"_id":"_design/i","_rev":")" + d + R"(","language":"javascript","views":{}})");
  CHECK(store->indexes()->empty());
  d = put(*store, ddocJson("_design/i", {{"idx", R"({"n":"asc"})"}}, d));
  CHECK(store->indexes()->size() == 1);
  put(*store, R"({"_id":"_design/i","_rev":")" + d + R"(","_deleted":true})");
  CHECK(store->indexes()->empty());
  IndexSpec gone;
  gone.ddoc = "_design/i";
  gone.name = "idx";
  CHECK(store->scanIndex(gone, {}, ReadOptions{}, [](auto&, auto&) { return true; }).status().code() ==
        ErrorCode::NotFound);
}

TEST_CASE("Index rows: a view CouchDB would skip defines no index", "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  put(*store, R"({"_id":"_design/bad","language":"query","views":{
    "no-map":{"reduce":"_count"},
    "array-fields":{"map":{"fields":["a"]}},
    "bad-dir":{"map":{"fields":{"a":"up"}}},
    "empty":{"map":{"fields":{}}},
    "bad-partial":{"map":{"fields":{"a":"asc"},"partial_filter_selector":{"a":{"$bogus":1}}}},
    "good":{"map":{"fields":{"a":"asc"},"partial_filter_selector":{}}}}})");
  auto all = store->indexes();
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].name == "good");
  CHECK((*all)[0].partialJson.empty());
}

TEST_CASE("Index rows: registrations and rows survive reopening the file", "[db][index]") {
  TempDir dir;
  {
    auto store = openStore(dir);
    put(*store, R"({"_id":"a","n":1})");
    put(*store, ddocJson("_design/i", {{"by-n", R"({"n":"asc"})"}}));
    put(*store, R"({"_id":"b","n":0})");
  }
  auto store = openStore(dir);
  IndexSpec spec = specOf(*store, "_design/i", "by-n");
  CHECK(ids(rows(*store, spec)) == Ids{"b"});
  REQUIRE(store->updateIndex(spec));
  CHECK(ids(rows(*store, spec)) == Ids{"b", "a"});
}

TEST_CASE("Index rows: a file from before indexes registers the indexes of its design documents",
          "[db][index][migration]") {
  TempDir dir;
  {
    auto store = openStore(dir);
    put(*store, R"({"_id":"a","n":1})");
    put(*store, ddocJson("_design/i", {{"by-n", R"({"n":"asc"})"}}));
  }
  {
    // Version 2's layout: no index tables.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(dir.file("db.settee").c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw,
                         "DROP TABLE mango_indexes; DROP TABLE mango_rows; DROP TABLE mango_row_keys;"
                         "UPDATE meta SET value = 2 WHERE key = 'schema_version';",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = openStore(dir);
  IndexSpec spec = specOf(*store, "_design/i", "by-n");
  put(*store, R"({"_id":"b","n":2})");
  REQUIRE(store->updateIndex(spec));
  CHECK(ids(rows(*store, spec)) == Ids{"a", "b"});
}

TEST_CASE("Index rows: a database without json indexes keeps no index data", "[db][index]") {
  TempDir dir;
  {
    auto store = openStore(dir);
    std::string r = put(*store, R"({"_id":"a","n":1})");
    put(*store, R"({"_id":"a","_rev":")" + r + R"(","n":2})");
    put(*store, R"({"_id":"_design/js","language":"javascript","views":{"v":{"map":"function(doc){}"}}})");
    put(*store, R"({"_id":"_design/q","language":"query"})");
    CHECK(store->indexes()->empty());
  }
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(dir.file("db.settee").c_str(), &raw) == SQLITE_OK);
  for (const char* table : {"mango_indexes", "mango_rows", "mango_row_keys"}) {
    sqlite3_stmt* stmt = nullptr;
    std::string sql = std::string("SELECT count(*) FROM ") + table;
    REQUIRE(sqlite3_prepare_v2(raw, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    CHECK(sqlite3_column_int64(stmt, 0) == 0);
    sqlite3_finalize(stmt);
  }
  sqlite3_close(raw);
}

TEST_CASE("Index rows: a batch that registered an index and then failed leaves no index behind",
          "[db][index][diskfull]") {
  struct Disarm {
    ~Disarm() { settee::test::FaultyDisk::disarm(); }
  } disarm;
  TempDir dir;
  DatabaseOptions options;
  options.vfs = settee::test::FaultyDisk::install();
  auto opened = Store::open(dir.file("db.settee"), "db", options);
  REQUIRE(opened);
  Store& store = **opened;
  put(store, R"({"_id":"a","n":1})");
  // The design document, then a document whose write reads the registrations (as the batch sees them).
  std::vector<WriteOp> ops;
  ops.push_back(store.parse(ddocJson("_design/i", {{"by-n", R"({"n":"asc"})"}})));
  ops.push_back(store.parse(R"({"_id":"b","n":2})"));
  settee::test::FaultyDisk::resetFaults();
  settee::test::FaultyDisk::fillAfter(0);  // the commit cannot write
  for (auto& r : store.write(ops, true)) CHECK_FALSE(r.status.isOk());
  REQUIRE(settee::test::FaultyDisk::faults() > 0);
  settee::test::FaultyDisk::disarm();
  // Rolled back: no index, and the next writes keep no rows for one.
  auto after = store.indexes();
  REQUIRE(after);
  CHECK(after->empty());
  put(store, R"({"_id":"c","n":3})");
  put(store, ddocJson("_design/i", {{"by-n", R"({"n":"asc"})"}}));
  IndexSpec spec = specOf(store, "_design/i", "by-n");
  REQUIRE(store.updateIndex(spec));
  CHECK(ids(rows(store, spec)) == Ids{"a", "c"});
}

TEST_CASE("Index rows: after any random history of writes the rows are exactly those of the winners",
          "[db][index]") {
  TempDir dir;
  auto store = openStore(dir);
  std::mt19937 rng(7);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const char* values[] = {"1",      "2.5",  "-3",   R"("a")",     R"("B")",
                          R"("b")", "null", "true", R"([1,"x"])", R"({"k":1})"};
  auto body = [&]() -> std::string {
    if (pick(6) == 0) return R"("other":1)";  // no indexed field
    return std::string(R"("v":)") + values[pick(10)] + R"(,"s":)" + (pick(2) ? R"("open")" : R"("done")");
  };
  // Two indexes: all documents with `v`, and those with `v` whose `s` is "open".
  std::string ddocRev =
      put(*store,
          ddocJson("_design/i", {{"all", R"({"v":"asc"})"}, {"open", R"({"v":"asc"})", R"({"s":"open"})"}}));
  std::vector<std::string> ids;
  int hashes = 0;
  for (int step = 0; step < 1500; ++step) {
    const int op = pick(100);
    const std::string id = ids.empty() || op < 25
                               ? "d" + std::to_string(ids.size())
                               : ids[static_cast<size_t>(pick(static_cast<int>(ids.size())))];
    if (op < 25) {
      put(*store, R"({"_id":")" + id + R"(",)" + body() + "}");
      ids.push_back(id);
    } else if (op < 55) {  // edit (or re-create) the winner
      auto doc = store->get(id, ReadOptions{});
      std::string revPart = doc ? R"(,"_rev":")" + Json(*doc).str("_rev") + "\"" : "";
      put(*store, R"({"_id":")" + id + "\"" + revPart + "," + body() + "}");
    } else if (op < 65) {  // delete
      auto doc = store->get(id, ReadOptions{});
      if (doc)
        put(*store, R"({"_id":")" + id + R"(","_rev":")" + Json(*doc).str("_rev") + R"(","_deleted":true})");
    } else if (op < 80) {  // a replicated branch: a conflict that may win or lose
      char hash[40];
      std::snprintf(hash, sizeof hash, "%032x",
                    static_cast<unsigned>(rng()) ^ static_cast<unsigned>(++hashes));
      put(*store,
          R"({"_id":")" + id + R"(","_rev":")" + std::to_string(1 + pick(3)) + "-" + hash + R"(",)" + body() +
              "}",
          false);
    } else if (op < 87) {  // resolve conflicts for a random live leaf
      auto tree = store->tree(id);
      if (!tree) continue;
      std::vector<std::string> live;
      for (int leaf : tree->leavesByPriority())
        if (!(*tree)[leaf].deleted) live.push_back((*tree)[leaf].rev());
      if (live.size() > 1)
        REQUIRE(store->resolveConflicts(id, live[static_cast<size_t>(pick(static_cast<int>(live.size())))],
                                        std::nullopt));
    } else if (op < 95) {  // purge a random leaf
      auto tree = store->tree(id);
      if (!tree) continue;
      auto leaves = tree->leavesByPriority();
      REQUIRE(store->purge(
          {{id, {(*tree)[leaves[static_cast<size_t>(pick(static_cast<int>(leaves.size())))]].rev()}}}));
    } else if (op < 97) {
      REQUIRE(store->compact());
    } else {  // redefine the partial index (a changed definition is rebuilt)
      const char* status = pick(2) ? R"({"s":"open"})" : R"({"s":"done"})";
      ddocRev = put(
          *store,
          ddocJson("_design/i", {{"all", R"({"v":"asc"})"}, {"open", R"({"v":"asc"})", status}}, ddocRev));
    }
    if (step % 100 != 99) continue;
    // The oracle: each winner's row, from the documents as get() renders them.
    auto specs = store->indexes();
    REQUIRE(specs);
    for (const IndexSpec& spec : *specs) {
      REQUIRE(store->updateIndex(spec));
      auto partial = spec.partial;
      std::vector<std::tuple<std::string, std::string, std::string>> expected;  // key, id, values
      for (const std::string& docId : ids) {
        auto doc = store->get(docId, ReadOptions{});
        if (!doc) continue;
        simdjson::dom::parser p;
        simdjson::dom::element e = p.parse(*doc).value();
        simdjson::dom::element v;
        if (e["v"].get(v)) continue;
        if (partial && !partial->matches(e)) continue;
        std::string key;
        db::appendCollationKey(v, key);
        expected.emplace_back(key, docId, "[" + db::toJson(v) + "]");
      }
      std::sort(expected.begin(), expected.end());
      std::vector<std::tuple<std::string, std::string, std::string>> actual;
      REQUIRE(store->scanIndex(spec, {}, ReadOptions{}, [&](const db::IndexEntry& en, const auto&) {
        actual.emplace_back(std::string(en.key), std::string(en.docId), std::string(en.values));
        return true;
      }));
      INFO("step " << step << ", index " << spec.name);
      CHECK(actual == expected);
    }
  }
}
