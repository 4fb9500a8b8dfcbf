// The attachment endpoints of a real `settee serve` process: /{db}/{docid}/{att...} GET/HEAD (ranges,
// encodings), PUT and DELETE, and the _design/ form.
#include <catch2/catch.hpp>
#include <string>

#include "http/attachment_test_support.h"
#include "http/multipart.h"
#include "live_server.h"

using settee::test::gzip;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::randomBytes;

namespace {

std::string etagOf(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

TEST_CASE("Atts: PUT creates the document; GET answers the bytes with type, ETag and Content-MD5",
          "[http][atts]") {
  LiveServer node;
  node("PUT", "/db");
  auto put = node("PUT", "/db/d/a.txt", "hello", {{"Content-Type", "text/plain"}});
  REQUIRE(put.status == 201);
  Json p(put.body);
  CHECK(p["ok"].get_bool().value());
  CHECK(p.str("id") == "d");
  std::string rev1 = p.str("rev");
  CHECK(rev1.substr(0, 2) == "1-");
  CHECK(*put.header("ETag") == etagOf(rev1));
  CHECK(put.header("Location")->find("/db/d/a.txt") != std::string::npos);

  auto get = node("GET", "/db/d/a.txt");
  REQUIRE(get.status == 200);
  CHECK(get.body == "hello");
  CHECK(*get.header("Content-Type") == "text/plain");
  CHECK(*get.header("ETag") == "\"XUFAKrxLKna5cZ2REBfFkg==\"");  // base64 of md5("hello")
  CHECK(*get.header("Content-MD5") == "XUFAKrxLKna5cZ2REBfFkg==");
  CHECK(*get.header("Accept-Ranges") == "bytes");
  CHECK(node("GET", "/db/d/a.txt", "", {{"If-None-Match", "\"XUFAKrxLKna5cZ2REBfFkg==\""}}).status == 304);
  auto head = node("HEAD", "/db/d/a.txt");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(*head.header("Content-Length") == "5");

  Json doc(node("GET", "/db/d").body);
  auto stub = doc["_attachments"]["a.txt"];
  CHECK(stub["stub"].get_bool().value());
  CHECK(int64_t(stub["length"]) == 5);
  CHECK(int64_t(stub["revpos"]) == 1);
  CHECK(std::string_view(stub["digest"]) == "md5-XUFAKrxLKna5cZ2REBfFkg==");
  CHECK(std::string_view(stub["content_type"]) == "text/plain");
  // Without a Content-Type the attachment is application/octet-stream.
  auto untyped = node("PUT", "/db/e/blob", "xyz", {{"Content-Type", ""}});
  REQUIRE(untyped.status == 201);
  CHECK(*node("GET", "/db/e/blob").header("Content-Type") == "application/octet-stream");
}

TEST_CASE("Atts: a new attachment keeps the others as stubs; revisions are checked", "[http][atts]") {
  LiveServer node;
  node("PUT", "/db");
  std::string rev1 = Json(node("PUT", "/db/d", R"({"v":1})").body).str("rev");
  // An existing document needs its rev.
  CHECK(node("PUT", "/db/d/a.txt", "A", {{"Content-Type", "text/plain"}}).status == 409);
  CHECK(node("PUT", "/db/d/a.txt?rev=junk", "A", {{"Content-Type", "text/plain"}}).status == 400);
  CHECK(node("PUT", "/db/d/a.txt?rev=1-00000000000000000000000000000000", "A").status == 409);
  auto a = node("PUT", "/db/d/a.txt?rev=" + rev1, "A", {{"Content-Type", "text/plain"}});
  REQUIRE(a.status == 201);
  std::string rev2 = Json(a.body).str("rev");
  // Names with '/', given raw or encoded; the rev by If-Match.
  auto b =
      node("PUT", "/db/d/dir/b.bin", "BB", {{"Content-Type", "application/x-b"}, {"If-Match", etagOf(rev2)}});
  REQUIRE(b.status == 201);
  std::string rev3 = Json(b.body).str("rev");
  CHECK(node("PUT", "/db/d/a.txt?rev=" + rev2, "stale").status == 409);
  Json doc(node("GET", "/db/d").body);
  CHECK(int64_t(doc["v"]) == 1);  // the body is kept
  CHECK(int64_t(doc["_attachments"]["a.txt"]["revpos"]) == 2);
  CHECK(int64_t(doc["_attachments"]["dir/b.bin"]["revpos"]) == 3);
  CHECK(node("GET", "/db/d/dir/b.bin").body == "BB");
  CHECK(node("GET", "/db/d/dir%2Fb.bin").body == "BB");
  // Older revisions by ?rev=.
  CHECK(node("GET", "/db/d/dir/b.bin?rev=" + rev2).status == 404);
  CHECK(node("GET", "/db/d/a.txt?rev=" + rev2).body == "A");
  CHECK(node("GET", "/db/d/a.txt?rev=bad").status == 400);
  // Replacing an attachment.
  auto again = node("PUT", "/db/d/a.txt?rev=" + rev3, "A2", {{"Content-Type", "text/plain"}});
  REQUIRE(again.status == 201);
  CHECK(node("GET", "/db/d/a.txt").body == "A2");
  CHECK(node("GET", "/db/d/a.txt?rev=" + rev3).body == "A");
  // Names CouchDB reserves.
  CHECK(node("PUT", "/db/d/_x?rev=" + Json(again.body).str("rev"), "x").status == 400);
}

TEST_CASE("Atts: DELETE removes one attachment and keeps the rest", "[http][atts]") {
  LiveServer node;
  node("PUT", "/db");
  std::string rev1 = Json(node("PUT", "/db/d/a", "1").body).str("rev");
  std::string rev2 = Json(node("PUT", "/db/d/b?rev=" + rev1, "2").body).str("rev");
  CHECK(node("DELETE", "/db/d/a").status == 409);
  CHECK(node("DELETE", "/db/d/a?rev=" + rev1).status == 409);
  CHECK(node("DELETE", "/db/d/a?rev=nope").status == 400);
  auto none = node("DELETE", "/db/d/zzz?rev=" + rev2);
  CHECK(none.status == 404);
  CHECK(Json(none.body).str("error") == "not_found");
  CHECK(node("DELETE", "/db/nodoc/a").status == 404);
  auto del = node("DELETE", "/db/d/a?rev=" + rev2);
  REQUIRE(del.status == 200);
  std::string rev3 = Json(del.body).str("rev");
  CHECK(rev3.substr(0, 2) == "3-");
  CHECK(node("GET", "/db/d/a").status == 404);
  CHECK(node("GET", "/db/d/b").body == "2");
  CHECK(node("GET", "/db/d/a?rev=" + rev2).body == "1");
  auto last = node("DELETE", "/db/d/b", "", {{"If-Match", etagOf(rev3)}});
  REQUIRE(last.status == 200);
  Json doc(node("GET", "/db/d").body);
  CHECK_FALSE(doc.has("_attachments"));
}

TEST_CASE("Atts: missing documents and attachments are 404", "[http][atts]") {
  LiveServer node;
  node("PUT", "/db");
  auto none = node("GET", "/db/nope/a.txt");
  CHECK(none.status == 404);
  CHECK(Json(none.body).str("error") == "not_found");
  std::string rev = Json(node("PUT", "/db/d", R"({})").body).str("rev");
  CHECK(node("GET", "/db/d/a.txt").status == 404);
  node("DELETE", "/db/d?rev=" + rev);
  CHECK(node("GET", "/db/d/a.txt").status == 404);
  CHECK(node("GET", "/nodb/d/a.txt").status == 404);
}

TEST_CASE("Atts: byte ranges: single, suffix, open-ended, several, unsatisfiable", "[http][atts]") {
  LiveServer node;
  node("PUT", "/db");
  const std::string data = "0123456789abcdefghij";
  REQUIRE(node("PUT", "/db/d/r.bin", data, {{"Content-Type", "application/octet-stream"}}).status == 201);
  auto one = node("GET", "/db/d/r.bin", "", {{"Range", "bytes=2-5"}});
  CHECK(one.status == 206);
  CHECK(one.body == "2345");
  CHECK(*one.header("Content-Range") == "bytes 2-5/20");
  auto suffix = node("GET", "/db/d/r.bin", "", {{"Range", "bytes=-3"}});
  CHECK(suffix.status == 206);
  CHECK(suffix.body == "hij");
  auto open = node("GET", "/db/d/r.bin", "", {{"Range", "bytes=15-"}});
  CHECK(open.body == "fghij");
  CHECK(*open.header("Content-Range") == "bytes 15-19/20");
  auto clamp = node("GET", "/db/d/r.bin", "", {{"Range", "bytes=18-99"}});
  CHECK(clamp.body == "ij");
  auto several = node("GET", "/db/d/r.bin", "", {{"Range", "bytes=0-1,10-11"}});
  REQUIRE(several.status == 206);
  REQUIRE(several.header("Content-Type")->rfind("multipart/byteranges", 0) == 0);
  auto parts =
      settee::http::parseMultipart(several.body, *settee::http::boundaryOf(*several.header("Content-Type")));
  REQUIRE(parts);
  REQUIRE(parts->size() == 2);
  CHECK(std::string((*parts)[0].body) == "01");
  CHECK(*(*parts)[1].header("Content-Range") == "bytes 10-11/20");
  CHECK(std::string((*parts)[1].body) == "ab");
  auto beyond = node("GET", "/db/d/r.bin", "", {{"Range", "bytes=20-30"}});
  CHECK(beyond.status == 416);
  CHECK(*beyond.header("Content-Range") == "bytes */20");
  // A Range header that does not parse is ignored.
  auto junk = node("GET", "/db/d/r.bin", "", {{"Range", "bytes=5-2"}});
  CHECK(junk.status == 200);
  CHECK(junk.body == data);
  CHECK(node("GET", "/db/d/r.bin", "", {{"Range", "lines=1-2"}}).status == 200);
}

TEST_CASE("Atts: several megabytes round trip byte-exact, as raw bytes, base64 and multipart",
          "[http][atts]") {
  LiveServer node;
  node("PUT", "/db");
  const std::string big = randomBytes(6 * 1024 * 1024 + 7, 42);
  auto put = node("PUT", "/db/big/blob.bin", big, {{"Content-Type", "application/octet-stream"}});
  REQUIRE(put.status == 201);
  std::string rev = Json(put.body).str("rev");
  auto get = node("GET", "/db/big/blob.bin");
  REQUIRE(get.status == 200);
  CHECK(get.body.size() == big.size());
  CHECK(get.body == big);
  auto tail = node("GET", "/db/big/blob.bin", "", {{"Range", "bytes=-100"}});
  CHECK(tail.body == big.substr(big.size() - 100));
  // open_revs multipart carries the bytes raw.
  auto mixed = node("GET", "/db/big?open_revs=all", "", {{"Accept", "multipart/mixed"}});
  REQUIRE(mixed.status == 200);
  auto outer =
      settee::http::parseMultipart(mixed.body, *settee::http::boundaryOf(*mixed.header("Content-Type")));
  REQUIRE(outer);
  REQUIRE(outer->size() == 1);
  auto inner = settee::http::parseMultipart((*outer)[0].body,
                                            *settee::http::boundaryOf(*(*outer)[0].header("Content-Type")));
  REQUIRE(inner);
  REQUIRE(inner->size() == 2);
  CHECK((*inner)[1].body == big);
  // A second, larger attachment next to the first; both stay intact.
  const std::string bigger = randomBytes(3 * 1024 * 1024, 7);
  REQUIRE(node("PUT", "/db/big/two.bin?rev=" + rev, bigger).status == 201);
  CHECK(node("GET", "/db/big/blob.bin").body == big);
  CHECK(node("GET", "/db/big/two.bin").body == bigger);
}

TEST_CASE("Atts: attachments of design documents", "[http][atts]") {
  LiveServer node;
  node("PUT", "/db");
  std::string rev = Json(node("PUT", "/db/_design/app", R"({"language":"javascript"})").body).str("rev");
  auto put = node("PUT", "/db/_design/app/lib/x.js?rev=" + rev, "var x;",
                  {{"Content-Type", "application/javascript"}});
  REQUIRE(put.status == 201);
  CHECK(Json(put.body).str("id") == "_design/app");
  CHECK(node("GET", "/db/_design/app/lib/x.js").body == "var x;");
  CHECK(node("GET", "/db/_design%2Fapp/lib/x.js").body == "var x;");
  CHECK(Json(node("GET", "/db/_design/app").body)["_attachments"]["lib/x.js"]["stub"].get_bool().value());
  CHECK(node("DELETE", "/db/_design/app/lib/x.js?rev=" + Json(put.body).str("rev")).status == 200);
  CHECK(node("GET", "/db/_design/app/lib/x.js").status == 404);
}

TEST_CASE("Atts: a gzip-encoded attachment is decoded unless the client accepts gzip", "[http][atts]") {
  LiveServer node;
  node("PUT", "/db");
  const std::string text = "hello hello hello hello";
  const std::string packed = gzip(text);
  REQUIRE(settee::test::putGzippedReplica(node, "db", "z", text) == 201);
  auto plain = node("GET", "/db/z/note.txt");
  REQUIRE(plain.status == 200);
  CHECK(plain.body == text);
  CHECK_FALSE(plain.header("Content-Encoding"));
  auto raw = node("GET", "/db/z/note.txt", "", {{"Accept-Encoding", "gzip, deflate"}});
  REQUIRE(raw.status == 200);
  CHECK(*raw.header("Content-Encoding") == "gzip");
  CHECK(raw.body == packed);
  // Replicated back out as multipart: encoded bytes with Content-Encoding, as CouchDB sends them.
  auto mixed = node("GET", "/db/z?open_revs=all", "", {{"Accept", "multipart/mixed"}});
  auto outer =
      settee::http::parseMultipart(mixed.body, *settee::http::boundaryOf(*mixed.header("Content-Type")));
  REQUIRE(outer);
  auto inner = settee::http::parseMultipart((*outer)[0].body,
                                            *settee::http::boundaryOf(*(*outer)[0].header("Content-Type")));
  REQUIRE(inner);
  REQUIRE(inner->size() == 2);
  CHECK(*(*inner)[1].header("Content-Encoding") == "gzip");
  CHECK((*inner)[1].body == packed);
  Json doc{std::string((*inner)[0].body)};
  CHECK(std::string_view(doc["_attachments"]["note.txt"]["encoding"]) == "gzip");
}
