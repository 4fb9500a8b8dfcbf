// The view index (db/view_index.h) on real SQLite files, with a C++ map in place of JavaScript: design
// documents parsed as CouchDB checks them, rows in CouchDB's view collation, every scan option,
// incremental and resumable updates, and a new file per signature.
#include "db/view_index.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "db/database_internal.h"
#include "db/json.h"
#include "db/view_reduce.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::db::Mapper;
using settee::db::parseViewGroup;
using settee::db::ViewEmit;
using settee::db::ViewGroupSpec;
using settee::db::ViewIndex;
using settee::db::ViewRow;
using settee::db::ViewScan;
using settee::test::TempDir;

namespace {

// What one view's map emits for one parsed document.
using ViewFn = std::function<void(simdjson::dom::element doc, std::vector<ViewEmit>& out)>;

std::string json(simdjson::dom::element e) { return db::toJson(e); }

// emit(doc.k, doc.v) when the document has `k` (v defaults to null).
void emitKV(simdjson::dom::element doc, std::vector<ViewEmit>& out) {
  simdjson::dom::element k, v;
  if (doc["k"].get(k)) return;
  out.push_back({json(k), doc["v"].get(v) ? std::string("null") : json(v)});
}
// for each t of doc.tags: emit(t, null).
void emitTags(simdjson::dom::element doc, std::vector<ViewEmit>& out) {
  simdjson::dom::array tags;
  if (doc["tags"].get(tags)) return;
  for (auto t : tags) out.push_back({json(t), "null"});
}

// A Mapper running C++ map functions, counting the documents it maps.
Mapper mapperOf(std::vector<ViewFn> views, size_t* mapped = nullptr) {
  return [views = std::move(views), mapped](const std::vector<std::string_view>& docs)
             -> Result<std::vector<std::vector<std::vector<ViewEmit>>>> {
    std::vector<std::vector<std::vector<ViewEmit>>> out;
    simdjson::dom::parser parser;
    for (std::string_view text : docs) {
      simdjson::dom::element doc = parser.parse(text.data(), text.size(), true).value();
      auto& perView = out.emplace_back(views.size());
      for (size_t v = 0; v < views.size(); ++v) views[v](doc, perView[v]);
      if (mapped) ++*mapped;
    }
    return out;
  };
}

ViewGroupSpec specOf(const std::string& ddoc) {
  auto spec = parseViewGroup("_design/app", ddoc);
  REQUIRE(spec);
  return *spec;
}

// A design document with views "kv" (map emits k → v, reduce `reduce`) and "tags".
ViewGroupSpec kvSpec(const std::string& reduce = "_sum") {
  return specOf(
      R"({"views":{"kv":{"map":"function(doc){ if (doc.k !== undefined) emit(doc.k, doc.v); }","reduce":")" +
      reduce +
      R"("},"tags":{"map":"function(doc){ (doc.tags||[]).forEach(function(t){ emit(t, null); }); }"}}})");
}
Mapper kvMapper(size_t* mapped = nullptr) { return mapperOf({emitKV, emitTags}, mapped); }

std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto db = Database::open(dir.file("db.settee"), "db");
  REQUIRE(db);
  return std::move(*db);
}

std::unique_ptr<ViewIndex> openIndex(const TempDir& dir, const ViewGroupSpec& spec) {
  auto index = ViewIndex::open(db::viewFileFor(dir.file("views"), spec.signature), spec);
  INFO((index ? "" : index.status().reason()));
  REQUIRE(index);
  return std::move(*index);
}

std::string put(Database& db, const std::string& doc) {
  auto r = db.put(doc);
  INFO(doc << ": " << (r ? "" : r.status().reason()));
  REQUIRE(r);
  return r->rev;
}

struct Scanned {
  uint64_t totalRows = 0;
  uint64_t offset = 0;
  std::vector<std::string> rows;  // "id key value"
};

Scanned scanOf(ViewIndex& index, size_t view, const ViewScan& scan = {}) {
  Scanned out;
  auto total = index.scan(
      view, scan,
      [&](const ViewRow& r) {
        out.rows.push_back(std::string(r.id) + " " + std::string(r.key) + " " + std::string(r.value));
        return true;
      },
      &out.offset);
  INFO((total ? "" : total.status().reason()));
  REQUIRE(total);
  out.totalRows = *total;
  return out;
}

