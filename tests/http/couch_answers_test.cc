// CouchDB 3.4's exact answers where clients (and CouchDB's own test suite) match on them, against a real
// `settee serve`: all_or_nothing in _bulk_docs, COPY to an absolute URL, a stub naming a revpos the
// document does not have, weak ETags in If-None-Match, and a Range that asks for everything.
#include <catch2/catch.hpp>
#include <string>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

std::string str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

}  // namespace

TEST_CASE("BulkDocs: all_or_nothing is refused, 417 with not_implemented for every document, nothing written",
          "[http][bulk][answers]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  auto r = node("POST", "/db/_bulk_docs",
                R"({"all_or_nothing":true,"docs":[{"_id":"a"},{"_id":"b","_rev":"1-abc"},{"v":1}]})");
  REQUIRE(r.status == 417);
  Json j(r.body);
  auto rows = j.root().get_array();
  REQUIRE(rows.size() == 3);
  for (auto row : rows) {
    CHECK(str(row["error"]) == "not_implemented");
    CHECK(str(row["reason"]) == "all_or_nothing is not supported");
  }
  CHECK(str(rows.at(0)["id"]) == "a");
  CHECK(str(rows.at(0)["rev"]) == "0-");
  CHECK(str(rows.at(1)["rev"]) == "1-abc");
  CHECK(str(rows.at(2)["id"]).size() == 32);
  CHECK(node("GET", "/db/a").status == 404);
  CHECK(int64_t(Json(node("GET", "/db").body)["doc_count"]) == 0);
  // all_or_nothing:false, or with new_edits:false, writes as usual.
  CHECK(node("POST", "/db/_bulk_docs", R"({"all_or_nothing":false,"docs":[{"_id":"a"}]})").status == 201);
  CHECK(node("POST", "/db/_bulk_docs",
             R"({"all_or_nothing":true,"new_edits":false,"docs":[{"_id":"r","_rev":"1-abc"}]})")
            .status == 201);
  CHECK(node("GET", "/db/r").status == 200);
}

TEST_CASE("Copy: a Destination that is an absolute URL is refused", "[http][document][answers]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/src", R"({"v":1})").status == 201);
  for (const char* dest : {"http://127.0.0.1:5984/db/dst", "https://elsewhere/db/dst"}) {
    auto r = node("COPY", "/db/src", "", {{"Destination", dest}});
    CHECK(r.status == 400);
    CHECK(Json(r.body).str("error") == "bad_request");
    CHECK(Json(r.body).str("reason") == "Destination URL must be relative.");
  }
  CHECK(node("GET", "/db/dst").status == 404);
  CHECK(node("COPY", "/db/src", "", {{"Destination", "dst"}}).status == 201);
  auto none = node("COPY", "/db/src");
  CHECK(none.status == 400);
  CHECK(Json(none.body).str("reason") == "Destination header is mandatory for COPY.");
}

TEST_CASE("Attachments: a stub naming a revpos the document does not have is 412 missing_stub",
          "[http][attachments][answers]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  auto created =
      node("PUT", "/db/doc", R"({"_attachments":{"a.txt":{"content_type":"text/plain","data":"YWFh"}}})");
  REQUIRE(created.status == 201);
  std::string rev = Json(created.body).str("rev");
  auto wrong = node("PUT", "/db/doc",
                    R"({"_rev":")" + rev + R"(","_attachments":{"a.txt":{"stub":true,"revpos":10}}})");
  CHECK(wrong.status == 412);
  CHECK(Json(wrong.body).str("error") == "missing_stub");
  // The right revpos, or none, keeps the attachment.
  auto right = node("PUT", "/db/doc",
                    R"({"_rev":")" + rev + R"(","_attachments":{"a.txt":{"stub":true,"revpos":1}}})");
  REQUIRE(right.status == 201);
  auto bare =
      node("PUT", "/db/doc",
           R"({"_rev":")" + Json(right.body).str("rev") + R"(","_attachments":{"a.txt":{"stub":true}}})");
  REQUIRE(bare.status == 201);
  CHECK(node("GET", "/db/doc/a.txt").body == "aaa");
  // A stub of a name the document never had.
  auto unknown =
      node("PUT", "/db/doc",
           R"({"_rev":")" + Json(bare.body).str("rev") + R"(","_attachments":{"b.txt":{"stub":true}}})");
  CHECK(unknown.status == 412);
  CHECK(Json(unknown.body).str("error") == "missing_stub");
}

