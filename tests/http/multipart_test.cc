#include "http/multipart.h"

#include <catch2/catch.hpp>
#include <string>

#include "http/multipart_test_support.h"

using settee::ErrorCode;
using settee::http::boundaryOf;
using settee::http::HeaderList;
using settee::http::MultipartWriter;
using settee::http::parseMultipart;
using settee::http::Part;
using settee::http::randomBoundary;
using settee::test::CouchOpenRevsAnswer;
using settee::test::malformedBodies;
using settee::test::MalformedBody;

namespace {

// The reason a body is rejected, or "(accepted)" when it parses.
std::string rejection(std::string_view body, std::string_view boundary = "B") {
  auto parts = parseMultipart(body, boundary);
  if (parts.isOk()) return "(accepted)";
  CHECK(parts.status().code() == ErrorCode::BadRequest);
  return parts.status().reason();
}

}  // namespace

TEST_CASE("Multipart: boundaryOf reads quoted and bare boundary parameters", "[http][multipart]") {
  CHECK(boundaryOf(R"(multipart/related; boundary="92401b6188c602c94fb30b207210cb67")") ==
        "92401b6188c602c94fb30b207210cb67");
  CHECK(boundaryOf("multipart/mixed;boundary=abc") == "abc");
  CHECK(boundaryOf("multipart/mixed; charset=utf-8; BOUNDARY = abc ; x=y") == "abc");
  CHECK(boundaryOf(R"(multipart/mixed; name="a;boundary=no"; boundary="yes")") == "yes");
  CHECK(boundaryOf(R"(multipart/mixed; boundary="a\"b")") == "a\"b");
  CHECK(boundaryOf(R"(multipart/mixed; flag; boundary=x)") == "x");
  CHECK_FALSE(boundaryOf("multipart/mixed"));
  CHECK_FALSE(boundaryOf("multipart/mixed; boundary="));
  CHECK_FALSE(boundaryOf(R"(multipart/mixed; boundary="")"));
  CHECK_FALSE(boundaryOf("application/json; myboundary=x"));
}

TEST_CASE("Multipart: the writer frames parts as CouchDB does", "[http][multipart]") {
  MultipartWriter w("XYZ");
  CHECK(w.contentType("related") == R"(multipart/related; boundary="XYZ")");
  CHECK(w.contentType("multipart/mixed") == R"(multipart/mixed; boundary="XYZ")");
  std::string out;
  w.addPart({{"Content-Type", "application/json"}}, R"({"a":1})", out);
  w.beginPart({{"Content-Type", "text/plain"}, {"Content-Length", "3"}}, out);
  out += "abc";
  w.finish(out);
  CHECK(out ==
        "--XYZ\r\nContent-Type: application/json\r\n\r\n{\"a\":1}"
        "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
        "\r\n--XYZ--");
}

TEST_CASE("Multipart: the writer cannot be made to inject headers", "[http][multipart]") {
  MultipartWriter w("XYZ");
  std::string out;
  w.addPart({{"Content-Disposition", "attachment; filename=\"a\r\n\r\n--XYZ--\""}}, "x", out);
  w.finish(out);
  auto parts = parseMultipart(out, "XYZ");
  REQUIRE(parts.isOk());
  REQUIRE(parts->size() == 1);
  CHECK((*parts)[0].headers.size() == 1);
  CHECK((*parts)[0].body == "x");
}

TEST_CASE("Multipart: a written body parses back to the same parts", "[http][multipart]") {
  std::string boundary = randomBoundary();
  MultipartWriter w(boundary);
  std::string out;
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  // Bytes that look like framing but are not a delimiter: CRLF, "--", the boundary's prefix.
  std::string tricky = "line\r\n--\r\n--" + boundary.substr(0, 10) + "\r\n\r\n--" + boundary + "x\r\n-";
  w.addPart({{"Content-Type", "application/json"}}, R"({"_id":"d"})", out);
  w.addPart({{"Content-Type", "application/octet-stream"}}, binary, out);
  w.addPart({{"Content-Type", "text/plain"}}, tricky, out);
  w.addPart({}, "", out);
  w.addPart({{"X-Empty", ""}}, "\r\n", out);
  w.finish(out);

  auto parts = parseMultipart(out, boundary);
  REQUIRE(parts.isOk());
  REQUIRE(parts->size() == 5);
  const auto& p = *parts;
  CHECK(*p[0].header("content-type") == "application/json");
  CHECK(p[0].body == R"({"_id":"d"})");
  CHECK(p[1].body == binary);
  CHECK(p[2].body == tricky);
  CHECK(p[3].headers.empty());
  CHECK(p[3].body.empty());
  CHECK(*p[4].header("X-EMPTY") == "");
  CHECK(p[4].body == "\r\n");
  CHECK(p[0].header("Content-Length") == nullptr);
}

TEST_CASE("Multipart: a multipart/related part nests inside multipart/mixed", "[http][multipart]") {
  MultipartWriter inner("inner");
  std::string related;
  inner.addPart({{"Content-Type", "application/json"}},
                R"({"_id":"a","_attachments":{"f":{"follows":true,"length":4}}})", related);
  inner.addPart({{"Content-Disposition", "attachment; filename=\"f\""}, {"Content-Length", "4"}}, "\r\n--",
                related);
  inner.finish(related);

  MultipartWriter outer("outer");
  std::string mixed;
  outer.addPart({{"Content-Type", "application/json"}}, R"({"_id":"a","_rev":"1-x"})", mixed);
  outer.addPart({{"Content-Type", inner.contentType("related")}}, related, mixed);
  outer.addPart({{"Content-Type", "application/json; error=\"true\""}}, R"({"missing":"3-z"})", mixed);
  outer.finish(mixed);

  auto parts = parseMultipart(mixed, "outer");
  REQUIRE(parts.isOk());
  REQUIRE(parts->size() == 3);
  auto nestedBoundary = boundaryOf(*(*parts)[1].header("Content-Type"));
  REQUIRE(nestedBoundary == "inner");
  auto nested = parseMultipart((*parts)[1].body, *nestedBoundary);
  REQUIRE(nested.isOk());
  REQUIRE(nested->size() == 2);
  CHECK((*nested)[1].body == "\r\n--");
  CHECK(*(*parts)[2].header("content-type") == "application/json; error=\"true\"");
  CHECK((*parts)[2].body == R"({"missing":"3-z"})");
}