std::vector<std::string> keysOf(const Scanned& s) {
  std::vector<std::string> keys;
  for (const std::string& r : s.rows) {
    auto a = r.find(' ');
    auto b = r.rfind(' ');
    keys.push_back(r.substr(a + 1, b - a - 1));
  }
  return keys;
}

}  // namespace

TEST_CASE("View spec: views in name order, language and options read, signature stable", "[views]") {
  auto spec = specOf(
      R"({"language":"javascript","options":{"include_design":true,"local_seq":true},)"
      R"("views":{"b":{"map":"function(doc){}","reduce":"_count"},"a":{"map":"function(doc){ emit(1) }"},"lib":{"x":"1"}}})");
  REQUIRE(spec.views.size() == 2);
  CHECK(spec.views[0].name == "a");
  CHECK(spec.views[0].reduce.empty());
  CHECK(spec.views[1].name == "b");
  CHECK(spec.views[1].reduce == "_count");
  CHECK(spec.lib == R"({"x":"1"})");
  CHECK(spec.includeDesign);
  CHECK(spec.localSeq);
  CHECK(spec.language == "javascript");
  CHECK(spec.signature.size() == 32);
  CHECK(spec.signature == db::viewSignature(spec));
  // The same views in another member order: the same index.
  auto same = specOf(
      R"({"views":{"a":{"map":"function(doc){ emit(1) }"},"lib":{"x":"1"},"b":{"reduce":"_count","map":"function(doc){}"}},)"
      R"("options":{"local_seq":true,"include_design":true}})");
  CHECK(same.signature == spec.signature);
  // Any change to a function: another index.
  auto edited = specOf(
      R"({"options":{"include_design":true,"local_seq":true},)"
      R"("views":{"b":{"map":"function(doc){}","reduce":"_sum"},"a":{"map":"function(doc){ emit(1) }"},"lib":{"x":"1"}}})");
  CHECK(edited.signature != spec.signature);
}

TEST_CASE("View spec: a design document without views, or a Mango one, is an empty group", "[views]") {
  CHECK(specOf(R"({"filters":{}})").views.empty());
  auto mango = parseViewGroup(
      "_design/idx",
      R"({"language":"query","views":{"i":{"map":{"fields":{"a":"asc"}},"reduce":"_count","options":{}}}})");
  REQUIRE(mango);
  CHECK(mango->views.empty());
  CHECK(mango->language == "query");
}

TEST_CASE("View spec: malformed views are invalid_design_doc with CouchDB's reasons", "[views]") {
  auto reasonOf = [](const std::string& ddoc) {
    auto spec = parseViewGroup("_design/x", ddoc);
    REQUIRE_FALSE(spec);
    CHECK(spec.status().code() == ErrorCode::BadRequest);
    CHECK(std::string(spec.status().error()) == "invalid_design_doc");
    return spec.status().reason();
  };
  CHECK(reasonOf(R"({"views":[]})") == "`views` field must have object type");
  CHECK(reasonOf(R"({"views":{"v":"function(doc){}"}})") == "`views.v` field must have object type");
  CHECK(reasonOf(R"({"views":{"v":{"map":{"fields":{}}}}})") == "`views.v.map` field must have string type");
  CHECK(reasonOf(R"({"views":{"v":{"map":"f","reduce":1}}})") ==
        "`views.v.reduce` field must have string type");
  CHECK(reasonOf(R"({"views":{"v":{"reduce":"_sum"}}})") == "View `v` must contain map function");
  CHECK(reasonOf(R"({"views":{"lib":[]}})") == "`views.lib` field must have object type");
  CHECK(reasonOf(R"({"views":{"v":{"map":"f","reduce":"_median"}}})") ==
        "`_median` is not a supported reduce function.");
  CHECK(reasonOf(R"({"language":1})") == "`language` field must have string type");
}

