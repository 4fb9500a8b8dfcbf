// _rewrite against a real node: `rewrites` as a JavaScript function (run by `settee js`) and as an array
// of rules (deprecated, still answered by CouchDB 3.4), each leading to another request of the node.
#include <catch2/catch.hpp>
#include <string>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

const char* kFunctionDdoc = R"({
  "shows": {"hello": "function(doc, req){ return 'Hello ' + (doc ? doc.name : 'nobody') + ' via ' + req.path.join('/'); }"},
  "rewrites": "function(req){ var p = req.path.slice(4); if (p[0] === 'doc') return {path: '../../' + p[1]}; if (p[0] === 'hello') return {path: '_show/hello/' + p[1], query: {}}; if (p[0] === 'root') return {path: '../../../_all_dbs'}; if (p[0] === 'teapot') return {code: 418, body: 'short', headers: {'Content-Type': 'text/plain'}}; if (p[0] === 'deny') throw({forbidden: 'not here'}); if (p[0] === 'loop') return {path: '_rewrite/loop'}; return false; }"
})";

const char* kRulesDdoc = R"({
  "shows": {"hello": "function(doc, req){ return 'Hi ' + (doc ? doc.name : 'nobody') + ' ' + JSON.stringify(req.query); }"},
  "rewrites": [
    {"from": "/doc/:id", "to": "../../:id"},
    {"from": "/all", "to": "../../_all_docs", "query": {"include_docs": "true", "key": ":k"}},
    {"from": "/greet/*", "to": "_show/hello/*"},
    {"from": "/post", "to": "../../_all_docs", "method": "POST"}
  ]
})";

}  // namespace

TEST_CASE("Rewrite: a rewrite function leads to a document, a show, the root, or answers at once",
          "[http][js][render]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/fn", kFunctionDdoc).status == 201);
  REQUIRE(node("PUT", "/db/alice", R"({"name":"Alice"})").status == 201);
  auto doc = node("GET", "/db/_design/fn/_rewrite/doc/alice");
  CHECK(doc.status == 200);
  CHECK(Json(doc.body).str("name") == "Alice");
  auto shown = node("GET", "/db/_design/fn/_rewrite/hello/alice");
  CHECK(shown.status == 200);
  CHECK(shown.body == "Hello Alice via db/_design/fn/_show/hello/alice");
  auto root = node("GET", "/db/_design/fn/_rewrite/root");
  CHECK(root.status == 200);
  CHECK(root.body.find("\"db\"") != std::string::npos);
  auto teapot = node("GET", "/db/_design/fn/_rewrite/teapot");
  CHECK(teapot.status == 418);
  CHECK(teapot.body == "short");
  auto none = node("GET", "/db/_design/fn/_rewrite/other");
  CHECK(none.status == 404);
  CHECK(Json(none.body).str("error") == "rewrite_error");
  CHECK(Json(none.body).str("reason") == "Invalid path.");
  auto deny = node("GET", "/db/_design/fn/_rewrite/deny");
  CHECK(deny.status == 403);
  CHECK(Json(deny.body).str("reason") == "not here");
  // A rewrite that leads back to itself stops at CouchDB's rewrite_limit.
  auto loop = node("GET", "/db/_design/fn/_rewrite/loop");
  CHECK(loop.status == 400);
  CHECK(Json(loop.body).str("reason") == "Exceeded rewrite recursion limit");
}

TEST_CASE("Rewrite: an array of rules binds :variables and * and adds the rule's query",
          "[http][js][render]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/rules", kRulesDdoc).status == 201);
  REQUIRE(node("PUT", "/db/alice", R"({"name":"Alice"})").status == 201);
  auto doc = node("GET", "/db/_design/rules/_rewrite/doc/alice");
  CHECK(doc.status == 200);
  CHECK(Json(doc.body).str("name") == "Alice");
  auto all = node("GET", "/db/_design/rules/_rewrite/all?k=alice");
  REQUIRE(all.status == 200);
  Json rows(all.body);
  REQUIRE(rows["rows"].get_array().size() == 1);
  CHECK(std::string_view(rows["rows"].at(0)["doc"]["name"].get_string()) == "Alice");
  auto greet = node("GET", "/db/_design/rules/_rewrite/greet/alice");
  CHECK(greet.status == 200);
  CHECK(greet.body == "Hi Alice {}");
  // A rule for POST does not serve GET; nothing else matches.
  auto unmatched = node("GET", "/db/_design/rules/_rewrite/post");
  CHECK(unmatched.status == 404);
  CHECK(Json(unmatched.body).str("reason") == "missing");
  CHECK(node("POST", "/db/_design/rules/_rewrite/post", R"({"keys":["alice"]})").status == 200);
}

TEST_CASE("Rewrite: a design document without rewrites answers rewrite_error", "[http][js][render]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/plain", R"({"language":"javascript"})").status == 201);
  auto none = node("GET", "/db/_design/plain/_rewrite/x");
  CHECK(none.status == 404);
  CHECK(Json(none.body).str("error") == "rewrite_error");
  CHECK(Json(none.body).str("reason") == "Invalid path.");
  CHECK(node("GET", "/db/_design/missing/_rewrite/x").status == 404);
}