TEST_CASE("Multipart: CouchDB's open_revs answer for a document with an attachment parses",
          "[http][multipart]") {
  const CouchOpenRevsAnswer answer;
  const std::string& json = answer.json;
  const std::string& gz = answer.gz;
  auto boundary = boundaryOf("multipart/mixed; boundary=\"" + answer.boundary + "\"");
  REQUIRE(boundary == answer.boundary);
  auto revisions = parseMultipart(answer.body, *boundary);
  REQUIRE(revisions.isOk());
  REQUIRE(revisions->size() == 1);
  const Part& revision = (*revisions)[0];
  auto inner = boundaryOf(*revision.header("Content-Type"));
  REQUIRE(inner == answer.innerBoundary);
  auto parts = parseMultipart(revision.body, *inner);
  REQUIRE(parts.isOk());
  REQUIRE(parts->size() == 2);
  CHECK((*parts)[0].body == json);
  CHECK(*(*parts)[1].header("Content-Disposition") == "attachment; filename=\"note.txt\"");
  CHECK(*(*parts)[1].header("Content-Encoding") == "gzip");
  CHECK((*parts)[1].body == gz);
  CHECK((*parts)[1].body.size() == 25);
}

TEST_CASE("Multipart: preamble, epilogue, padding, LF-only lines and folded headers are tolerated",
          "[http][multipart]") {
  auto parts = parseMultipart(
      "This is a preamble.\r\n--B  \t\r\nContent-Type: text/plain\r\nX-Long: one\r\n  two\r\n\r\nhello"
      "\r\n--B\r\n\r\nworld\r\n--B--\r\nThis is an epilogue.\r\n--B\r\n\r\nignored",
      "B");
  REQUIRE(parts.isOk());
  REQUIRE(parts->size() == 2);
  CHECK((*parts)[0].body == "hello");
  CHECK(*(*parts)[0].header("x-long") == "one two");
  CHECK((*parts)[1].body == "world");

  // RFC 2046 lets a part stop after its headers, or have neither headers nor body.
  auto bare = parseMultipart("--B\r\n\r\n--B\r\nX-A: 1\r\n--B\r\nX-B: 2\r\n\r\n\r\n--B--", "B");
  REQUIRE(bare.isOk());
  REQUIRE(bare->size() == 3);
  CHECK((*bare)[0].headers.empty());
  CHECK((*bare)[0].body.empty());
  CHECK(*(*bare)[1].header("x-a") == "1");
  CHECK((*bare)[1].body.empty());
  CHECK(*(*bare)[2].header("x-b") == "2");
  CHECK((*bare)[2].body.empty());

  auto lf = parseMultipart("--B\nContent-Type: a/b\n\nfirst\n--B\n\nsecond\n--B--\n", "B");
  REQUIRE(lf.isOk());
  REQUIRE(lf->size() == 2);
  CHECK((*lf)[0].body == "first");
  CHECK((*lf)[1].body == "second");
}

TEST_CASE("Multipart: an exact Content-Length lets a part hold the delimiter itself", "[http][multipart]") {
  std::string payload = "a\r\n--B\r\nb";
  std::string body =
      "--B\r\nContent-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload + "\r\n--B--";
  auto parts = parseMultipart(body, "B");
  REQUIRE(parts.isOk());
  REQUIRE(parts->size() == 1);
  CHECK((*parts)[0].body == payload);

  // A wrong Content-Length is not trusted: the part ends at the delimiter line.
  auto wrong = parseMultipart("--B\r\nContent-Length: 2\r\n\r\nabcd\r\n--B--", "B");
  REQUIRE(wrong.isOk());
  CHECK((*wrong)[0].body == "abcd");
}

TEST_CASE("Multipart: malformed bodies are bad_request with a reason", "[http][multipart]") {
  for (const MalformedBody& m : malformedBodies()) {
    INFO(m.body);
    CHECK(rejection(m.body).find(m.reason) != std::string::npos);
  }
  CHECK(rejection("--B\r\n\r\nbody").find("truncated") != std::string::npos);
  CHECK(rejection("--B\r\n\r\nbody\r\n--B").find("truncated") != std::string::npos);
  CHECK(rejection("--B\r\n\r\nbody\r\n--B\r\n\r\nmore\r\n--B-").find("truncated") != std::string::npos);
  CHECK(rejection("--B\r\nContent-Type: a/b\r\n").find("truncated") != std::string::npos);
  CHECK(rejection("--B\r\n\r\nx\r\n--B--", "").find("boundary is empty") != std::string::npos);
  CHECK(rejection("--B\r\n\r\nx\r\n--B--") == "(accepted)");
}

TEST_CASE("Multipart: randomBoundary gives 32 distinct lowercase hex characters", "[http][multipart]") {
  std::string a = randomBoundary();
  std::string b = randomBoundary();
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
}
