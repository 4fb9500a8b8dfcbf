// GET /db/doc answers the revision it read as its ETag, whichever way the document is read: the store
// says which revision that is, so no answer is parsed again to find its `_rev`.
#include <catch2/catch.hpp>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {
std::string etagOf(const std::string& rev) { return "\"" + rev + "\""; }
}  // namespace

TEST_CASE("Docs: the ETag is the revision read, for ?rev=, latest=true, attachments and _local documents",
          "[http][docs][etag]") {
  LiveServer node;
  node("PUT", "/db");
  std::string rev1 = Json(node("PUT", "/db/a", R"({"v":1})").body).str("rev");
  std::string rev2 = Json(node("PUT", "/db/a?rev=" + rev1, R"({"v":2})").body).str("rev");

  auto old = node("GET", "/db/a?rev=" + rev1);
  REQUIRE(old.status == 200);
  CHECK(*old.header("ETag") == etagOf(rev1));
  // latest=true answers the leaf the named revision leads to, and names it.
  auto latest = node("GET", "/db/a?rev=" + rev1 + "&latest=true");
  REQUIRE(latest.status == 200);
  CHECK(Json(latest.body).str("_rev") == rev2);
  CHECK(*latest.header("ETag") == etagOf(rev2));
  CHECK(node("GET", "/db/a?rev=" + rev1 + "&latest=true", "", {{"If-None-Match", etagOf(rev2)}}).status ==
        304);

  std::string withAtt =
      Json(node("PUT", "/db/b",
                R"({"_attachments":{"t.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})")
               .body)
          .str("rev");
  // Regression: with every attachment small enough to inline at once, the answer had no ETag at all.
  auto inlined = node("GET", "/db/b?attachments=true");
  REQUIRE(inlined.status == 200);
  REQUIRE(inlined.header("ETag"));
  CHECK(*inlined.header("ETag") == etagOf(withAtt));
  CHECK(node("GET", "/db/b?attachments=true", "", {{"If-None-Match", etagOf(withAtt)}}).status == 304);
  auto related = node("GET", "/db/b?attachments=true", "", {{"Accept", "multipart/related"}});
  REQUIRE(related.status == 200);
  REQUIRE(related.header("ETag"));
  CHECK(*related.header("ETag") == etagOf(withAtt));

  REQUIRE(node("PUT", "/db/_local/x", R"({"v":1})").status == 201);
  auto local = node("GET", "/db/_local/x");
  REQUIRE(local.status == 200);
  REQUIRE(local.header("ETag"));
  CHECK(*local.header("ETag") == etagOf(Json(local.body).str("_rev")));
}
