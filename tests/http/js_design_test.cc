// validate_doc_update on every write path and JavaScript filters on the changes feed, against a real node
// whose query servers are `settee js` processes (as CouchDB 3.4.3 answers in
// ../shared/transcripts/couchdb-javascript.txt).
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "db/crypto.h"
#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

using Header = std::pair<std::string, std::string>;

Header basic(const std::string& user, const std::string& password) {
  return {"Authorization", "Basic " + settee::db::base64Encode(user + ":" + password)};
}

// Refuses documents without a `type`, and those asking for it with `auth`; deletions pass.
const char* kTypedDdoc = R"({"_id":"_design/typed","validate_doc_update":
  "function(newDoc, oldDoc, userCtx, secObj){ if (newDoc._deleted) return; if (newDoc.auth) throw({unauthorized: 'log in'}); if (!newDoc.type) throw({forbidden: 'a document needs a type'}); }"})";

std::string reason(const std::string& body) { return Json(body).str("reason"); }

std::vector<std::string> ids(const Json& feed) {
  std::vector<std::string> out;
  for (auto row : feed["results"].get_array()) out.emplace_back(std::string_view(row["id"].get_string()));
  return out;
}

}  // namespace

TEST_CASE("JS validate: a refusal is 403 forbidden with the function's message on PUT, POST and COPY",
          "[http][js]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("POST", "/db", kTypedDdoc).status == 201);

  auto put = node("PUT", "/db/plain", R"({"n":1})");
  CHECK(put.status == 403);
  CHECK(Json(put.body).str("error") == "forbidden");
  CHECK(reason(put.body) == "a document needs a type");
  auto post = node("POST", "/db", R"({"n":1})");
  CHECK(post.status == 403);
  CHECK(reason(post.body) == "a document needs a type");
  auto unauth = node("PUT", "/db/who", R"({"type":"x","auth":true})");
  CHECK(unauth.status == 401);
  CHECK(Json(unauth.body).str("error") == "unauthorized");
  CHECK(reason(unauth.body) == "log in");

  REQUIRE(node("PUT", "/db/good", R"({"type":"note"})").status == 201);
  REQUIRE(node("POST", "/db", R"({"type":"note"})").status == 201);
  CHECK(node("GET", "/db/plain").status == 404);
  // COPY writes the source's body under the new id: it passes as the source did.
  CHECK(node("COPY", "/db/good", "", {{"Destination", "copied"}}).status == 201);
  // An update that drops the type is refused and the document keeps its revision.
  std::string rev = Json(node("GET", "/db/good").body).str("_rev");
  auto update = node("PUT", "/db/good?rev=" + rev, R"({"n":2})");
  CHECK(update.status == 403);
  CHECK(Json(node("GET", "/db/good").body).str("_rev") == rev);
  // Deletion passes this function (it lets _deleted through).
  CHECK(node("DELETE", "/db/good?rev=" + rev).status == 200);
}

