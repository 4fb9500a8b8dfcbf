// Map/reduce views over HTTP against a real node whose query servers are `settee js` processes: the
// answers CouchDB 3.4.3 gives in ../shared/transcripts/couchdb-javascript.txt (matched byte for byte
// where they hold no revision), the query errors, the streaming of large answers, _info and
// _view_cleanup.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;
using settee::test::percentEncode;

namespace {

// The transcript's design document (#1) without its filter and validation.
const char* kAppDdoc = R"({"views": {
  "byType": {"map": "function(doc){ if (doc.type) emit([doc.type, doc.n], doc.n); }", "reduce": "_sum"},
  "byTag": {"map": "function(doc){ (doc.tags||[]).forEach(function(t){ emit(t, null); }); }"},
  "stats": {"map": "function(doc){ if (doc.n !== undefined) emit(doc.type, doc.n); }", "reduce": "_stats"},
  "js": {"map": "function(doc){ emit(doc.type, 1); }",
         "reduce": "function(keys, values, rereduce){ return sum(values); }"}}})";

// The transcript's documents: every type CouchDB collates, accents, tags.
const char* kAppDocs = R"({"docs":[
  {"_id":"d0","type":"a","n":0},{"_id":"d1","type":"b","n":1,"tags":["x"]},
  {"_id":"d2","type":"a","n":2,"tags":["x","y"]},{"_id":"d3","type":"b","n":3},
  {"_id":"d4","type":"a","n":4,"tags":["x"]},{"_id":"d5","type":"b","n":5,"tags":["x","y"]},
  {"_id":"tru","type":true},{"_id":"num","type":10},{"_id":"E","type":"E"},{"_id":"e","type":"é"},
  {"_id":"arr","type":["a"]},{"_id":"obj","type":{"a":1}},{"_id":"plain","status":"open"}]})";

void loadApp(const LiveServer& node) {
  REQUIRE(node("PUT", "/v").status == 201);
  REQUIRE(node("PUT", "/v/_design/app", kAppDdoc).status == 201);
  REQUIRE(node("POST", "/v/_bulk_docs", kAppDocs).status == 201);
}

std::string q(const std::string& json) { return percentEncode(json); }

std::string errorOf(const settee::test::HttpReply& r) { return Json(r.body).str("error"); }
std::string reasonOf(const settee::test::HttpReply& r) { return Json(r.body).str("reason"); }

std::vector<std::string> rowIds(const std::string& body) {
  Json j(body);
  std::vector<std::string> ids;
  for (auto row : j["rows"].get_array()) ids.emplace_back(std::string_view(row["id"].get_string()));
  return ids;
}

}  // namespace

TEST_CASE("Views: map rows come in CouchDB's collation, framed line by line as CouchDB frames them",
          "[http][js][views]") {
  LiveServer node;
  loadApp(node);
  auto r = node("GET", "/v/_design/app/_view/byType?reduce=false");
  REQUIRE(r.status == 200);
  CHECK(*r.header("Content-Type") == "application/json");
  CHECK(r.body ==
        "{\"total_rows\":12,\"offset\":0,\"rows\":[\r\n"
        "{\"id\":\"tru\",\"key\":[true,null],\"value\":null},\r\n"
        "{\"id\":\"num\",\"key\":[10,null],\"value\":null},\r\n"
        "{\"id\":\"d0\",\"key\":[\"a\",0],\"value\":0},\r\n"
        "{\"id\":\"d2\",\"key\":[\"a\",2],\"value\":2},\r\n"
        "{\"id\":\"d4\",\"key\":[\"a\",4],\"value\":4},\r\n"
        "{\"id\":\"d1\",\"key\":[\"b\",1],\"value\":1},\r\n"
        "{\"id\":\"d3\",\"key\":[\"b\",3],\"value\":3},\r\n"
        "{\"id\":\"d5\",\"key\":[\"b\",5],\"value\":5},\r\n"
        "{\"id\":\"E\",\"key\":[\"E\",null],\"value\":null},\r\n"
        "{\"id\":\"e\",\"key\":[\"é\",null],\"value\":null},\r\n"
        "{\"id\":\"arr\",\"key\":[[\"a\"],null],\"value\":null},\r\n"
        "{\"id\":\"obj\",\"key\":[{\"a\":1},null],\"value\":null}\r\n"
        "]}");
  // An empty range is still the object with its meta.
  auto none = node("GET", "/v/_design/app/_view/byTag?key=" + q(R"("zzz")"));
  CHECK(none.body == "{\"total_rows\":6,\"offset\":6,\"rows\":[\r\n\r\n]}");
}

