// _show and _update against a real node whose query servers are `settee js` processes: what CouchDB 3.4
// answers for render functions (chttpd_show, chttpd_external, share/server/render.js).
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "db/crypto.h"
#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

const char* kApp = R"({
  "shows": {
    "hello": "function(doc, req){ return doc ? {body: 'Hello ' + doc.name, headers: {'X-Kind': 'doc'}} : 'no doc'; }",
    "strict": "function(doc, req){ return {body: doc.name}; }",
    "req": "function(doc, req){ return {json: req}; }",
    "fmt": "function(doc, req){ registerType('vcard', 'text/vcard'); provides('html', function(){ return '<b>' + doc.name + '</b>'; }); provides('json', function(){ return {body: toJSON({name: doc.name})}; }); provides('vcard', function(){ return 'BEGIN:VCARD ' + doc.name; }); }",
    "throws": "function(doc, req){ throw new Error('boom'); }",
    "custom": "function(doc, req){ throw({error: 'teapot_error', reason: 'short and stout'}); }",
    "gone": "function(doc, req){ throw(['error', 'not_found', 'nothing here']); }",
    "shaped": "function(doc, req){ return {code: 418, headers: {'Content-Type': 'text/plain'}, base64: 'aGk='}; }",
    "binary": "function(doc, req){ return {base64: 'AAEC'}; }",
    "odd": "function(doc, req){ return {nonsense: 1}; }",
    "chunks": "function(doc, req){ start({headers: {'X-Started': 'yes'}}); send('a'); send('b'); return {body: 'c'}; }",
    "spin": "function(doc, req){ while (true) {} }"
  },
  "updates": {
    "create": "function(doc, req){ if (doc) return [null, 'exists']; return [{_id: req.query.id || req.uuid, made: true, body: req.body}, {json: {made: true}}]; }",
    "bump": "function(doc, req){ if (!doc) return [null, {code: 404, json: {error: 'missed', reason: 'no document to update'}}]; doc.n = (doc.n || 0) + 1; return [doc, 'bumped to ' + doc.n]; }",
    "noop": "function(doc, req){ return [null, {body: 'nothing'}]; }",
    "form": "function(doc, req){ return [null, {json: {form: req.form, method: req.method}}]; }",
    "anonymous": "function(doc, req){ return [{n: 1}, 'x']; }",
    "bad": "function(doc, req){ return [{_id: 'bad', kind: 'bad'}, 'written?']; }"
  },
  "validate_doc_update": "function(newDoc){ if (newDoc.kind === 'bad') throw({forbidden: 'bad kind'}); }"
})";

struct Node {
  LiveServer server;
  explicit Node(std::string config = "") : server(std::move(config)) {
    REQUIRE(server("PUT", "/db").status == 201);
    REQUIRE(server("PUT", "/db/_design/app", kApp).status == 201);
    REQUIRE(server("PUT", "/db/alice", R"({"name":"Alice"})").status == 201);
  }
};

}  // namespace