TEST_CASE("View index: rows in CouchDB's collation across types, then by document id", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  // The keys of CouchDB's "Views Collation" table, written in a scrambled order.
  const std::vector<std::pair<std::string, std::string>> docs = {
      {"o2", R"({"b":2})"}, {"s3", R"("b")"},     {"n1", "null"}, {"a2", R"(["b","c"])"},    {"s1", R"("a")"},
      {"f", "false"},       {"t", "true"},        {"i2", "2"},    {"s2", R"("A")"},          {"d", "1.5"},
      {"a1", R"(["a"])"},   {"o1", R"({"a":1})"}, {"i1", "1"},    {"s4", R"("é")"},          {"s5", R"("B")"},
      {"a0", "[]"},         {"o0", "{}"},         {"neg", "-3"},  {"a3", R"(["b","c","a"])"}};
  for (const auto& [id, key] : docs) put(*db, R"({"_id":")" + id + R"(","k":)" + key + "}");
  // Two documents with one key: ordered by id.
  put(*db, R"({"_id":"zz","k":1})");
  put(*db, R"({"_id":"yy","k":1})");
  auto spec = kvSpec();
  auto index = openIndex(dir, spec);
  auto seq = index->update(*db, kvMapper());
  REQUIRE(seq);
  CHECK(*seq == index->updateSeq());
  auto all = scanOf(*index, 0);
  CHECK(all.totalRows == docs.size() + 2);
  std::vector<std::string> ids;
  for (const std::string& r : all.rows) ids.push_back(r.substr(0, r.find(' ')));
  CHECK(ids == std::vector<std::string>{"n1", "f",  "t",  "neg", "i1", "yy", "zz", "d",  "i2", "s1", "s2",
                                        "s3", "s5", "s4", "a0",  "a1", "a2", "a3", "o0", "o1", "o2"});
}

TEST_CASE("View index: key, ranges with document ids, inclusive_end, descending, skip and limit", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  // Keys 1..5, two documents per key ("k1a", "k1b", ...).
  for (int k = 1; k <= 5; ++k)
    for (const char* suffix : {"a", "b"})
      put(*db, R"({"_id":"k)" + std::to_string(k) + suffix + R"(","k":)" + std::to_string(k) + R"(,"v":)" +
                   std::to_string(k * 10) + "}");
  auto index = openIndex(dir, kvSpec());
  REQUIRE(index->update(*db, kvMapper()));
  auto idsOf = [](const Scanned& s) {
    std::string out;
    for (const std::string& r : s.rows) out += r.substr(0, r.find(' ')) + ",";
    return out;
  };
  ViewScan scan;

  SECTION("key") {
    scan.key = "3";
    auto s = scanOf(*index, 0, scan);
    CHECK(idsOf(s) == "k3a,k3b,");
    CHECK(s.totalRows == 10);
    CHECK(s.offset == 4);
    CHECK(s.rows[0] == "k3a 3 30");
  }
  SECTION("key, descending") {
    scan.key = "3";
    scan.descending = true;
    auto s = scanOf(*index, 0, scan);
    CHECK(idsOf(s) == "k3b,k3a,");
    CHECK(s.offset == 4);
  }
  SECTION("startkey and endkey, both inclusive") {
    scan.startKey = "2";
    scan.endKey = "3";
    CHECK(idsOf(scanOf(*index, 0, scan)) == "k2a,k2b,k3a,k3b,");
  }
  SECTION("inclusive_end=false leaves out every row of the end key") {
    scan.startKey = "2";
    scan.endKey = "3";
    scan.inclusiveEnd = false;
    CHECK(idsOf(scanOf(*index, 0, scan)) == "k2a,k2b,");
  }
  SECTION("startkey_docid and endkey_docid narrow within their keys") {
    scan.startKey = "2";
    scan.startKeyDocId = "k2b";
    scan.endKey = "4";
    scan.endKeyDocId = "k4a";
    CHECK(idsOf(scanOf(*index, 0, scan)) == "k2b,k3a,k3b,k4a,");
    scan.inclusiveEnd = false;
    CHECK(idsOf(scanOf(*index, 0, scan)) == "k2b,k3a,k3b,");
  }
  SECTION("descending: bounds come high to low") {
    scan.descending = true;
    scan.startKey = "4";
    scan.endKey = "2";
    auto s = scanOf(*index, 0, scan);
    CHECK(idsOf(s) == "k4b,k4a,k3b,k3a,k2b,k2a,");
    CHECK(s.offset == 2);  // k5b, k5a come before in this direction
    scan.inclusiveEnd = false;
    CHECK(idsOf(scanOf(*index, 0, scan)) == "k4b,k4a,k3b,k3a,");
    scan.startKeyDocId = "k4a";
    scan.endKeyDocId = "k2b";
    scan.inclusiveEnd = true;
    CHECK(idsOf(scanOf(*index, 0, scan)) == "k4a,k3b,k3a,k2b,");
    scan.inclusiveEnd = false;
    CHECK(idsOf(scanOf(*index, 0, scan)) == "k4a,k3b,k3a,");
  }
  SECTION("skip and limit; offset counts the skipped rows") {
    scan.skip = 3;
    scan.limit = 2;
    auto s = scanOf(*index, 0, scan);
    CHECK(idsOf(s) == "k2b,k3a,");
    CHECK(s.offset == 3);
    scan.descending = true;
    s = scanOf(*index, 0, scan);
    CHECK(idsOf(s) == "k4a,k3b,");
    CHECK(s.offset == 3);
  }
  SECTION("a range past the last key: no rows, offset is total_rows") {
    scan.startKey = R"("z")";
    auto s = scanOf(*index, 0, scan);
    CHECK(s.rows.empty());
    CHECK(s.offset == 10);
  }
  SECTION("the row callback stops the scan") {
    int seen = 0;
    REQUIRE(index->scan(0, scan, [&](const ViewRow&) { return ++seen < 3; }));
    CHECK(seen == 3);
  }
  SECTION("a key that is not JSON is bad_request") {
    scan.startKey = "{nope";
    auto r = index->scan(0, scan, [](const ViewRow&) { return true; });
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == ErrorCode::BadRequest);
  }
}