TEST_CASE("Views: reduces by group, group_level and key range, built-in and JavaScript",
          "[http][js][views]") {
  LiveServer node;
  loadApp(node);
  auto grouped = node("GET", "/v/_design/app/_view/byType?group=true&startkey=" + q(R"(["a"])") +
                                 "&endkey=" + q(R"(["a",{}])"));
  REQUIRE(grouped.status == 200);
  CHECK(grouped.body ==
        "{\"rows\":[\r\n{\"key\":[\"a\",0],\"value\":0},\r\n{\"key\":[\"a\",2],\"value\":2},\r\n"
        "{\"key\":[\"a\",4],\"value\":4}\r\n]}");
  auto stats = node("GET", "/v/_design/app/_view/stats?group=true");
  CHECK(stats.body ==
        "{\"rows\":[\r\n{\"key\":\"a\",\"value\":{\"sum\":6,\"count\":3,\"min\":0,\"max\":4,\"sumsqr\":20}},"
        "\r\n"
        "{\"key\":\"b\",\"value\":{\"sum\":9,\"count\":3,\"min\":1,\"max\":5,\"sumsqr\":35}}\r\n]}");
  auto js = node("GET", "/v/_design/app/_view/js?group=true");
  CHECK(js.body ==
        "{\"rows\":[\r\n{\"key\":null,\"value\":1},\r\n{\"key\":true,\"value\":1},\r\n{\"key\":10,\"value\":"
        "1},\r\n"
        "{\"key\":\"a\",\"value\":3},\r\n{\"key\":\"b\",\"value\":3},\r\n{\"key\":\"E\",\"value\":1},\r\n"
        "{\"key\":\"é\",\"value\":1},\r\n{\"key\":[\"a\"],\"value\":1},\r\n{\"key\":{\"a\":1},\"value\":1}"
        "\r\n]}");
  // Without grouping: one row whose key is null; JavaScript rereduces what it reduced in pieces.
  CHECK(node("GET", "/v/_design/app/_view/js").body == "{\"rows\":[\r\n{\"key\":null,\"value\":13}\r\n]}");
  auto level = node("GET", "/v/_design/app/_view/byType?group_level=1&startkey=" + q(R"(["a"])") +
                               "&endkey=" + q(R"(["b",{}])"));
  CHECK(level.body == "{\"rows\":[\r\n{\"key\":[\"a\"],\"value\":6},\r\n{\"key\":[\"b\"],\"value\":9}\r\n]}");
  // _sum of values that are not numbers: the row's value is CouchDB's error object.
  auto bad = node("GET", "/v/_design/app/_view/byType?group_level=1&limit=1");
  Json badRow(bad.body);
  CHECK(std::string_view(badRow["rows"].at(0)["value"]["error"].get_string()) == "builtin_reduce_error");
  // update_seq=true puts the index's sequence before the reduced rows.
  CHECK(node("GET", "/v/_design/app/_view/js?update_seq=true").body ==
        "{\"update_seq\":14,\"rows\":[\r\n{\"key\":null,\"value\":13}\r\n]}");
  // An empty range reduces to no row at all.
  CHECK(node("GET", "/v/_design/app/_view/stats?key=" + q(R"("zzz")")).body == "{\"rows\":[]}");
  // Reduced rows honour descending, skip and limit.
  auto desc = node("GET", "/v/_design/app/_view/js?group=true&descending=true&skip=1&limit=2");
  CHECK(desc.body == "{\"rows\":[\r\n{\"key\":[\"a\"],\"value\":1},\r\n{\"key\":\"é\",\"value\":1}\r\n]}");
}

