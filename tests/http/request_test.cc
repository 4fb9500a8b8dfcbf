#include "http/request.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "http/response.h"

using settee::http::parseTarget;
using settee::http::percentDecode;
using settee::http::Request;
using settee::http::Response;

TEST_CASE("Request: the path splits on '/' before percent-decoding, so %2F stays in its segment", "[http]") {
  Request r;
  REQUIRE(parseTarget("/db/_local%2Fx", r));
  CHECK(r.path == "/db/_local%2Fx");
  CHECK(r.segments == std::vector<std::string>{"db", "_local/x"});
  REQUIRE(parseTarget("/", r));
  CHECK(r.segments.empty());
  REQUIRE(parseTarget("/db/", r));
  CHECK(r.segments == std::vector<std::string>{"db"});
  REQUIRE(parseTarget("/a//b", r));
  CHECK(r.segments == std::vector<std::string>{"a", "", "b"});
  REQUIRE(parseTarget("/a+b/%C3%A9", r));
  CHECK(r.segments == std::vector<std::string>{"a+b", "\xC3\xA9"});  // '+' is literal in a path
}

TEST_CASE("Request: the query is decoded with '+' as a space and keeps order and repeats", "[http]") {
  Request r;
  REQUIRE(parseTarget("/db/_changes?feed=longpoll&since=now&key=%22a+b%22&flag&&x=1&x=2", r));
  CHECK(r.path == "/db/_changes");
  using P = std::pair<std::string, std::string>;
  CHECK(
      r.query ==
      std::vector<P>{
          {"feed", "longpoll"}, {"since", "now"}, {"key", "\"a b\""}, {"flag", ""}, {"x", "1"}, {"x", "2"}});
  CHECK(r.param("x") == std::optional<std::string_view>("1"));
  CHECK(r.param("flag") == std::optional<std::string_view>(""));
  CHECK_FALSE(r.param("missing"));
}

TEST_CASE("Request: the absolute form is accepted and anything else is refused", "[http]") {
  Request r;
  REQUIRE(parseTarget("http://localhost:5984/db/doc?rev=1-a", r));
  CHECK(r.segments == std::vector<std::string>{"db", "doc"});
  CHECK(r.param("rev") == std::optional<std::string_view>("1-a"));
  CHECK_FALSE(parseTarget("*", r));
  CHECK_FALSE(parseTarget("db/doc", r));
  CHECK_FALSE(parseTarget("/db/%zz", r));
  CHECK_FALSE(parseTarget("/db/%2", r));
  CHECK_FALSE(parseTarget("/db?x=%", r));
}

TEST_CASE("Request: header lookup ignores case and returns the first", "[http]") {
  Request r;
  r.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
  REQUIRE(r.header("content-type"));
  CHECK(*r.header("CONTENT-TYPE") == "application/json");
  CHECK(*r.header("x-A") == "1");
  CHECK(r.header("Accept") == nullptr);
}

TEST_CASE("Request: percentDecode refuses a truncated escape", "[http]") {
  CHECK(percentDecode("a%41", false) == std::optional<std::string>("aA"));
  CHECK(percentDecode("a+b", true) == std::optional<std::string>("a b"));
  CHECK(percentDecode("a+b", false) == std::optional<std::string>("a+b"));
  CHECK_FALSE(percentDecode("%4", false));
  CHECK_FALSE(percentDecode("%", false));
}

TEST_CASE("Response: error bodies are escaped JSON, and setHeader replaces regardless of case", "[http]") {
  Response r = Response::error(404, "not_found", "no \"x\"\n");
  CHECK(r.status == 404);
  CHECK(r.body == "{\"error\":\"not_found\",\"reason\":\"no \\\"x\\\"\\n\"}\n");
  REQUIRE(r.header("content-type"));
  CHECK(*r.header("content-type") == "application/json");
  r.setHeader("CONTENT-TYPE", "text/plain");
  CHECK(r.headers.size() == 1);
  CHECK(*r.header("Content-Type") == "text/plain");
}
