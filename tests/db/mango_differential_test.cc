// A randomized differential test of the Mango query path: every `_find` answered through a json index or
// the `_all_docs` special index must give the documents a full scan would (Selector::matches over every
// document), in the order of the index that served it (ties by doc id), through skip, limit and bookmarks.
// CouchDB's two deliberate departures from a full scan are modelled: a sorted query leaves out documents
// lacking a sort field, and a partial index named by use_index answers only documents its filter holds.
#include <catch2/catch.hpp>

#include "db/mango_find_internal.h"
#include "mango_find_support.h"

using namespace settee;
using namespace settee::test::find;
using settee::test::Json;
using settee::test::TempDir;

namespace {

// Values of every type and the collation's corner cases: case, accents, prefixes, ints against doubles.
const std::vector<std::string> kValues = {
    "null",     "true",       "false",  "0",       "1",           "2",      "-1",           "1.5",
    "2.0",      "-0.5",       "100",    R"("")",   R"("a")",      R"("A")", R"("b")",       R"("ab")",
    R"("abc")", R"("é")",     R"("e")", R"("E")",  "[]",          "[1]",    R"(["a","b"])", "[null]",
    "{}",       R"({"x":1})", R"("1")", R"("aé")", R"("a\uffff")"};

struct Corpus {
  std::vector<std::string> docs;  // JSON text, in id order
};

std::string randomDoc(std::mt19937& rng, int n) {
  char id[16];
  std::snprintf(id, sizeof id, n % 7 ? "d%03d" : "D%03d", n);  // mixed case: ICU order is not byte order
  std::string doc = std::string(R"({"_id":")") + id + "\"";
  for (const char* field : {"a", "b"}) {
    if (rng() % 5 == 0) continue;  // missing
    doc += std::string(",\"") + field + "\":" + kValues[rng() % kValues.size()];
  }
  switch (rng() % 4) {  // a nested field, sometimes under a value that is no object
    case 0:
      break;
    case 1:
      doc += R"(,"c":)" + kValues[rng() % kValues.size()];
      break;
    default:
      doc += R"(,"c":{"d":)" + kValues[rng() % kValues.size()] + "}";
  }
  return doc + "}";
}

std::string pick(std::mt19937& rng, const std::vector<std::string>& from) {
  return from[rng() % from.size()];
}

std::string value(std::mt19937& rng) { return pick(rng, kValues); }

std::string condition(std::mt19937& rng, const std::string& field, int depth = 0) {
  switch (rng() % 12) {
    case 0:
      return value(rng);
    case 1:
      return R"({"$eq":)" + value(rng) + "}";
    case 2:
      return "{\"" + pick(rng, {"$gt", "$gte", "$lt", "$lte"}) + "\":" + value(rng) + "}";
    case 3:
      return "{\"" + pick(rng, {"$gt", "$gte"}) + "\":" + value(rng) + ",\"" + pick(rng, {"$lt", "$lte"}) +
             "\":" + value(rng) + "}";
    case 4:
      return R"({"$ne":)" + value(rng) + "}";
    case 5:
      return "{\"" + pick(rng, {"$in", "$nin"}) + "\":[" + value(rng) + "," + value(rng) + "]}";
    case 6:
      return R"({"$exists":)" + pick(rng, {"true", "false"}) + "}";
    case 7:
      return R"({"$beginsWith":)" + pick(rng, {R"("a")", R"("A")", R"("é")", R"("")", R"("d1")", R"("ab")"}) +
             "}";
    case 8:
      return R"({"$regex":)" + pick(rng, {R"("^a")", R"("b")", R"("^d1")", R"("(?i)^e")"}) + "}";
    case 9:
      if (depth < 2) {
        std::string inner = condition(rng, field, depth + 1);
        if (inner.rfind("{\"$", 0) != 0) inner = R"({"$eq":)" + inner + "}";  // $not takes operators only
        return R"({"$not":)" + inner + "}";
      }
      return value(rng);
    case 10:
      return "{\"" + pick(rng, {"$gt", "$gte"}) + "\":" + value(rng) + "}";
    default:
      return "{\"" + pick(rng, {"$lt", "$lte"}) + "\":" + value(rng) + "}";
  }
}

std::string clause(std::mt19937& rng) {
  // Not `_id`: a range on it is read by CouchDB's raw id order, not the matcher's (see the test below).
  std::string field = pick(rng, {"a", "a", "b", "b", "c.d"});
  return "\"" + field + "\":" + condition(rng, field);
}

std::string selector(std::mt19937& rng) {
  switch (rng() % 7) {
    case 0:
    case 1:
      return "{" + clause(rng) + "}";
    case 2:
    case 3:
      return "{" + clause(rng) + "," + clause(rng) + "}";
    case 4:
      return R"({"$or":[{)" + clause(rng) + "},{" + clause(rng) + "}]}";
    case 5:
      return "{" + clause(rng) + R"(,"$or":[{)" + clause(rng) + "},{" + clause(rng) + "}]}";
    default:
      return R"({"$and":[{)" + clause(rng) + "},{" + clause(rng) + R"(}],"$not":{)" + clause(rng) + "}}";
  }
}

struct IndexDef {
  std::string ddoc;
  std::vector<std::string> columns;
  std::string partial;
};

const std::vector<IndexDef> kIndexes = {
    {"ia", {"a"}, ""},
    {"ib", {"b"}, ""},
    {"iab", {"a", "b"}, ""},
    {"iba", {"b", "a"}, ""},
    {"ipa", {"a"}, R"({"b":{"$gt":0}})"},
    {"icd", {"c.d", "a"}, ""},
};

std::optional<simdjson::dom::element> field(simdjson::dom::element doc, const std::string& name) {
  simdjson::dom::element v = doc;
  for (const auto& part : db::splitFieldPath(name)) {
    simdjson::dom::object obj;
    if (v.get(obj) != simdjson::SUCCESS || obj.at_key(part).get(v) != simdjson::SUCCESS) return std::nullopt;
  }
  return v;
}

std::string keyOf(simdjson::dom::element v) {
  std::string out;
  db::appendCollationKey(v, out);
  return out;
}

// What a full scan says the query answers: matching documents, ordered as the serving index orders them.
std::vector<std::string> expected(const Corpus& corpus, const std::string& selectorJson,
                                  const std::vector<std::string>& sortFields, bool descending,
                                  const std::string& servedBy) {
  auto sel = db::Selector::parseJson(selectorJson);
  REQUIRE(sel);
  const IndexDef* index = nullptr;
  for (const auto& d : kIndexes) {
    if (servedBy == "_design/" + d.ddoc + "/" + d.ddoc) index = &d;
  }
  std::optional<db::Selector> partial;
  if (index && !index->partial.empty()) partial = std::move(*db::Selector::parseJson(index->partial));
  std::vector<std::pair<std::vector<std::string>, std::string>> rows;
  simdjson::dom::parser parser;
  for (const auto& text : corpus.docs) {
    simdjson::dom::element doc = parser.parse(text).value();
    if (!sel->matches(doc)) continue;
    if (partial && !partial->matches(doc)) continue;
    bool hasSort = std::all_of(sortFields.begin(), sortFields.end(),
                               [&](const std::string& f) { return field(doc, f).has_value(); });
    if (!hasSort) continue;
    std::vector<std::string> key;
    if (index) {
      for (const auto& c : index->columns) {
        auto v = field(doc, c);
        key.push_back(v ? keyOf(*v) : "(missing)");  // a lost document: the index has no row for it
      }
    }
    std::string id(doc["_id"].get_string().value());
    rows.emplace_back(std::move(key), id);
  }
  std::sort(rows.begin(), rows.end());
  if (descending) std::reverse(rows.begin(), rows.end());
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.second);
  return out;
}