TEST_CASE("View index: an update maps only what changed; edits and deletes replace a document's rows",
          "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::string rev1 = put(*db, R"({"_id":"a","k":1,"tags":["x","y"]})");
  put(*db, R"({"_id":"b","k":2,"tags":["y"]})");
  put(*db, R"({"_id":"_design/other","k":0})");
  auto index = openIndex(dir, kvSpec());
  size_t mapped = 0;
  REQUIRE(index->update(*db, kvMapper(&mapped)));
  CHECK(mapped == 2);  // the design document is not mapped
  CHECK(keysOf(scanOf(*index, 1)) == std::vector<std::string>{R"("x")", R"("y")", R"("y")"});

  put(*db, R"({"_id":"a","_rev":")" + rev1 + R"(","k":5,"tags":["z"]})");
  auto c = put(*db, R"({"_id":"c","k":3})");
  mapped = 0;
  REQUIRE(index->update(*db, kvMapper(&mapped)));
  CHECK(mapped == 2);
  CHECK(scanOf(*index, 0).rows == std::vector<std::string>{"b 2 null", "c 3 null", "a 5 null"});
  CHECK(scanOf(*index, 1).rows == std::vector<std::string>{R"(b "y" null)", R"(a "z" null)"});

  REQUIRE(db->remove("c", c));
  mapped = 0;
  REQUIRE(index->update(*db, kvMapper(&mapped)));
  CHECK(mapped == 0);
  auto after = scanOf(*index, 0);
  CHECK(after.rows == std::vector<std::string>{"b 2 null", "a 5 null"});
  CHECK(after.totalRows == 2);
  CHECK(scanOf(*index, 1).totalRows == 2);
  // Nothing new: nothing mapped.
  mapped = 0;
  REQUIRE(index->update(*db, kvMapper(&mapped)));
  CHECK(mapped == 0);
}