TEST_CASE("JS validate: _bulk_docs answers each refused document and writes the rest, new_edits=false too",
          "[http][js]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("POST", "/db", kTypedDdoc).status == 201);

  auto bulk =
      node("POST", "/db/_bulk_docs",
           R"({"docs":[{"_id":"ok1","type":"a"},{"_id":"bad2"},{"_id":"auth2","type":"a","auth":true}]})");
  REQUIRE(bulk.status == 201);
  Json results(bulk.body);
  auto rows = results.root().get_array();
  REQUIRE(rows.size() == 3);
  CHECK(std::string_view(rows.at(0)["id"]) == "ok1");
  CHECK(rows.at(0)["ok"].get_bool().value());
  CHECK(std::string_view(rows.at(1)["id"]) == "bad2");
  CHECK(std::string_view(rows.at(1)["error"]) == "forbidden");
  CHECK(std::string_view(rows.at(1)["reason"]) == "a document needs a type");
  CHECK(std::string_view(rows.at(2)["id"]) == "auth2");
  CHECK(std::string_view(rows.at(2)["error"]) == "unauthorized");
  CHECK(node("GET", "/db/ok1").status == 200);
  CHECK(node("GET", "/db/bad2").status == 404);

  // As a replicator writes: only the failures are answered, with the revision sent.
  auto replicated = node(
      "POST", "/db/_bulk_docs",
      R"({"new_edits":false,"docs":[{"_id":"bad3","_rev":"1-abc"},{"_id":"ok3","_rev":"1-def","type":"b"}]})");
  REQUIRE(replicated.status == 201);
  Json failures(replicated.body);
  auto failed = failures.root().get_array();
  REQUIRE(failed.size() == 1);
  CHECK(std::string_view(failed.at(0)["id"]) == "bad3");
  CHECK(std::string_view(failed.at(0)["rev"]) == "1-abc");
  CHECK(std::string_view(failed.at(0)["error"]) == "forbidden");
  CHECK(node("GET", "/db/ok3").status == 200);
  CHECK(node("GET", "/db/bad3").status == 404);
  // PUT ?new_edits=false is a replicated write too.
  CHECK(node("PUT", "/db/bad4?new_edits=false", R"({"_rev":"1-aaa"})").status == 403);
}

TEST_CASE("JS validate: the function sees newDoc, oldDoc, userCtx and secObj; admins are not exempt",
          "[http][js]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  const Header admin = basic("admin", "s3cret");
  REQUIRE(node("PUT", "/_users/org.couchdb.user:bob",
               R"({"name":"bob","password":"bobpw","roles":["writer"],"type":"user"})", {admin})
              .status == 201);
  const Header bob = basic("bob", "bobpw");
  REQUIRE(node("PUT", "/db", "", {admin}).status == 201);
  REQUIRE(node("PUT", "/db/_security", R"({"members":{"names":["bob"]},"admins":{},"owner_field":"owner"})",
               {admin})
              .status == 200);
  REQUIRE(node("PUT", "/db/_design/owned", R"({"validate_doc_update":
    "function(newDoc, oldDoc, userCtx, secObj){ if (userCtx.db !== 'db') throw({forbidden: 'db ' + userCtx.db}); if (newDoc[secObj.owner_field] !== userCtx.name) throw({forbidden: 'not yours: ' + userCtx.name + ' ' + JSON.stringify(userCtx.roles)}); if (oldDoc && oldDoc.owner !== newDoc.owner) throw({forbidden: 'owner changed'}); }"})",
               {admin})
              .status == 201);

  CHECK(node("PUT", "/db/mine", R"({"owner":"bob"})", {bob}).status == 201);
  auto theirs = node("PUT", "/db/theirs", R"({"owner":"eve"})", {bob});
  CHECK(theirs.status == 403);
  CHECK(reason(theirs.body) == R"(not yours: bob ["writer"])");
  // The admin is held to the same rule; its roles include _admin.
  auto byAdmin = node("PUT", "/db/adm", R"({"owner":"bob"})", {admin});
  CHECK(byAdmin.status == 403);
  CHECK(reason(byAdmin.body) == R"(not yours: admin ["_admin"])");
  CHECK(node("PUT", "/db/adm", R"({"owner":"admin"})", {admin}).status == 201);
  // oldDoc is the current revision.
  std::string rev = Json(node("GET", "/db/adm", "", {admin}).body).str("_rev");
  auto moved = node("PUT", "/db/adm?rev=" + rev, R"({"owner":"bob"})", {bob});
  CHECK(moved.status == 403);
  CHECK(reason(moved.body) == "owner changed");
}

TEST_CASE("JS validate: attachment uploads and deletions are validated", "[http][js]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/doc", R"({"type":"a"})").status == 201);
  REQUIRE(node("PUT", "/db/_design/noatt", R"({"validate_doc_update":
    "function(newDoc){ if (newDoc._attachments && newDoc._attachments['no.txt']) throw({forbidden: 'no no.txt'}); }"})")
              .status == 201);
  std::string rev = Json(node("GET", "/db/doc").body).str("_rev");
  auto att = node("PUT", "/db/doc/no.txt?rev=" + rev, "hello", {{"Content-Type", "text/plain"}});
  CHECK(att.status == 403);
  CHECK(reason(att.body) == "no no.txt");
  CHECK(node("PUT", "/db/doc/yes.txt?rev=" + rev, "hello", {{"Content-Type", "text/plain"}}).status == 201);
}