struct Outcome {
  bool ok = false;
  std::vector<std::string> ids;
  FindSummary summary;
};

Outcome runBody(Database& db, const std::string& body) {
  Outcome o;
  auto q = db::parseFindRequest(body);
  INFO(body << ": " << q.status().reason());
  REQUIRE(q);
  auto ran = db::runFind(db::storeOf(db), *q, [&](std::string_view doc) {
    o.ids.push_back(Json(std::string(doc)).str("_id"));
    return true;
  });
  if (!ran) {
    CHECK(std::string(ran.status().error()) == "no_usable_index");
    return o;
  }
  o.ok = true;
  o.summary = *ran;
  return o;
}

}  // namespace

TEST_CASE("Find: an index-served answer is the full scan's, whatever the selector, sort and index",
          "[db][mango][find][differential]") {
  TempDir dir;
  auto db = openDb(dir);
  std::mt19937 rng(20261205);
  Corpus corpus;
  std::vector<std::string> revs;
  for (int n = 0; n < 300; ++n) {
    corpus.docs.push_back(randomDoc(rng, n));
    auto put = db->put(corpus.docs.back());
    REQUIRE(put);
    revs.push_back(put->rev);
  }
  for (const auto& d : kIndexes) {
    IndexDefinition def;
    for (const auto& c : d.columns) def.fields.push_back({c, false});
    def.ddoc = d.ddoc;
    def.name = d.ddoc;
    def.partialFilterSelector = d.partial;
    REQUIRE(db->createIndex(def));
    REQUIRE(runBody(*db, R"({"selector":{},"use_index":")" + d.ddoc + "\"}").ok);  // built now
  }
  // Then the indexes catch up with updates and deletions.
  for (int n = 0; n < 300; n += 1 + static_cast<int>(rng() % 5)) {
    std::string doc = randomDoc(rng, n);
    if (rng() % 4 == 0) {
      REQUIRE(db->remove(Json(doc).str("_id"), revs[n]));
      corpus.docs[n].clear();
      continue;
    }
    REQUIRE(db->put(doc.substr(0, doc.size() - 1) + R"(,"_rev":")" + revs[n] + "\"}"));
    corpus.docs[n] = doc;
  }
  corpus.docs.erase(std::remove(corpus.docs.begin(), corpus.docs.end(), std::string()), corpus.docs.end());
  const std::vector<std::pair<std::string, std::vector<std::string>>> sorts = {
      {"", {}},
      {R"([{"a":"asc"}])", {"a"}},
      {R"([{"a":"desc"}])", {"a"}},
      {R"([{"b":"asc"}])", {"b"}},
      {R"([{"a":"asc"},{"b":"asc"}])", {"a", "b"}},
      {R"([{"b":"desc"},{"a":"desc"}])", {"b", "a"}},
      {R"([{"_id":"desc"}])", {"_id"}},
      {R"([{"_id":"asc"}])", {"_id"}},
      {R"([{"c.d":"desc"}])", {"c.d"}},
  };
  int compared = 0, indexed = 0;
  for (int i = 0; i < 600; ++i) {
    const std::string sel = selector(rng);
    const auto& sort = sorts[rng() % sorts.size()];
    const bool descending = sort.first.find("desc") != std::string::npos;
    const uint64_t skip = rng() % 4 == 0 ? rng() % 5 : 0;
    const uint64_t limit = rng() % 3 == 0 ? 1 + rng() % 20 : 1000;
    const bool project = rng() % 4 == 0;
    std::vector<std::string> uses = {""};
    for (const auto& d : kIndexes) uses.push_back(d.ddoc);
    for (const auto& use : uses) {
      std::string body = R"({"selector":)" + sel;
      if (!sort.first.empty()) body += R"(,"sort":)" + sort.first;
      if (!use.empty()) body += R"(,"use_index":")" + use + "\"";
      if (project) body += R"(,"fields":["_id","a","b"])";
      std::string paged = body;
      body += ",\"skip\":" + std::to_string(skip) + ",\"limit\":" + std::to_string(limit) + "}";
      Outcome got = runBody(*db, body);
      if (!got.ok) continue;
      std::vector<std::string> all = expected(corpus, sel, sort.second, descending, got.summary.index);
      std::vector<std::string> want;
      for (size_t n = skip; n < all.size() && want.size() < limit; ++n) want.push_back(all[n]);
      INFO(body << " served by " << got.summary.index);
      CHECK(got.ids == want);
      ++compared;
      if (got.summary.index != "_all_docs") ++indexed;

      // The same query paged by bookmarks, a few rows at a time, reads every row once in order.
      if (rng() % 3 == 0) {
        const int pageSize = 1 + static_cast<int>(rng() % 7);
        std::vector<std::string> seen;
        std::string bookmark;
        for (int page = 0; page < 400; ++page) {
          std::string pb = paged + ",\"limit\":" + std::to_string(pageSize);
          if (!bookmark.empty()) pb += R"(,"bookmark":")" + bookmark + "\"";
          Outcome p = runBody(*db, pb + "}");
          REQUIRE(p.ok);
          if (p.ids.empty()) break;
          seen.insert(seen.end(), p.ids.begin(), p.ids.end());
          bookmark = p.summary.bookmark;
        }
        INFO("paged by " << pageSize);
        CHECK(seen == all);
      }
    }
  }
  CHECK(compared > 1000);
  CHECK(indexed > 300);
}