TEST_CASE("Views: descending, skip, limit and include_docs; keys in a body keep their order",
          "[http][js][views]") {
  LiveServer node;
  loadApp(node);
  auto r = node("GET",
                "/v/_design/app/_view/byType?reduce=false&descending=true&limit=2&skip=1&include_docs=true");
  REQUIRE(r.status == 200);
  Json j(r.body);
  CHECK(j["total_rows"].get_uint64().value() == 12);
  CHECK(j["offset"].get_uint64().value() == 1);
  CHECK(rowIds(r.body) == std::vector<std::string>{"arr", "e"});
  CHECK(std::string_view(j["rows"].at(0)["doc"]["_id"].get_string()) == "arr");
  CHECK(std::string_view(j["rows"].at(1)["doc"]["type"].get_string()) == "é");

  auto keys = node("POST", "/v/_design/app/_view/byTag", R"({"keys": ["y", "x"]})");
  REQUIRE(keys.status == 200);
  CHECK(
      keys.body ==
      "{\"total_rows\":6,\"offset\":4,\"rows\":[\r\n"
      "{\"id\":\"d2\",\"key\":\"y\",\"value\":null},\r\n{\"id\":\"d5\",\"key\":\"y\",\"value\":null},\r\n"
      "{\"id\":\"d1\",\"key\":\"x\",\"value\":null},\r\n{\"id\":\"d2\",\"key\":\"x\",\"value\":null},\r\n"
      "{\"id\":\"d4\",\"key\":\"x\",\"value\":null},\r\n{\"id\":\"d5\",\"key\":\"x\",\"value\":null}\r\n]}");
  // keys in the query string, with skip and limit counted across the keys.
  auto qs = node("GET", "/v/_design/app/_view/byTag?skip=1&limit=2&keys=" + q(R"(["y","x"])"));
  CHECK(rowIds(qs.body) == std::vector<std::string>{"d5", "d1"});
  // Other options in a POST body count as in the query string.
  auto body =
      node("POST", "/v/_design/app/_view/byTag", R"({"keys": ["x"], "limit": 1, "descending": true})");
  CHECK(rowIds(body.body) == std::vector<std::string>{"d5"});
  // startkey_docid / endkey_docid bound the rows of one key.
  auto docids =
      node("GET", "/v/_design/app/_view/byTag?key=" + q(R"("x")") + "&startkey_docid=d2&endkey_docid=d4");
  CHECK(rowIds(docids.body) == std::vector<std::string>{"d2", "d4"});
  auto exclusive = node("GET", "/v/_design/app/_view/byTag?startkey=" + q(R"("x")") +
                                   "&endkey=" + q(R"("y")") + "&inclusive_end=false");
  CHECK(rowIds(exclusive.body) == std::vector<std::string>{"d1", "d2", "d4", "d5"});
  // Grouped reduce by keys.
  auto redKeys = node("POST", "/v/_design/app/_view/stats?group=true", R"({"keys": ["b", "nope", "a"]})");
  Json rk(redKeys.body);
  REQUIRE(rk["rows"].get_array().size() == 2);
  CHECK(std::string_view(rk["rows"].at(0)["key"].get_string()) == "b");
  CHECK(std::string_view(rk["rows"].at(1)["key"].get_string()) == "a");
}