TEST_CASE("ETags: a weak tag in If-None-Match matches a document's and an attachment's", "[http][answers]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  auto created =
      node("PUT", "/db/doc", R"({"_attachments":{"a.txt":{"content_type":"text/plain","data":"YWFh"}}})");
  REQUIRE(created.status == 201);
  std::string etag = *node("GET", "/db/doc").header("ETag");
  CHECK(node("GET", "/db/doc", "", {{"If-None-Match", etag}}).status == 304);
  CHECK(node("GET", "/db/doc", "", {{"If-None-Match", "W/" + etag}}).status == 304);
  CHECK(node("GET", "/db/doc", "", {{"If-None-Match", "\"other\", W/" + etag}}).status == 304);
  CHECK(node("GET", "/db/doc", "", {{"If-None-Match", "W/\"other\""}}).status == 200);
  std::string attTag = *node("GET", "/db/doc/a.txt").header("ETag");
  CHECK(node("GET", "/db/doc/a.txt", "", {{"If-None-Match", "W/" + attTag}}).status == 304);
  CHECK(node("GET", "/db/doc/a.txt", "", {{"If-None-Match", "W/\"nope\""}}).status == 200);
}

TEST_CASE("Attachments: Range bytes=0- answers the whole body with 200, as CouchDB does",
          "[http][attachments][answers]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  // "0123456789", base64.
  REQUIRE(node("PUT", "/db/doc",
               R"({"_attachments":{"n.txt":{"content_type":"text/plain","data":"MDEyMzQ1Njc4OQ=="}}})")
              .status == 201);
  auto whole = node("GET", "/db/doc/n.txt", "", {{"Range", "bytes=0-"}});
  CHECK(whole.status == 200);
  CHECK(whole.body == "0123456789");
  CHECK(whole.header("Content-Range") == nullptr);
  // An explicit range is partial, even one that covers everything (CouchDB answers it 206 too).
  auto part = node("GET", "/db/doc/n.txt", "", {{"Range", "bytes=2-4"}});
  CHECK(part.status == 206);
  CHECK(part.body == "234");
  auto all = node("GET", "/db/doc/n.txt", "", {{"Range", "bytes=0-9"}});
  CHECK(all.status == 206);
  CHECK(*all.header("Content-Range") == "bytes 0-9/10");
}

TEST_CASE("LocalDocs: CouchDB's refusals for /db/_local alone and for attachments of a _local document",
          "[http][localdocs][answers]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_local/a", "{}").status == 201);
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    INFO(method);
    auto bare = node(method, "/db/_local", "{}");
    CHECK(bare.status == 400);
    CHECK(Json(bare.body).str("reason") == "Invalid _local document id.");
    auto att = node(method, "/db/_local/a/file.txt", "x", {{"Content-Type", "text/plain"}});
    CHECK(att.status == 400);
    CHECK(Json(att.body).str("reason") == "_local documents do not accept attachments.");
  }
  CHECK(node("GET", "/db/_local/a").status == 200);
}

TEST_CASE("Databases: DELETE with ?rev= is refused in CouchDB's words", "[http][answers]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  auto r = node("DELETE", "/db?rev=1-abc");
  CHECK(r.status == 400);
  CHECK(Json(r.body).str("reason") ==
        "You tried to DELETE a database with a ?=rev parameter. Did you mean to DELETE a document instead?");
  CHECK(node("GET", "/db").status == 200);
}