TEST_CASE("Find: $beginsWith on an index keeps strings holding U+FFFF, which ICU sorts after U+10FFFF",
          "[db][mango][find][index]") {
  TempDir dir;
  auto db = openDb(dir);
  REQUIRE(db->put(R"({"_id":"x1","a":"a\uffff"})"));
  REQUIRE(db->put(R"({"_id":"x2","a":"ab\uffff\uffff"})"));
  REQUIRE(db->put(R"({"_id":"x3","a":"\uffff"})"));
  REQUIRE(db->put(R"({"_id":"x4","a":"b"})"));
  REQUIRE(db->put(R"({"_id":"x5","a":["a"]})"));
  IndexDefinition def;
  def.fields = {{"a", false}};
  REQUIRE(db->createIndex(def));
  auto found = [&](const std::string& prefix) {
    Page p = run(*db, R"({"selector": {"a": {"$beginsWith": ")" + prefix + R"("}}, "sort": ["a"]})");
    CHECK(p.summary.index != "_all_docs");
    return ids(p);
  };
  CHECK(found("a") == std::vector<std::string>{"x2", "x1"});
  CHECK(found("ab") == std::vector<std::string>{"x2"});
  CHECK(found("ab\\uffff") == std::vector<std::string>{"x2"});
  CHECK(found("\\uffff") == std::vector<std::string>{"x3"});
  CHECK(found("") == std::vector<std::string>{"x2", "x1", "x4", "x3"});
}