TEST_CASE("View index: include_design maps design documents; local_seq adds _local_seq", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  put(*db, R"({"_id":"_design/d","k":"design"})");
  put(*db, R"({"_id":"doc","k":"doc"})");
  auto spec = specOf(R"({"options":{"include_design":true,"local_seq":true},"views":{"s":{"map":"x"}}})");
  auto index = openIndex(dir, spec);
  std::vector<std::string> seen;
  auto mapper = mapperOf({[&](simdjson::dom::element doc, std::vector<ViewEmit>& out) {
    seen.push_back(json(doc));
    simdjson::dom::element seq;
    out.push_back({json(doc["_id"].value()), doc["_local_seq"].get(seq) ? "null" : json(seq)});
  }});
  REQUIRE(index->update(*db, mapper));
  CHECK(scanOf(*index, 0).rows == std::vector<std::string>{R"(_design/d "_design/d" 1)", R"(doc "doc" 2)"});
}

TEST_CASE("View index: an update stopped or failed midway keeps whole batches and resumes after reopening",
          "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::string rev100;
  for (int i = 0; i < 25; ++i) {
    auto rev = put(*db, R"({"_id":"d)" + std::to_string(100 + i) + R"(","k":)" + std::to_string(i) + "}");
    if (i == 0) rev100 = rev;
  }
  auto spec = kvSpec();
  {
    auto index = openIndex(dir, spec);
    int batches = 0;
    // Stopped after two batches of 10.
    auto seq = index->update(
        *db, kvMapper(), [&] { return batches++ == 2; }, 10);
    REQUIRE(seq);
    CHECK(*seq == 20);
    CHECK(scanOf(*index, 0).totalRows == 20);
  }
  {
    // A map that fails on its second call (the process could as well have been killed there): the
    // first batch is committed, the second is not.
    auto index = openIndex(dir, spec);
    CHECK(index->updateSeq() == 20);
    auto inner = kvMapper();
    int calls = 0;
    Mapper failing = [&](const std::vector<std::string_view>& docs)
        -> Result<std::vector<std::vector<std::vector<ViewEmit>>>> {
      if (++calls == 2) return Status(ErrorCode::Internal, "map crashed");
      return inner(docs);
    };
    put(*db, R"({"_id":"d100","_rev":")" + rev100 + R"(","k":100})");
    for (int i = 25; i < 30; ++i)
      put(*db, R"({"_id":"d)" + std::to_string(100 + i) + R"(","k":)" + std::to_string(i) + "}");
    auto seq = index->update(*db, failing, {}, 3);
    REQUIRE_FALSE(seq);
    CHECK(seq.status().reason() == "map crashed");
    CHECK(index->updateSeq() == 23);
  }
  auto index = openIndex(dir, spec);
  CHECK(index->updateSeq() == 23);
  REQUIRE(index->update(*db, kvMapper(), {}, 3));
  auto all = scanOf(*index, 0);
  CHECK(all.totalRows == 30);
  CHECK(all.rows.back() == "d100 100 null");
  CHECK(all.rows.front() == "d101 1 null");
}

TEST_CASE("View index: another signature is another file; a file of another signature is replaced",
          "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  put(*db, R"({"_id":"a","k":1})");
  auto spec = kvSpec("_sum");
  auto other = kvSpec("_count");
  CHECK(db::viewFileFor(dir.file("views"), spec.signature) !=
        db::viewFileFor(dir.file("views"), other.signature));
  {
    auto index = openIndex(dir, spec);
    REQUIRE(index->update(*db, kvMapper()));
    CHECK(scanOf(*index, 0).totalRows == 1);
  }
  {
    auto index = openIndex(dir, other);
    CHECK(index->updateSeq() == 0);
    CHECK(std::filesystem::exists(db::viewFileFor(dir.file("views"), spec.signature)));
  }
  // The first file opened for the second signature starts empty.
  auto replaced = ViewIndex::open(db::viewFileFor(dir.file("views"), spec.signature), other);
  REQUIRE(replaced);
  CHECK((*replaced)->updateSeq() == 0);
  CHECK(scanOf(**replaced, 0).totalRows == 0);
}

