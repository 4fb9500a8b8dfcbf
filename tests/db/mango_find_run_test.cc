// Mango queries run on a real Store: full scans and index scans, skip, limit, fields, conflicts,
// bookmarks, statistics, warnings and _explain.
#include <catch2/catch.hpp>

#include "mango_find_support.h"

using namespace settee;
using namespace settee::test::find;
using settee::test::Json;
using settee::test::TempDir;

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

TEST_CASE("Find: $beginsWith is served by an index range and answers what a full scan answers",
          "[db][mango][find][index]") {
  TempDir dir;
  auto db = openDb(dir);
  const char* names[] = {"Ann", "Anna", "Ann\u00e9",      "Anm", "Ao",           "ann",
                         "ANN", "An",   "Annz\U0010FFFD", "B",   "Ann\U0001F600"};
  int i = 0;
  for (const char* name : names) {
    REQUIRE(db->put(R"({"_id":"p)" + std::to_string(i++) + R"(","name":")" + name + "\"}"));
  }
  REQUIRE(db->put(R"({"_id":"num","name":5})"));
  std::map<std::string, std::vector<std::string>> scanned;
  for (const char* prefix : {"Ann", "An", "A", "ann", "Ann\u00e9", "", "Z"}) {
    auto all = ids(run(*db, std::string(R"({"selector": {"name": {"$beginsWith": ")") + prefix + "\"}}}"));
    std::sort(all.begin(), all.end());
    scanned[prefix] = all;
  }
  IndexDefinition def;
  def.fields = {{"name", false}};
  REQUIRE(db->createIndex(def));
  for (const auto& [prefix, expected] : scanned) {
    Page p = run(*db, R"({"selector": {"name": {"$beginsWith": ")" + prefix + "\"}}}");
    CHECK(p.summary.index != "_all_docs");
    auto got = ids(p);
    std::sort(got.begin(), got.end());
    INFO("prefix " << prefix);
    CHECK(got == expected);
  }
  CHECK(scanned["Ann"].size() == 5);
}

TEST_CASE("Find: an _id range reads only that stretch of _all_docs, either direction", "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  seed(*db);
  Page one = run(*db, R"({"selector": {"_id": "o005"}, "execution_stats": true})");
  CHECK(ids(one) == std::vector<std::string>{"o005"});
  CHECK(one.summary.stats.totalKeysExamined == 1);
  Page desc =
      run(*db, R"({"selector": {"_id": {"$gte": "o003", "$lt": "o007"}}, "sort": [{"_id": "desc"}]})");
  CHECK(ids(desc) == std::vector<std::string>{"o006", "o005", "o004", "o003"});
  CHECK(desc.summary.stats.totalKeysExamined == 4);
  Page next = run(
      *db,
      R"({"selector": {"_id": {"$gte": "o003", "$lt": "o007"}}, "sort": [{"_id": "desc"}], "bookmark": ")" +
          run(*db,
              R"({"selector": {"_id": {"$gte": "o003", "$lt": "o007"}}, "sort": [{"_id": "desc"}], "limit": 2})")
              .summary.bookmark +
          "\"}");
  CHECK(ids(next) == std::vector<std::string>{"o004", "o003"});
  // Ids are strings: a bound of another type bounds nothing or everything.
  CHECK(ids(run(*db, R"({"selector": {"_id": {"$gt": null}}, "limit": 1})")) ==
        std::vector<std::string>{"c1"});
  CHECK(run(*db, R"({"selector": {"_id": {"$gt": []}}})").docs.empty());
}

TEST_CASE("Find: random bookmarks are refused as invalid_bookmark", "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  seed(*db);
  std::mt19937 rng(11);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    std::string bookmark;
    size_t n = 1 + rng() % 60;
    for (size_t k = 0; k < n; ++k) bookmark += alphabet[rng() % alphabet.size()];
    auto q = query(R"({"selector": {"type": "order"}, "bookmark": ")" + bookmark + "\"}");
    auto ran = db::runFind(db::storeOf(*db), q, [](std::string_view) { return true; });
    if (!ran) {
      CHECK(std::string(ran.status().error()) == "invalid_bookmark");
      ++refused;
    }
  }
  CHECK(refused == 300);
}

TEST_CASE("Find: Database::find is the same query as _find, paged by its summary's bookmark",
          "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  seed(*db);
  IndexDefinition def;
  def.fields = {{"type", false}, {"ts", false}};
  REQUIRE(db->createIndex(def));
  FindOptions options;
  options.sort = {{"type", true}, {"ts", true}};
  options.fields = {"_id"};
  options.limit = 5;
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    size_t before = seen.size();
    auto found = db->find(R"({"type": "order", "ts": {"$lt": 1009}})", options, [&](std::string_view doc) {
      seen.push_back(Json(std::string(doc)).str("_id"));
      return true;
    });
    REQUIRE(found);
    CHECK(found->index.rfind("_design/", 0) == 0);
    if (seen.size() == before) break;
    options.bookmark = found->bookmark;
  }
  CHECK(seen ==
        std::vector<std::string>{"o008", "o007", "o006", "o005", "o004", "o003", "o002", "o001", "o000"});
  options.sort = {{"type", false}, {"ts", true}};
  auto mixed = db->find("{}", options, [](std::string_view) { return true; });
  REQUIRE_FALSE(mixed);
  CHECK(std::string(mixed.status().error()) == "unsupported_mixed_sort");
  FindOptions tooMany;
  tooMany.useIndex = {"a", "b", "c"};
  auto badIndex = db->find("{}", tooMany, [](std::string_view) { return true; });
  REQUIRE_FALSE(badIndex);
  CHECK(std::string(badIndex.status().error()) == "invalid_index_name");
  auto notObject = db->find("[]", {}, [](std::string_view) { return true; });
  REQUIRE_FALSE(notObject);
  CHECK(std::string(notObject.status().error()) == "invalid_selector_json");
}
