// _list against a real node: list functions (run by `settee js`) over view
// answers, with the view's query options, another design document's view,
// content negotiation and errors as CouchDB 3.4 answers.
#include <catch2/catch.hpp>
#include <string>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

const char *kApp = R"({
  "views": {
    "byName": {"map": "function(doc){ if (doc.name) emit(doc.name, doc.n); }"},
    "total": {"map": "function(doc){ if (doc.n) emit(doc.kind, doc.n); }", "reduce": "_sum"}
  },
  "lists": {
    "csv": "function(head, req){ start({headers: {'Content-Type': 'text/csv'}}); send('total=' + head.total_rows + ',offset=' + head.offset + '\\n'); var row; while ((row = getRow())) send(row.key + ',' + row.value + ',' + row.id + '\\n'); }",
    "head": "function(head, req){ return JSON.stringify(head); }",
    "ids": "function(head, req){ var row, ids = []; while ((row = getRow())) ids.push(row.id); return ids.join(','); }",
    "docs": "function(head, req){ var row, names = []; while ((row = getRow())) names.push(row.doc ? row.doc.name : 'none'); return names.join('|'); }",
    "fmt": "function(head, req){ provides('json', function(){ var row, out = []; while ((row = getRow())) out.push(row.key); send(JSON.stringify(out)); }); provides('html', function(){ send('<ul>'); var row; while ((row = getRow())) send('<li>' + row.key); return '</ul>'; }); }",
    "late": "function(head, req){ send('first;'); getRow(); getRow(); throw new Error('at the second row'); }",
    "early": "function(head, req){ throw({error: 'teapot_error', reason: 'short and stout'}); }",
    "silent": "function(head, req){ start({code: 404}); }",
    "spin": "function(head, req){ while (true) {} }"
  }
})";

const char *kOther =
    R"({"views": {"kinds": {"map": "function(doc){ if (doc.kind) emit(doc.kind, null); }"}}})";

struct Node {
  LiveServer server;
  explicit Node(std::string config = "") : server(std::move(config)) {
    REQUIRE(server("PUT", "/db").status == 201);
    REQUIRE(server("PUT", "/db/_design/app", kApp).status == 201);
    REQUIRE(server("PUT", "/db/_design/other", kOther).status == 201);
    REQUIRE(
        server(
            "POST", "/db/_bulk_docs",
            R"({"docs":[{"_id":"a","name":"ann","n":1,"kind":"x"},{"_id":"b","name":"bob","n":2,"kind":"y"},
                       {"_id":"c","name":"cat","n":3,"kind":"x"}]})")
            .status == 201);
  }
};

}  // namespace

TEST_CASE(
    "List: a list function renders a view's rows, head first, as it asks "
    "for them",
    "[http][js][render]") {
  Node node;
  auto &s = node.server;
  auto all = s("GET", "/db/_design/app/_list/csv/byName");
  CHECK(all.status == 200);
  CHECK(all.body == "total=3,offset=0\nann,1,a\nbob,2,b\ncat,3,c\n");
  REQUIRE(all.header("Content-Type"));
  CHECK(*all.header("Content-Type") == "text/csv");
  REQUIRE(all.header("ETag"));
  // The view's query options apply: descending, limit, skip, key ranges.
  CHECK(s("GET", "/db/_design/app/_list/csv/byName?descending=true&limit=2").body ==
        "total=3,offset=0\ncat,3,c\nbob,2,b\n");
  CHECK(s("GET", "/db/_design/app/_list/csv/byName?startkey=%22b%22").body ==
        "total=3,offset=1\nbob,2,b\ncat,3,c\n");
  CHECK(s("GET", "/db/_design/app/_list/docs/byName?include_docs=true").body == "ann|bob|cat");
  // POST takes keys in its body.
  auto keys = s("POST", "/db/_design/app/_list/csv/byName", R"({"keys":["cat","ann"]})");
  CHECK(keys.body.find("cat,3,c\nann,1,a\n") != std::string::npos);
  // The same answer again is not modified.
  CHECK(s("GET", "/db/_design/app/_list/csv/byName", "", {{"If-None-Match", *all.header("ETag")}}).status ==
        304);
}