TEST_CASE("View index: a database deleted with DataDir takes its indexes along", "[views]") {
  TempDir dir;
  DataDir data(dir.path());
  auto db = data.create("db");
  REQUIRE(db);
  put(**db, R"({"_id":"old","k":1})");
  auto spec = kvSpec();
  const std::string file = db::viewFileFor(data.viewDirFor("db"), spec.signature);
  {
    auto index = ViewIndex::open(file, spec);
    REQUIRE(index);
    REQUIRE((*index)->update(**db, kvMapper()));
  }
  CHECK(std::filesystem::exists(file));
  REQUIRE(data.remove("db"));
  CHECK_FALSE(std::filesystem::exists(data.viewDirFor("db")));
  auto list = data.list();
  REQUIRE(list);
  CHECK(list->empty());
  auto again = data.create("db");
  REQUIRE(again);
  auto index = ViewIndex::open(file, spec);
  REQUIRE(index);
  CHECK((*index)->updateSeq() == 0);
}

TEST_CASE("View index: an index ahead of its database (made again under its name) starts over", "[views]") {
  TempDir dir;
  auto spec = kvSpec();
  {
    auto db = openDb(dir);
    for (int i = 0; i < 3; ++i)
      put(*db, R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + "}");
    auto index = openIndex(dir, spec);
    REQUIRE(index->update(*db, kvMapper()));
    CHECK(index->updateSeq() == 3);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(dir.file("db.settee") + suffix);
  auto db = openDb(dir);
  put(*db, R"({"_id":"new","k":9})");
  auto index = openIndex(dir, spec);
  REQUIRE(index->update(*db, kvMapper()));
  auto all = scanOf(*index, 0);
  CHECK(all.rows == std::vector<std::string>{"new 9 null"});
  CHECK(all.totalRows == 1);
}

// ---- reduce ----

namespace {

using settee::db::BuiltinReduce;
using settee::db::ReducedRow;
using settee::db::ReduceInput;
using settee::db::Reducer;
using settee::db::ViewGrouping;

// "key value" of each reduced row.
std::vector<std::string> reduceOf(ViewIndex& index, size_t view, const ViewGrouping& grouping,
                                  const ViewScan& scan = {}, const Reducer& reducer = {}) {
  std::vector<std::string> out;
  Status st = index.reduce(view, scan, grouping, reducer, [&](const ReducedRow& r) {
    out.push_back(std::string(r.key) + " " + std::string(r.value));
    return true;
  });
  INFO(st.reason());
  REQUIRE(st);
  return out;
}

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

// Not run by default: `settee_tests "[.views-bench]"` prints how fast an index builds and answers.
TEST_CASE("View index: build and lookup timing", "[.views-bench]") {
  TempDir dir;
  auto db = openDb(dir);
  // SETTEE_VIEWS_BENCH_DOCS sets the size (default 200,000).
  const char* size = std::getenv("SETTEE_VIEWS_BENCH_DOCS");
  const int kDocs = size ? std::atoi(size) : 200000;
  std::vector<std::string> docs;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kDocs; i += 1000) {
    docs.clear();
    for (int j = i; j < i + 1000; ++j)
      docs.push_back(R"({"_id":"doc)" + std::to_string(j) + R"(","k":)" + std::to_string((j * 7919) % kDocs) +
                     R"(,"v":1,"name":"user )" + std::to_string(j) + R"("})");
    std::vector<std::string_view> views(docs.begin(), docs.end());
    db->bulkDocs(views);
  }
  auto seconds = [](auto since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  };
  const double load = seconds(started);
  auto index = openIndex(dir, kvSpec("_sum"));
  started = std::chrono::steady_clock::now();
  REQUIRE(index->update(*db, kvMapper()));
  const double build = seconds(started);
  const int kLookups = 2000;
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < kLookups; ++i) {
    ViewScan scan;
    scan.key = std::to_string((i * 104729) % kDocs);
    uint64_t offset = 0;
    REQUIRE(index->scan(
        0, scan, [](const ViewRow&) { return true; }, &offset));
  }
  const double lookupsWithOffset = seconds(started);
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < kLookups; ++i) {
    ViewScan scan;
    scan.key = std::to_string((i * 104729) % kDocs);
    REQUIRE(index->scan(0, scan, [](const ViewRow&) { return true; }));
  }
  const double lookups = seconds(started);
  started = std::chrono::steady_clock::now();
  auto total = reduceOf(*index, 0, {});
  const double reduceAll = seconds(started);
  CHECK(total == std::vector<std::string>{"null " + std::to_string(kDocs)});
  auto sizes = index->sizes();
  REQUIRE(sizes);
  WARN(kDocs << " docs written in " << load << " s; index built in " << build
             << " s = " << static_cast<int>(kDocs / build) << " docs/s (C++ map, 2 views); " << kLookups
             << " key lookups: " << static_cast<int>(kLookups / lookups) << "/s without offset, "
             << static_cast<int>(kLookups / lookupsWithOffset) << "/s with offset; _sum over all rows "
             << reduceAll * 1000 << " ms; file " << sizes->file / 1048576 << " MiB, active "
             << sizes->active / 1048576 << " MiB");
}