TEST_CASE("Views: include_docs follows an emitted {_id} to the document it names, with conflicts",
          "[http][js][views]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/links", R"({"views":{"owner":{"map":
    "function(doc){ if (doc.owner) { emit(doc._id, null); emit(doc._id, {_id: doc.owner}); } }"}}})")
              .status == 201);
  REQUIRE(node("PUT", "/db/alice", R"({"name":"Alice"})").status == 201);
  REQUIRE(node("PUT", "/db/car", R"({"owner":"alice"})").status == 201);
  REQUIRE(node("PUT", "/db/boat", R"({"owner":"nobody"})").status == 201);
  // A conflict on car, made by a replicated write.
  REQUIRE(node("PUT", "/db/car?new_edits=false", R"({"_rev":"1-zzz","owner":"alice"})").status == 201);
  auto r = node("GET", "/db/_design/links/_view/owner?include_docs=true&conflicts=true");
  REQUIRE(r.status == 200);
  Json j(r.body);
  auto rows = j["rows"].get_array();
  REQUIRE(rows.size() == 4);
  // boat: itself, then the missing "nobody" (null).
  CHECK(std::string_view(rows.at(0)["doc"]["_id"].get_string()) == "boat");
  CHECK(rows.at(1)["doc"].is_null());
  CHECK(std::string_view(rows.at(2)["doc"]["_id"].get_string()) == "car");
  CHECK(rows.at(2)["doc"]["_conflicts"].get_array().size() == 1);
  CHECK(std::string_view(rows.at(3)["doc"]["name"].get_string()) == "Alice");
  CHECK(std::string_view(rows.at(3)["id"].get_string()) == "car");
  // attachments=true inlines the bodies of the documents' attachments; stubs otherwise.
  std::string rev = Json(node("GET", "/db/alice").body).str("_rev");
  REQUIRE(node("PUT", "/db/alice/note.txt?rev=" + rev, "hi", {{"Content-Type", "text/plain"}}).status == 201);
  auto inlined = node("GET", "/db/_design/links/_view/owner?include_docs=true&attachments=true&key=" +
                                 percentEncode(R"("car")"));
  Json withData(inlined.body);
  CHECK(std::string_view(withData["rows"].at(1)["doc"]["_attachments"]["note.txt"]["data"].get_string()) ==
        "aGk=");
  auto stubs =
      node("GET", "/db/_design/links/_view/owner?include_docs=true&key=" + percentEncode(R"("car")"));
  CHECK(Json(stubs.body)["rows"].at(1)["doc"]["_attachments"]["note.txt"]["stub"].get_bool().value());
}

TEST_CASE("Views: /queries answers each query in turn", "[http][js][views]") {
  LiveServer node;
  loadApp(node);
  auto r = node("POST", "/v/_design/app/_view/byTag/queries", R"({"queries": [{"key": "x"}, {"limit": 1}]})");
  REQUIRE(r.status == 200);
  CHECK(r.body ==
        "{\"results\":[\r\n"
        "{\"total_rows\":6,\"offset\":0,\"rows\":[\r\n"
        "{\"id\":\"d1\",\"key\":\"x\",\"value\":null},\r\n{\"id\":\"d2\",\"key\":\"x\",\"value\":null},\r\n"
        "{\"id\":\"d4\",\"key\":\"x\",\"value\":null},\r\n{\"id\":\"d5\",\"key\":\"x\",\"value\":null}\r\n]},"
        "\r\n"
        "{\"total_rows\":6,\"offset\":0,\"rows\":[\r\n{\"id\":\"d1\",\"key\":\"x\",\"value\":null}\r\n]}\r\n"
        "]}");
  // Map and reduce answers side by side on a reduce view.
  auto mixed = node("POST", "/v/_design/app/_view/js/queries",
                    R"({"queries": [{"reduce": false, "limit": 1}, {"group": true, "limit": 1}]})");
  Json m(mixed.body);
  CHECK(m["results"].at(0)["total_rows"].get_uint64().value() == 13);
  CHECK(m["results"].at(1)["rows"].at(0)["key"].is_null());
  // One bad entry is the whole answer.
  auto bad = node("POST", "/v/_design/app/_view/js/queries", R"({"queries": [{}, {"include_docs": true}]})");
  CHECK(bad.status == 400);
  CHECK(reasonOf(bad) == "`include_docs` is invalid for reduce");
  CHECK(node("POST", "/v/_design/app/_view/js/queries", R"({"nope": 1})").status == 400);
  CHECK(node("GET", "/v/_design/app/_view/js/queries").status == 405);
}