TEST_CASE(
    "JS validate: a database without validate_doc_update is unaffected, and other ddocs do not validate",
    "[http][js]") {
  LiveServer node;
  REQUIRE(node("PUT", "/free").status == 201);
  REQUIRE(node("PUT", "/strict").status == 201);
  REQUIRE(node("POST", "/strict", kTypedDdoc).status == 201);
  REQUIRE(node("PUT", "/free/_design/views", R"({"views":{"v":{"map":"function(doc){emit(doc._id)}"}}})")
              .status == 201);
  CHECK(node("PUT", "/free/plain", R"({"n":1})").status == 201);
  CHECK(node("PUT", "/strict/plain", R"({"n":1})").status == 403);
  // Deleting the validating design document lifts the rule at once (the cache follows design documents).
  std::string rev = Json(node("GET", "/strict/_design/typed").body).str("_rev");
  REQUIRE(node("DELETE", "/strict/_design/typed?rev=" + rev).status == 200);
  CHECK(node("PUT", "/strict/plain", R"({"n":1})").status == 201);
}

TEST_CASE("JS validate: a runaway function is an error within os_process_timeout; the node keeps answering",
          "[http][js]") {
  LiveServer node("[couchdb]\nos_process_timeout = 1000\n");
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(
      node("PUT", "/db/_design/loop", R"({"validate_doc_update":"function(){ while(true){} }"})").status ==
      201);
  auto started = std::chrono::steady_clock::now();
  auto slow = std::async(std::launch::async, [&] { return node("PUT", "/db/x", R"({"a":1})"); });
  // Meanwhile other requests are answered.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto up = std::chrono::steady_clock::now();
  CHECK(node("GET", "/db").status == 200);
  CHECK(std::chrono::steady_clock::now() - up < std::chrono::milliseconds(500));
  auto reply = slow.get();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));
  CHECK(reply.status == 500);
  CHECK(Json(reply.body).str("error") == "os_process_error");
  CHECK(node("GET", "/db/x").status == 404);
}