TEST_CASE("Render: a show renders a document or null, as text/html with an ETag that a revision changes",
          "[http][js][render]") {
  Node node;
  auto& s = node.server;
  auto withDoc = s("GET", "/db/_design/app/_show/hello/alice");
  CHECK(withDoc.status == 200);
  CHECK(withDoc.body == "Hello Alice");
  REQUIRE(withDoc.header("Content-Type"));
  CHECK(*withDoc.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(*withDoc.header("X-Kind") == "doc");
  CHECK(*withDoc.header("Vary") == "Accept");
  REQUIRE(withDoc.header("ETag"));
  std::string etag = *withDoc.header("ETag");

  auto noDoc = s("GET", "/db/_design/app/_show/hello");
  CHECK(noDoc.status == 200);
  CHECK(noDoc.body == "no doc");
  // A document that does not exist is null to the function; POST works as GET.
  CHECK(s("POST", "/db/_design/app/_show/hello/nobody", "x", {{"Content-Type", "text/plain"}}).body ==
        "no doc");

  CHECK(s("GET", "/db/_design/app/_show/hello/alice", "", {{"If-None-Match", etag}}).status == 304);
  std::string rev = Json(s("GET", "/db/alice").body).str("_rev");
  REQUIRE(s("PUT", "/db/alice?rev=" + rev, R"({"name":"Alicia"})").status == 201);
  auto changed = s("GET", "/db/_design/app/_show/hello/alice", "", {{"If-None-Match", etag}});
  CHECK(changed.status == 200);
  CHECK(changed.body == "Hello Alicia");
  CHECK(*changed.header("ETag") != etag);
}

TEST_CASE("Render: missing design documents, functions and documents are 404 in CouchDB's words",
          "[http][js][render]") {
  Node node;
  auto& s = node.server;
  auto noDdoc = s("GET", "/db/_design/nope/_show/hello");
  CHECK(noDdoc.status == 404);
  CHECK(Json(noDdoc.body).str("reason") == "missing");
  auto noFun = s("GET", "/db/_design/app/_show/nope");
  CHECK(noFun.status == 404);
  CHECK(Json(noFun.body).str("error") == "not_found");
  CHECK(Json(noFun.body).str("reason") == "missing json key: nope");
  REQUIRE(s("PUT", "/db/_design/bare", R"({"language":"javascript"})").status == 201);
  CHECK(Json(s("GET", "/db/_design/bare/_show/x").body).str("reason") == "missing json key: shows");
  CHECK(Json(s("POST", "/db/_design/bare/_update/x").body).str("reason") == "missing json key: updates");
  // Without a function name: CouchDB's Invalid path, not an attachment of the design document.
  auto noName = s("GET", "/db/_design/app/_show");
  CHECK(noName.status == 404);
  CHECK(Json(noName.body).str("error") == "show_error");
  CHECK(Json(noName.body).str("reason") == "Invalid path.");
  CHECK(Json(s("POST", "/db/_design/app/_update").body).str("error") == "update_error");
  // A show that fails on the null of a missing document: that document is not found.
  auto missing = s("GET", "/db/_design/app/_show/strict/nobody");
  CHECK(missing.status == 404);
  CHECK(Json(missing.body).str("reason") == "document not found");
  // Without a document id the same failure is the function's error.
  auto failed = s("GET", "/db/_design/app/_show/strict");
  CHECK(failed.status == 500);
  CHECK(Json(failed.body).str("error") == "render_error");
}

TEST_CASE("Render: provides and registerType pick a rendering by ?format or Accept, else not_acceptable",
          "[http][js][render]") {
  Node node;
  auto& s = node.server;
  auto first = s("GET", "/db/_design/app/_show/fmt/alice");
  CHECK(first.body == "<b>Alice</b>");
  CHECK(*first.header("Content-Type") == "text/html; charset=utf-8");
  auto json = s("GET", "/db/_design/app/_show/fmt/alice", "", {{"Accept", "application/json"}});
  CHECK(json.body == R"({"name":"Alice"})");
  CHECK(*json.header("Content-Type") == "application/json");
  auto weighted = s("GET", "/db/_design/app/_show/fmt/alice", "",
                    {{"Accept", "text/html;q=0.5, application/json;q=0.9"}});
  CHECK(*weighted.header("Content-Type") == "application/json");
  auto vcard = s("GET", "/db/_design/app/_show/fmt/alice?format=vcard");
  CHECK(vcard.body == "BEGIN:VCARD Alice");
  CHECK(*vcard.header("Content-Type") == "text/vcard");
  auto refused = s("GET", "/db/_design/app/_show/fmt/alice", "", {{"Accept", "image/png"}});
  CHECK(refused.status == 406);
  CHECK(Json(refused.body).str("error") == "not_acceptable");
  CHECK(Json(refused.body).str("reason") ==
        "Content-Type image/png not supported, try one of: text/vcard, application/json, text/x-json, "
        "text/html; charset=utf-8");
}

TEST_CASE("Render: a throwing show is a 500 render_error; thrown {error, reason} keep their names",
          "[http][js][render]") {
  Node node;
  auto& s = node.server;
  auto thrown = s("GET", "/db/_design/app/_show/throws");
  CHECK(thrown.status == 500);
  CHECK(Json(thrown.body).str("error") == "render_error");
  CHECK(Json(thrown.body).str("reason").find("function raised error: Error: boom") == 0);
  auto custom = s("GET", "/db/_design/app/_show/custom");
  CHECK(custom.status == 500);
  CHECK(Json(custom.body).str("error") == "teapot_error");
  CHECK(Json(custom.body).str("reason") == "short and stout");
  auto gone = s("GET", "/db/_design/app/_show/gone");
  CHECK(gone.status == 404);
  CHECK(Json(gone.body).str("reason") == "nothing here");
  // The process that ran them keeps answering.
  CHECK(s("GET", "/db/_design/app/_show/hello/alice").body == "Hello Alice");
}

TEST_CASE("Render: response objects set code, headers and bodies; unknown members are refused",
          "[http][js][render]") {
  Node node;
  auto& s = node.server;
  auto shaped = s("GET", "/db/_design/app/_show/shaped");
  CHECK(shaped.status == 418);
  CHECK(shaped.body == "hi");
  CHECK(*shaped.header("Content-Type") == "text/plain");
  auto binary = s("GET", "/db/_design/app/_show/binary");
  CHECK(binary.body == std::string("\0\1\2", 3));
  CHECK(*binary.header("Content-Type") == "application/binary");
  auto odd = s("GET", "/db/_design/app/_show/odd");
  CHECK(odd.status == 500);
  CHECK(Json(odd.body).str("error") == "external_response_error");
  CHECK(Json(odd.body).str("reason") == "Invalid data from external server: {<<\"nonsense\">>,1}");
  auto chunks = s("GET", "/db/_design/app/_show/chunks");
  CHECK(chunks.body == "abc");
  CHECK(*chunks.header("X-Started") == "yes");
}

TEST_CASE("Render: the request object has CouchDB's members", "[http][js][render]") {
  Node node;
  auto& s = node.server;
  REQUIRE(s("PUT", "/db/_security", R"({"members":{"roles":[]},"admins":{"names":["boss"]}})").status == 200);
  auto reply = s("GET", "/db/_design/app/_show/req/alice?key=%5B1%2C%22a%22%5D&other=x+y", "",
                 {{"Cookie", "a=1; b=\"two\""}, {"X-Test", "t"}});
  REQUIRE(reply.status == 200);
  Json req(reply.body);
  CHECK(std::string_view(req["info"]["db_name"].get_string()) == "db");
  CHECK(req.str("id") == "alice");
  CHECK(req.str("uuid").size() == 32);
  CHECK(req.str("method") == "GET");
  auto path = req["path"].get_array();
  REQUIRE(path.size() == 6);
  CHECK(std::string_view(path.at(5).get_string()) == "alice");
  CHECK(req["requested_path"].get_array().size() == 6);
  CHECK(req.str("raw_path") == "/db/_design/app/_show/req/alice?key=%5B1%2C%22a%22%5D&other=x+y");
  CHECK(simdjson::minify(req["query"]) == R"({"key":[1,"a"],"other":"x y"})");
  CHECK(std::string_view(req["headers"]["X-Test"].get_string()) == "t");
  CHECK(req.str("body") == "undefined");
  CHECK(req.str("peer") == "127.0.0.1");
  CHECK(simdjson::minify(req["form"]) == "{}");
  CHECK(simdjson::minify(req["cookie"]) == R"({"a":"1","b":"two"})");
  CHECK(std::string_view(req["userCtx"]["db"].get_string()) == "db");
  CHECK(std::string_view(req["secObj"]["admins"]["names"].at(0).get_string()) == "boss");
  auto noId = Json(s("GET", "/db/_design/app/_show/req").body);
  CHECK(noId["id"].is_null());
}

TEST_CASE("Render: an update creates a document, modifies one, or writes nothing, with CouchDB's codes",
          "[http][js][render]") {
  Node node;
  auto& s = node.server;
  auto created =
      s("POST", "/db/_design/app/_update/create?id=made", "hello", {{"Content-Type", "text/plain"}});
  CHECK(created.status == 201);
  CHECK(Json(created.body).root().get_object()["made"].get_bool().value());
  REQUIRE(created.header("X-Couch-Id"));
  CHECK(*created.header("X-Couch-Id") == "made");
  REQUIRE(created.header("X-Couch-Update-NewRev"));
  std::string rev = *created.header("X-Couch-Update-NewRev");
  Json made(s("GET", "/db/made").body);
  CHECK(made.str("_rev") == rev);
  CHECK(made.str("body") == "hello");
  // Without ?id the function takes req.uuid.
  auto uuid = s("POST", "/db/_design/app/_update/create", "");
  CHECK(uuid.status == 201);
  CHECK(uuid.header("X-Couch-Id")->size() == 32);

  auto bumped = s("PUT", "/db/_design/app/_update/bump/alice", "");
  CHECK(bumped.status == 201);
  CHECK(bumped.body == "bumped to 1");
  CHECK(*bumped.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(Json(s("GET", "/db/alice").body).root()["n"].get_int64().value() == 1);
  CHECK(s("PUT", "/db/_design/app/_update/bump/alice", "").body == "bumped to 2");
  // The function's own code wins: a 404 it chose, with nothing written.
  auto missed = s("PUT", "/db/_design/app/_update/bump/nobody", "");
  CHECK(missed.status == 404);
  CHECK(Json(missed.body).str("error") == "missed");
  CHECK(!missed.header("X-Couch-Id"));
  auto noop = s("POST", "/db/_design/app/_update/noop", "");
  CHECK(noop.status == 200);
  CHECK(noop.body == "nothing");
  // A url-encoded body reaches the function as req.form.
  auto form = s("POST", "/db/_design/app/_update/form", "a=1&b=x+y",
                {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(simdjson::minify(Json(form.body)["form"]) == R"({"a":"1","b":"x y"})");
  // GET is refused by the query server, as CouchDB's render.js refuses it.
  auto get = s("GET", "/db/_design/app/_update/noop");
  CHECK(get.status == 500);
  CHECK(Json(get.body).str("error") == "method_not_allowed");
  CHECK(Json(get.body).str("reason") == "Update functions do not allow GET");
  // A document without an id cannot be written.
  auto anonymous = s("POST", "/db/_design/app/_update/anonymous", "");
  CHECK(anonymous.status == 400);
  CHECK(Json(anonymous.body).str("error") == "illegal_docid");
}

TEST_CASE("Render: a document written by an update function passes validate_doc_update first",
          "[http][js][render]") {
  Node node;
  auto& s = node.server;
  auto refused = s("POST", "/db/_design/app/_update/bad", "");
  CHECK(refused.status == 403);
  CHECK(Json(refused.body).str("error") == "forbidden");
  CHECK(Json(refused.body).str("reason") == "bad kind");
  CHECK(s("GET", "/db/bad").status == 404);
}

TEST_CASE("Render: a runaway show is killed at os_process_timeout while the node keeps answering",
          "[http][js][render]") {
  Node node("[couchdb]\nos_process_timeout = 1000\n");
  auto& s = node.server;
  auto started = std::chrono::steady_clock::now();
  auto slow = std::async(std::launch::async, [&] { return s("GET", "/db/_design/app/_show/spin"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto asked = std::chrono::steady_clock::now();
  CHECK(s("GET", "/db/alice").status == 200);
  CHECK(std::chrono::steady_clock::now() - asked < std::chrono::milliseconds(500));
  auto reply = slow.get();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));
  CHECK(reply.status == 500);
  CHECK(Json(reply.body).str("error") == "os_process_error");
  CHECK(s("GET", "/db/_design/app/_show/hello/alice").body == "Hello Alice");
}