TEST_CASE("Views: bad options and combinations are CouchDB's query_parse_error", "[http][js][views]") {
  LiveServer node;
  loadApp(node);
  struct Case {
    std::string target;
    int status;
    std::string error, reason;
  };
  const std::string v = "/v/_design/app/_view/";
  const std::vector<Case> cases = {
      {v + "byType?group=true&reduce=false", 400, "query_parse_error",
       "Invalid use of grouping on a map view."},
      {v + "nope", 404, "not_found", "missing_named_view"},
      {"/v/_design/none/_view/x", 404, "not_found", "missing"},
      {v + "byTag?startkey=" + q(R"("y")") + "&endkey=" + q(R"("x")"), 400, "query_parse_error",
       "No rows can match your key range, reverse your start_key and end_key or set descending=true"},
      {v + "byTag?descending=true&startkey=" + q(R"("x")") + "&endkey=" + q(R"("y")"), 400,
       "query_parse_error",
       "No rows can match your key range, reverse your start_key and end_key or set descending=false"},
      {v + "byTag?group=true", 400, "query_parse_error", "Invalid use of grouping on a map view."},
      {v + "byTag?group_level=1", 400, "query_parse_error", "Invalid use of grouping on a map view."},
      {v + "byTag?reduce=true", 400, "query_parse_error", "Reduce is invalid for map-only views."},
      {v + "byType?include_docs=true", 400, "query_parse_error", "`include_docs` is invalid for reduce"},
      {v + "byType?conflicts=true", 400, "query_parse_error", "`conflicts` is invalid for reduce views."},
      {v + "byType?keys=" + q(R"(["a"])"), 400, "query_parse_error",
       "Multi-key fetchs for reduce views must use `group=true`"},
      {v + "byType?group=false&group_level=1", 400, "query_parse_error",
       "Can't specify group=false and group_level>0 at the same time"},
      {v + "byTag?keys=" + q(R"(["a"])") + "&startkey=" + q(R"("a")"), 400, "query_parse_error",
       "`keys` is incompatible with `key`, `start_key` and `end_key`"},
      {v + "byTag?keys=" + q(R"({"a":1})"), 400, "query_parse_error", "`keys` must be an array of strings."},
      {v + "byTag?limit=-1", 400, "query_parse_error", "Invalid value for positive integer: \"-1\""},
      {v + "byTag?skip=x", 400, "query_parse_error", "Invalid value for integer: \"x\""},
      {v + "byTag?descending=yes", 400, "query_parse_error", "Invalid boolean parameter: \"yes\""},
      {v + "byTag?update=soon", 400, "query_parse_error", "Invalid value for `update`."},
      {v + "byTag?stale=never", 400, "query_parse_error", "Invalid value for `stale`."},
      {v + "byTag?stable=maybe", 400, "query_parse_error", "Invalid value for `stable`."},
      {v + "byTag?startkey=nojson", 400, "bad_request", "Invalid JSON in query parameter startkey"},
  };
  for (const auto& c : cases) {
    INFO(c.target);
    auto r = node("GET", c.target);
    CHECK(r.status == c.status);
    CHECK(errorOf(r) == c.error);
    CHECK(reasonOf(r) == c.reason);
  }
  // The transcript's answer byte for byte (CouchDB adds no ref to this one; its JSON answers end in a
  // line break the transcript leaves out).
  CHECK(node("GET", v + "byType?group=true&reduce=false").body ==
        std::string(R"({"error":"query_parse_error","reason":"Invalid use of grouping on a map view."})") +
            "\n");
  // Bodies: a JSON object with `keys` as an array; `queries` belongs to /queries.
  auto notJson = node("POST", v + "byTag", R"({"keys":["x"]})", {{"Content-Type", "text/plain"}});
  CHECK(notJson.status == 415);
  auto keysObject = node("POST", v + "byTag", R"({"keys":{"a":1}})");
  CHECK(keysObject.status == 400);
  CHECK(reasonOf(keysObject) == "`keys` member must be an array.");
  auto queries = node("POST", v + "byTag", R"({"queries":[{}]})");
  CHECK(queries.status == 400);
  CHECK(reasonOf(queries) == "The `queries` parameter is no longer supported at this endpoint");
  // Accepted and harmless: sorted, stable, stale=ok, a parameter no view reads.
  CHECK(node("GET", v + "byTag?sorted=false&stable=true&stale=ok&foo=bar").status == 200);
}

TEST_CASE("Views: a design document in another language is unknown_query_language", "[http][js][views]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/py", R"({"language":"python","views":{"v":{"map":"def f(doc): pass"}}})")
              .status == 201);
  auto r = node("GET", "/db/_design/py/_view/v");
  CHECK(r.status == 500);
  CHECK(r.body == std::string(R"({"error":"unknown_query_language","reason":"python"})") + "\n");
}