TEST_CASE("JS filters: filter=ddoc/name with query params and userCtx, and filter=_view", "[http][js]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/app", R"({
    "filters":{"open":"function(doc, req){ return doc.status === (req.query.status || 'open'); }",
               "who":"function(doc, req){ return req.userCtx.db === 'db' && req.userCtx.name === null && req.method === 'GET' && req.path[1] === '_changes'; }"},
    "views":{"tagged":{"map":"function(doc){ (doc.tags||[]).forEach(function(t){ emit(t, null); }); }"}}})")
              .status == 201);
  REQUIRE(node("POST", "/db/_bulk_docs", R"({"docs":[
    {"_id":"d0","status":"open"},{"_id":"d1","status":"done","tags":["x"]},{"_id":"d2","status":"open","tags":["y"]},
    {"_id":"d3","status":"done"}]})")
              .status == 201);

  auto open = node("GET", "/db/_changes?filter=app/open");
  REQUIRE(open.status == 200);
  CHECK(ids(Json(open.body)) == std::vector<std::string>{"d0", "d2"});
  CHECK(ids(Json(node("GET", "/db/_changes?filter=app/open&status=done").body)) ==
        std::vector<std::string>{"d1", "d3"});
  CHECK(ids(Json(node("POST", "/db/_changes?filter=app/open&status=done", "{}").body)) ==
        std::vector<std::string>{"d1", "d3"});
  // The design document itself is a change too; the who filter lets every row through.
  CHECK(ids(Json(node("GET", "/db/_changes?filter=app/who").body)).size() == 5);
  CHECK(ids(Json(node("GET", "/db/_changes?filter=_view&view=app/tagged").body)) ==
        std::vector<std::string>{"d1", "d2"});
  // last_seq covers the rows filtered out.
  CHECK(uint64_t(Json(node("GET", "/db/_changes?filter=app/open").body)["last_seq"]) ==
        uint64_t(Json(node("GET", "/db/_changes").body)["last_seq"]));

  // A longpoll waits for a change that passes.
  auto waiting = std::async(std::launch::async, [&] {
    return node("GET", "/db/_changes?feed=longpoll&since=now&filter=app/open");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(node("PUT", "/db/late", R"({"status":"open"})").status == 201);
  CHECK(ids(Json(waiting.get().body)) == std::vector<std::string>{"late"});

  // Missing design documents, functions and views: CouchDB's answers.
  auto noDdoc = node("GET", "/db/_changes?filter=nope/open");
  CHECK(noDdoc.status == 404);
  CHECK(Json(noDdoc.body).str("error") == "not_found");
  CHECK(node("GET", "/db/_changes?filter=app/nope").status == 404);
  CHECK(node("GET", "/db/_changes?filter=_view&view=app/nope").status == 404);
  CHECK(node("GET", "/db/_changes?filter=_view").status == 400);
}

TEST_CASE("JS filters: a continuous filtered feed sends its headers and matching rows at once",
          "[http][js]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/app",
               R"({"filters":{"open":"function(doc){ return doc.status === 'open'; }"}})")
              .status == 201);
  REQUIRE(node("PUT", "/db/a", R"({"status":"open"})").status == 201);
  REQUIRE(node("PUT", "/db/b", R"({"status":"done"})").status == 201);
  auto started = std::chrono::steady_clock::now();
  std::string raw = settee::test::rawExchange(
      node.port(),
      "GET /db/_changes?feed=continuous&filter=app/open&heartbeat=10000 HTTP/1.1\r\nHost: x\r\n\r\n", 1500);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
  CHECK(raw.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(raw.find(R"("id":"a")") != std::string::npos);
  CHECK(raw.find(R"("id":"b")") == std::string::npos);
}

TEST_CASE("JS replication: a local replication validates into its target and filters its source by name",
          "[http][js]") {
  LiveServer node;
  REQUIRE(node("PUT", "/src").status == 201);
  REQUIRE(node("PUT", "/guarded").status == 201);
  REQUIRE(node("POST", "/guarded", kTypedDdoc).status == 201);
  REQUIRE(node("PUT", "/src/_design/app",
               R"({"filters":{"typed":"function(doc, req){ return doc.type === req.query.type; }"}})")
              .status == 201);
  REQUIRE(node("POST", "/src/_bulk_docs",
               R"({"docs":[{"_id":"a","type":"x"},{"_id":"b"},{"_id":"c","type":"y"},{"_id":"d"}]})")
              .status == 201);

  // Into a database whose validate_doc_update refuses untyped documents (the design document of the
  // source is not one of them: design documents are not validated).
  auto pushed = node("POST", "/_replicate", R"({"source":"src","target":"guarded"})");
  REQUIRE(pushed.status == 200);
  Json history(pushed.body);
  CHECK(uint64_t(history["history"].at(0)["doc_write_failures"]) == 2);
  CHECK(node("GET", "/guarded/a").status == 200);
  CHECK(node("GET", "/guarded/b").status == 404);

  // Out of a local source with a named filter and query_params.
  auto filtered =
      node("POST", "/_replicate",
           R"({"source":"src","target":"only_y","create_target":true,"filter":"app/typed","query_params":{"type":"y"}})");
  REQUIRE(filtered.status == 200);
  auto all = Json(node("GET", "/only_y/_all_docs").body);
  REQUIRE(all["rows"].get_array().size() == 1);
  CHECK(std::string_view(all["rows"].at(0)["id"]) == "c");
  CHECK(node("POST", "/_replicate", R"({"source":"src","target":"none","create_target":true,"filter":"app/nope"})")
            .status == 404);
}