TEST_CASE(
    "List: the view may live in another design document; reduced rows "
    "come with an empty head",
    "[http][js][render]") {
  Node node;
  auto &s = node.server;
  auto other = s("GET", "/db/_design/app/_list/csv/other/kinds");
  CHECK(other.status == 200);
  CHECK(other.body == "total=3,offset=0\nx,null,a\nx,null,c\ny,null,b\n");
  CHECK(s("GET", "/db/_design/app/_list/head/total?group=true").body == "{}");
  // "_all_docs" names the database's listing, with its own options.
  CHECK(s("GET", "/db/_design/app/_list/ids/_all_docs?startkey=%22a%22&limit=2").body == "a,b");
  auto grouped = s("GET", "/db/_design/app/_list/csv/total?group=true");
  CHECK(grouped.body == "total=undefined,offset=undefined\nx,4,undefined\ny,2,undefined\n");
}

TEST_CASE("List: provides picks the rendering by Accept or ?format", "[http][js][render]") {
  Node node;
  auto &s = node.server;
  auto json = s("GET", "/db/_design/app/_list/fmt/byName", "", {{"Accept", "application/json"}});
  CHECK(json.body == R"(["ann","bob","cat"])");
  CHECK(*json.header("Content-Type") == "application/json");
  auto html = s("GET", "/db/_design/app/_list/fmt/byName?format=html");
  CHECK(html.body == "<ul><li>ann<li>bob<li>cat</ul>");
  CHECK(*html.header("Content-Type") == "text/html; charset=utf-8");
}

TEST_CASE("List: missing functions, views and paths are 404 in CouchDB's words", "[http][js][render]") {
  Node node;
  auto &s = node.server;
  auto noList = s("GET", "/db/_design/app/_list/nope/byName");
  CHECK(noList.status == 404);
  CHECK(Json(noList.body).str("reason") == "missing json key: nope");
  auto noView = s("GET", "/db/_design/app/_list/csv/nope");
  CHECK(noView.status == 404);
  CHECK(Json(noView.body).str("reason") == "missing_named_view");
  auto shortPath = s("GET", "/db/_design/app/_list/csv");
  CHECK(shortPath.status == 404);
  CHECK(Json(shortPath.body).str("error") == "list_error");
  CHECK(Json(shortPath.body).str("reason") == "Invalid path.");
  CHECK(s("PUT", "/db/_design/app/_list/csv/byName").status == 405);
}

TEST_CASE(
    "List: errors before the answer are CouchDB's error; after its first "
    "chunk they end the body",
    "[http][js][render]") {
  Node node;
  auto &s = node.server;
  auto early = s("GET", "/db/_design/app/_list/early/byName");
  CHECK(early.status == 500);
  CHECK(Json(early.body).str("error") == "teapot_error");
  auto late = s("GET", "/db/_design/app/_list/late/byName");
  CHECK(late.status == 200);
  REQUIRE(late.body.rfind("first;\n", 0) == 0);
  Json line(late.body.substr(7));
  CHECK(line.root()["code"].get_int64().value() == 500);
  CHECK(line.str("error") == "render_error");
  // A list that writes nothing is a bare 200, whatever code it started with.
  CHECK(s("GET", "/db/_design/app/_list/silent/byName").status == 200);
}

TEST_CASE(
    "List: a runaway list is killed at os_process_timeout while the node "
    "keeps answering",
    "[http][js][render]") {
  Node node("[couchdb]\nos_process_timeout = 1000\n");
  auto &s = node.server;
  REQUIRE(s("GET", "/db/_design/app/_view/byName").status == 200);  // the index is built
  auto reply = s("GET", "/db/_design/app/_list/spin/byName");
  CHECK(reply.status == 500);
  CHECK(Json(reply.body).str("error") == "os_process_error");
  CHECK(s("GET", "/db/_design/app/_list/head/byName").status == 200);
}
