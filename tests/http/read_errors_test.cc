// A damaged revision tree over HTTP, on a real `settee serve`: _changes, _all_docs and _revs_diff answer
// CouchDB's 500 {"error":"internal_server_error"} instead of a 200 that silently leaves the document out.
#include <catch2/catch.hpp>
#include <string>

#include "live_server.h"
#include "sqlite_tamper.h"

using settee::test::Json;
using settee::test::LiveServer;

TEST_CASE("Read errors over HTTP: a corrupt revision tree is a 500, not a missing row",
          "[http][readerrors]") {
  LiveServer node;
  REQUIRE(node("PUT", "/c").status == 201);
  for (const char* id : {"a", "b", "c"}) REQUIRE(node("PUT", std::string("/c/") + id, "{}").status == 201);
  node.kill9();  // the node holds its files with exclusive locking
  REQUIRE(settee::test::corruptRevTree(node.dataDir() + "/c.settee", "b"));
  node.start();

  for (const char* target :
       {"/c/_changes", "/c/_changes?descending=true", "/c/_all_docs", "/c/_all_docs?include_docs=true"}) {
    INFO(target);
    auto r = node("GET", target);
    CHECK(r.status == 500);
    CHECK(Json(r.body).str("error") == "internal_server_error");
  }
  auto byKeys = node("POST", "/c/_all_docs", R"({"keys":["a","b"]})");
  CHECK(byKeys.status == 500);
  auto diff = node("POST", "/c/_revs_diff", R"({"b":["1-abc"]})");
  CHECK(diff.status == 500);
  CHECK(Json(diff.body).str("error") == "internal_server_error");

  // What does not touch the damaged tree still reads.
  CHECK(node("GET", "/c/a").status == 200);
  CHECK(node("GET", "/c/_changes?since=2").status == 200);
  CHECK(node("GET", "/c").status == 200);
}
