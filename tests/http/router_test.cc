// The router is a table: each row is a request and the route (and captures) it must reach.
#include "http/router.h"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "http/request.h"

using settee::http::Params;
using settee::http::Request;
using settee::http::RouteOutcome;
using settee::http::Router;

namespace {

// The handler type is generic; naming each route by a string makes the table readable.
Router<std::string> couchRoutes() {
  Router<std::string> router;
  router.add("GET", "/", "welcome");
  router.add("GET", "/_all_dbs", "all_dbs");
  router.add("POST", "/_replicate", "replicate");
  router.add("GET", "/{db}", "db_info");
  router.add("PUT", "/{db}", "db_create");
  router.add("DELETE", "/{db}", "db_delete");
  router.add("POST", "/{db}", "db_post");
  router.add("GET", "/{db}/_changes", "changes");
  router.add("POST", "/{db}/_changes", "changes_post");
  router.add("GET", "/{db}/_all_docs", "all_docs");
  router.add("POST", "/{db}/_bulk_docs", "bulk_docs");
  router.add("GET", "/{db}/_design/{ddoc}", "ddoc_get");
  router.add("PUT", "/{db}/_design/{ddoc}", "ddoc_put");
  router.add("GET", "/{db}/_design/{ddoc}/_view/{view}", "view");
  router.add("GET", "/{db}/_design/{ddoc}/{att...}", "ddoc_att");
  router.add("GET", "/{db}/_local/{id}", "local_get");
  router.add("PUT", "/{db}/_local/{id}", "local_put");
  router.add("GET", "/{db}/{docid}", "doc_get");
  router.add("PUT", "/{db}/{docid}", "doc_put");
  router.add("DELETE", "/{db}/{docid}", "doc_delete");
  router.add("GET", "/{db}/{docid}/{att...}", "att_get");
  router.add("GET", "/_scheduler/{what...}", "scheduler");
  return router;
}

std::vector<std::string> segmentsOf(const std::string& target) {
  Request request;
  REQUIRE(settee::http::parseTarget(target, request));
  return request.segments;
}

struct Row {
  std::string method;
  std::string target;
  RouteOutcome outcome;
  std::string route;                                        // when Found
  std::vector<std::pair<std::string, std::string>> params;  // when Found
  std::vector<std::string> allowed;                         // when MethodNotAllowed
};

}  // namespace

TEST_CASE("Router: each request reaches the route its table row names, with its captures", "[http][router]") {
  const Router<std::string> router = couchRoutes();
  using O = RouteOutcome;
  const std::vector<Row> table = {
      {"GET", "/", O::Found, "welcome", {}, {}},
      {"GET", "/_all_dbs", O::Found, "all_dbs", {}, {}},
      {"GET", "/mydb", O::Found, "db_info", {{"db", "mydb"}}, {}},
      {"GET", "/mydb/", O::Found, "db_info", {{"db", "mydb"}}, {}},
      {"PUT", "/mydb", O::Found, "db_create", {{"db", "mydb"}}, {}},
      // A literal beats a capture at the same position: _changes is the feed, not a document.
      {"GET", "/mydb/_changes", O::Found, "changes", {{"db", "mydb"}}, {}},
      {"POST", "/mydb/_changes", O::Found, "changes_post", {{"db", "mydb"}}, {}},
      {"GET", "/mydb/_all_docs", O::Found, "all_docs", {{"db", "mydb"}}, {}},
      {"GET", "/mydb/doc1", O::Found, "doc_get", {{"db", "mydb"}, {"docid", "doc1"}}, {}},
      {"DELETE", "/mydb/doc1", O::Found, "doc_delete", {{"db", "mydb"}, {"docid", "doc1"}}, {}},
      // Captures are decoded segments: an encoded '/' stays inside the id.
      {"GET", "/mydb/a%2Fb", O::Found, "doc_get", {{"db", "mydb"}, {"docid", "a/b"}}, {}},
      {"GET", "/my%20db/x", O::Found, "doc_get", {{"db", "my db"}, {"docid", "x"}}, {}},
      {"GET", "/mydb/_design/app", O::Found, "ddoc_get", {{"db", "mydb"}, {"ddoc", "app"}}, {}},
      {"PUT", "/mydb/_design/app", O::Found, "ddoc_put", {{"db", "mydb"}, {"ddoc", "app"}}, {}},
      // "/db/_design%2Fapp" is the same design document as "/db/_design/app".
      {"GET", "/mydb/_design%2Fapp", O::Found, "doc_get", {{"db", "mydb"}, {"docid", "_design/app"}}, {}},
      {"GET",
       "/mydb/_design/app/_view/by_x",
       O::Found,
       "view",
       {{"db", "mydb"}, {"ddoc", "app"}, {"view", "by_x"}},
       {}},
      // The greedy capture takes every remaining segment, joined by '/'.
      {"GET",
       "/mydb/_design/app/img/logo.png",
       O::Found,
       "ddoc_att",
       {{"db", "mydb"}, {"ddoc", "app"}, {"att", "img/logo.png"}},
       {}},
      {"GET", "/mydb/_local/cp1", O::Found, "local_get", {{"db", "mydb"}, {"id", "cp1"}}, {}},
      {"PUT", "/mydb/_local%2Fcp1", O::Found, "doc_put", {{"db", "mydb"}, {"docid", "_local/cp1"}}, {}},
      {"GET",
       "/mydb/doc1/file.txt",
       O::Found,
       "att_get",
       {{"db", "mydb"}, {"docid", "doc1"}, {"att", "file.txt"}},
       {}},
      {"GET",
       "/mydb/doc1/dir/file.txt",
       O::Found,
       "att_get",
       {{"db", "mydb"}, {"docid", "doc1"}, {"att", "dir/file.txt"}},
       {}},
      {"GET", "/_scheduler/jobs", O::Found, "scheduler", {{"what", "jobs"}}, {}},
      {"GET", "/_scheduler/docs/_replicator/x", O::Found, "scheduler", {{"what", "docs/_replicator/x"}}, {}},
      // HEAD goes wherever GET goes.
      {"HEAD", "/mydb/doc1", O::Found, "doc_get", {{"db", "mydb"}, {"docid", "doc1"}}, {}},
      {"HEAD", "/", O::Found, "welcome", {}, {}},
      // The path exists but not for this method: 405 with what is allowed (HEAD beside GET), sorted.
      {"PUT", "/mydb/_changes", O::MethodNotAllowed, "", {}, {"GET", "HEAD", "POST"}},
      {"DELETE", "/_all_dbs", O::MethodNotAllowed, "", {}, {"GET", "HEAD"}},
      {"GET", "/_replicate", O::MethodNotAllowed, "", {}, {"POST"}},
      {"POST", "/mydb/_design/app/_view/v", O::MethodNotAllowed, "", {}, {"GET", "HEAD"}},
      // The "_design" literal branch has no end here, so the capture branch answers; the document
      // handler is the one to refuse "_design" as an id.
      {"GET", "/mydb/_design", O::Found, "doc_get", {{"db", "mydb"}, {"docid", "_design"}}, {}},
      // A greedy capture needs at least one segment; "/_scheduler" alone falls to "{db}".
      {"GET", "/_scheduler", O::Found, "db_info", {{"db", "_scheduler"}}, {}},
      // No such path: 404.
      {"GET", "//x", O::NotFound, "", {}, {}},
  };
  for (const Row& row : table) {
    CAPTURE(row.method, row.target);
    auto match = router.match(row.method, segmentsOf(row.target));
    REQUIRE(match.outcome == row.outcome);
    if (row.outcome == O::Found) {
      REQUIRE(match.handler != nullptr);
      CHECK(*match.handler == row.route);
      CHECK(match.params.all() == row.params);
    } else {
      CHECK(match.handler == nullptr);
      CHECK(match.allowed == row.allowed);
    }
  }
}