// CouchDB reads an `_id` range from _all_docs by its raw (byte) order and then applies the selector, whose
// string comparisons are ICU's: an id inside the byte range that the ICU comparison refuses is dropped,
// and one the ICU comparison would accept outside the byte range is never read. Settee answers the same,
// so a query on `_id` costs only its stretch of the table.
TEST_CASE("Find: an _id range on _all_docs answers CouchDB's raw id range, filtered by the selector",
          "[db][mango][find]") {
  TempDir dir;
  auto db = openDb(dir);
  const std::vector<std::string> all = {"Ab", "D1", "a", "d150", "e", "\u00e9"};  // byte order
  for (const auto& id : all) REQUIRE(db->put(R"({"_id":")" + id + R"("})"));
  auto found = [&](const std::string& selector, const std::function<bool(const std::string&)>& inRange) {
    auto sel = db::Selector::parseJson(selector);
    REQUIRE(sel);
    std::vector<std::string> want;
    for (const auto& id : all) {
      Json doc(R"({"_id":")" + id + R"("})");
      std::string raw(Json(R"({"_id":")" + id + R"("})").str("_id"));
      if (inRange(raw) && sel->matches(doc.root())) want.push_back(raw);
    }
    Page p = run(*db, R"({"selector": )" + selector + "}");
    INFO(selector);
    CHECK(ids(p) == want);
  };
  found(R"({"_id": {"$lt": "D2"}})", [](const std::string& id) { return id < "D2"; });
  found(R"({"_id": {"$gte": "d1"}})", [](const std::string& id) { return id >= "d1"; });
  found(R"({"_id": {"$gt": "a", "$lte": "e"}})", [](const std::string& id) { return id > "a" && id <= "e"; });
  found(R"({"_id": {"$beginsWith": "d1"}})", [](const std::string& id) { return id.rfind("d1", 0) == 0; });
  found(R"({"_id": {"$lt": "a"}})", [](const std::string& id) { return id < "a"; });
}