TEST_CASE("View index: offsets stay exact through many edits, deletes and segment splits", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::mt19937 rng(42);
  std::map<std::string, std::pair<std::string, int>> live;  // id -> (rev, key)
  auto write = [&](int count, bool ascending) {
    std::vector<std::string> docs;
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      std::string id = "doc" + std::to_string(rng() % 20000);
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
      int key = ascending ? 100000 + static_cast<int>(live.size()) : static_cast<int>(rng() % 1000);
      std::string doc = R"({"_id":")" + id + R"(","k":)" + std::to_string(key);
      auto it = live.find(id);
      if (it != live.end()) doc += R"(,"_rev":")" + it->second.first + R"(")";
      docs.push_back(doc + "}");
      ids.push_back(id);
    }
    std::vector<std::string_view> views(docs.begin(), docs.end());
    auto results = db->bulkDocs(views);
    for (size_t i = 0; i < results.size(); ++i) {
      REQUIRE(results[i].status);
      simdjson::dom::parser p;
      live[ids[i]] = {results[i].rev, static_cast<int>(p.parse(docs[i]).value()["k"].get_int64().value())};
    }
  };
  auto removeSome = [&](int count) {
    for (int i = 0; i < count && !live.empty(); ++i) {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      REQUIRE(db->remove(it->first, it->second.first));
      live.erase(it);
    }
  };
  auto index = openIndex(dir, kvSpec());
  auto check = [&] {
    REQUIRE(index->update(*db, kvMapper(), {}, 700));
    std::vector<int> keys;
    for (const auto& [id, doc] : live) keys.push_back(doc.second);
    std::sort(keys.begin(), keys.end());
    CHECK(scanOf(*index, 0).totalRows == keys.size());
    for (int probe : {-1, 0, 1, 250, 499, 500, 777, 999, 1000, 100000, 100500, 200000}) {
      ViewScan scan;
      scan.startKey = std::to_string(probe);
      scan.limit = 1;
      auto asc = scanOf(*index, 0, scan);
      CHECK(asc.offset ==
            static_cast<uint64_t>(std::lower_bound(keys.begin(), keys.end(), probe) - keys.begin()));
      scan.descending = true;
      auto desc = scanOf(*index, 0, scan);
      CHECK(desc.offset ==
            static_cast<uint64_t>(keys.end() - std::upper_bound(keys.begin(), keys.end(), probe)));
    }
  };
  write(6000, false);
  check();
  write(3000, false);  // edits of many, new documents too
  removeSome(2000);
  check();
  write(5000, true);  // keys arriving in ascending order split the last segment again and again
  check();
  removeSome(6000);
  check();
}