TEST_CASE("Router: the result does not depend on the order routes were added", "[http][router]") {
  Router<int> forward, backward;
  forward.add("GET", "/{db}/{docid}", 1);
  forward.add("GET", "/{db}/_changes", 2);
  backward.add("GET", "/{db}/_changes", 2);
  backward.add("GET", "/{db}/{docid}", 1);
  for (const auto* router : {&forward, &backward}) {
    CHECK(*router->match("GET", {"db", "_changes"}).handler == 2);
    CHECK(*router->match("GET", {"db", "other"}).handler == 1);
  }
}

TEST_CASE("Router: a literal branch that dead-ends falls back to the capture", "[http][router]") {
  Router<int> router;
  router.add("GET", "/{db}/_design/{ddoc}", 1);
  router.add("GET", "/{db}/{docid}/{a}/{b}", 2);
  // "/db/_design/x/y" does not end under the literal "_design" branch, so the capture branch answers.
  auto match = router.match("GET", {"db", "_design", "x", "y"});
  REQUIRE(match.outcome == RouteOutcome::Found);
  CHECK(*match.handler == 2);
  CHECK(match.params["docid"] == "_design");
  CHECK(match.params["a"] == "x");
  CHECK(match.params["b"] == "y");
  CHECK(match.params.get("nothing") == nullptr);
  CHECK(match.params["nothing"].empty());
}

TEST_CASE("Router: a capture never matches an empty segment", "[http][router]") {
  Router<int> router;
  router.add("GET", "/{db}/{docid}", 1);
  CHECK(router.match("GET", {"db", ""}).outcome == RouteOutcome::NotFound);
  CHECK(router.match("GET", {"", "x"}).outcome == RouteOutcome::NotFound);
}

TEST_CASE("Router: a registered HEAD route takes precedence over GET for HEAD", "[http][router]") {
  Router<int> router;
  router.add("GET", "/{db}", 1);
  router.add("HEAD", "/{db}", 2);
  CHECK(*router.match("HEAD", {"db"}).handler == 2);
  CHECK(*router.match("GET", {"db"}).handler == 1);
}

TEST_CASE("Router: malformed patterns and duplicates are rejected when added", "[http][router]") {
  Router<int> router;
  router.add("GET", "/{db}", 1);
  CHECK_THROWS_AS(router.add("GET", "/{db}", 2), std::invalid_argument);
  CHECK_THROWS_AS(router.add("GET", "/{name}", 2), std::invalid_argument);  // same shape, same method
  CHECK_NOTHROW(router.add("PUT", "/{name}", 2));
  for (const char* bad :
       {"", "db", "/a//b", "/a/", "/{", "/{}", "/{a}/{a}", "/{rest...}/x", "/a{b}", "/{a.b}"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(router.add("GET", bad, 3), std::invalid_argument);
  }
}
