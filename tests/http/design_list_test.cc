// _list against a real node, as far as the node goes today: the paths are the list's (not an
// attachment's), and what CouchDB checks before it reads the view is answered in its words.
#include <catch2/catch.hpp>
#include <string>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

TEST_CASE("List: missing functions, views and paths are 404 in CouchDB's words", "[http][js][render]") {
  LiveServer s;
  REQUIRE(s("PUT", "/db").status == 201);
  REQUIRE(s("PUT", "/db/_design/app", R"({"views":{"byName":{"map":"function(doc){ emit(doc.name, null); }"}},
    "lists":{"csv":"function(head, req){ var row; while ((row = getRow())) send(row.key); }"}})")
              .status == 201);
  auto noList = s("GET", "/db/_design/app/_list/nope/byName");
  CHECK(noList.status == 404);
  CHECK(Json(noList.body).str("reason") == "missing json key: nope");
  auto noView = s("GET", "/db/_design/app/_list/csv/nope");
  CHECK(noView.status == 404);
  CHECK(Json(noView.body).str("error") == "not_found");
  CHECK(Json(noView.body).str("reason") == "missing_named_view");
  auto noDdoc = s("GET", "/db/_design/app/_list/csv/other/byName");
  CHECK(noDdoc.status == 404);
  CHECK(Json(noDdoc.body).str("reason") == "missing");
  auto shortPath = s("GET", "/db/_design/app/_list/csv");
  CHECK(shortPath.status == 404);
  CHECK(Json(shortPath.body).str("error") == "list_error");
  CHECK(Json(shortPath.body).str("reason") == "Invalid path.");
  CHECK(Json(s("GET", "/db/_design/app/_list/csv/a/b/c").body).str("reason") == "Invalid path.");
  CHECK(s("PUT", "/db/_design/app/_list/csv/byName").status == 405);
}