TEST_CASE("View index: an update killed with SIGKILL resumes from its last commit, rows matching update_seq",
          "[views]") {
  TempDir dir;
  const int kDocs = 3000;
  {
    auto db = openDb(dir);
    std::vector<std::string> docs;
    for (int i = 0; i < kDocs; ++i)
      docs.push_back(R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + "}");
    std::vector<std::string_view> views(docs.begin(), docs.end());
    for (const auto& r : db->bulkDocs(views)) REQUIRE(r.status);
  }
  auto spec = kvSpec();
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    auto db = Database::open(dir.file("db.settee"), "db");
    if (!db) _exit(3);
    auto index = ViewIndex::open(db::viewFileFor(dir.file("views"), spec.signature), spec);
    if (!index) _exit(4);
    auto inner = kvMapper();
    // A slow map: the update commits on its two-second clock, then goes on until killed.
    Mapper slow = [&](const std::vector<std::string_view>& docs) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      char c = 1;
      if (write(fds[1], &c, 1) != 1) _exit(5);
      return inner(docs);
    };
    (void)(*index)->update(**db, slow, {}, 20);
    _exit(6);  // not reached: 150 batches take longer than the parent waits
  }
  close(fds[1]);
  char c;
  for (int calls = 0; calls < 50; ++calls) REQUIRE(read(fds[0], &c, 1) == 1);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  close(fds[0]);
  CHECK(WIFSIGNALED(status));

  auto db = openDb(dir);
  auto index = openIndex(dir, spec);
  const uint64_t seq = index->updateSeq();
  CHECK(seq > 0);
  CHECK(seq < static_cast<uint64_t>(kDocs));
  CHECK(seq % 20 == 0);
  // Every document up to update_seq has its row, none after it.
  auto rows = scanOf(*index, 0);
  CHECK(rows.totalRows == seq);
  CHECK(rows.rows.size() == seq);
  REQUIRE(index->update(*db, kvMapper()));
  CHECK(scanOf(*index, 0).totalRows == static_cast<uint64_t>(kDocs));
}

TEST_CASE("View index: scans read committed rows while an update runs; updates are serialised", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  for (int i = 0; i < 30; ++i)
    put(*db, R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + "}");
  auto index = openIndex(dir, kvSpec());
  auto inner = kvMapper();
  size_t mappedDocs = 0;
  std::vector<uint64_t> seen;
  Mapper watching = [&](const std::vector<std::string_view>& docs) {
    CHECK(index->updating());
    // The scan runs on a reader of its own while the writer holds its transaction open.
    seen.push_back(scanOf(*index, 0).totalRows);
    mappedDocs += docs.size();
    return inner(docs);
  };
  std::thread other;
  {
    auto first = index->update(*db, watching, {}, 10);
    REQUIRE(first);
  }
  CHECK(seen == std::vector<uint64_t>{0, 0, 0});  // nothing committed until the update ends
  CHECK_FALSE(index->updating());
  CHECK(scanOf(*index, 0).totalRows == 30);
  // Two updates at once: the second waits, then finds nothing left to map.
  for (int i = 30; i < 60; ++i)
    put(*db, R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + "}");
  mappedDocs = 0;
  Mapper slow = [&](const std::vector<std::string_view>& docs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    mappedDocs += docs.size();
    return inner(docs);
  };
  other = std::thread([&] { REQUIRE(index->update(*db, slow, {}, 10)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(index->update(*db, slow, {}, 10));
  other.join();
  CHECK(mappedDocs == 30);
  CHECK(scanOf(*index, 0).totalRows == 60);
}

TEST_CASE("View index: sizes report the file and the bytes the rows hold", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::vector<std::string> revs;
  for (int i = 0; i < 20; ++i)
    revs.push_back(
        put(*db, R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + R"(,"v":"value"})"));
  auto index = openIndex(dir, kvSpec());
  REQUIRE(index->update(*db, kvMapper()));
  auto full = index->sizes();
  REQUIRE(full);
  CHECK(full->file > 0);
  CHECK(full->active > 20 * 10);
  for (int i = 0; i < 10; ++i) REQUIRE(db->remove("d" + std::to_string(i), revs[static_cast<size_t>(i)]));
  REQUIRE(index->update(*db, kvMapper()));
  auto half = index->sizes();
  REQUIRE(half);
  CHECK(half->active < full->active);
  CHECK(half->active > 0);
}

TEST_CASE("View index: a purged document's rows go (the index is built again after a purge)", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::string rev = put(*db, R"({"_id":"gone","k":1})");
  put(*db, R"({"_id":"kept","k":2})");
  auto index = openIndex(dir, kvSpec());
  REQUIRE(index->update(*db, kvMapper()));
  CHECK(scanOf(*index, 0).totalRows == 2);
  auto purged = db::storeOf(*db).purge({{"gone", {rev}}});
  REQUIRE(purged);
  REQUIRE(index->update(*db, kvMapper()));
  auto after = scanOf(*index, 0);
  CHECK(after.rows == std::vector<std::string>{"kept 2 null"});
  CHECK(after.totalRows == 1);
}
