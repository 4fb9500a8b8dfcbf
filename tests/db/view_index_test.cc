// The view index (db/view_index.h) on real SQLite files, with a C++ map in place of JavaScript: design
// documents parsed as CouchDB checks them, rows in CouchDB's view collation, every scan option,
// incremental and resumable updates, and a new file per signature.
#include "db/view_index.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "db/view_reduce.h"
#include "view_test_support.h"

using namespace settee::test::views;

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
