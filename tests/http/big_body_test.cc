// Big bodies through a real `settee serve`, with its peak memory watched: an attachment upload goes to
// the store as it arrives (gzip decoded on the way), and attachments=true streams each body's base64
// instead of building the document in memory.
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "db/crypto.h"
#include "http/attachment_test_support.h"
#include "http/peak_rss.h"
#include "live_server.h"

using settee::test::gzip;
using settee::test::HttpReply;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::kSanitizerSlackMb;
using settee::test::randomBytes;

namespace {

constexpr size_t kBig = 48 * 1024 * 1024;

// How far the server's peak RSS rises over its RSS before `fn` runs on each of `threads` threads, in MB.
double peakGrowthMb(LiveServer& node, int threads, const std::function<void(int)>& fn) {
  REQUIRE(settee::test::resetPeak(node.pid()));
  long base = settee::test::statusKb(node.pid(), "VmHWM");
  REQUIRE(base > 0);
  std::vector<std::thread> others;
  for (int i = 1; i < threads; ++i) others.emplace_back(fn, i);
  fn(0);
  for (auto& t : others) t.join();
  return static_cast<double>(settee::test::statusKb(node.pid(), "VmHWM") - base) / 1024.0;
}

}  // namespace

TEST_CASE("Big bodies: attachment uploads are stored as they arrive, not held, and read back equal",
          "[http][limits][bigbody]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  const std::string big = randomBytes(kBig, 7);
  const std::string digest = settee::db::md5Digest(big);
  double mb = peakGrowthMb(node, 2, [&](int i) {
    HttpReply r = node("PUT", "/db/doc" + std::to_string(i) + "/blob.bin", big,
                       {{"Content-Type", "application/octet-stream"}});
    CHECK(r.status == 201);
  });
  INFO("two concurrent 48 MB uploads: peak RSS grew by " << mb << " MB");
  CHECK(mb < 24.0);
  for (int i = 0; i < 2; ++i) {
    HttpReply back = node("GET", "/db/doc" + std::to_string(i) + "/blob.bin");
    CHECK(back.body.size() == big.size());
    CHECK(settee::db::md5Digest(back.body) == digest);
    Json doc(node("GET", "/db/doc" + std::to_string(i)).body);
    CHECK(int64_t(doc["_attachments"]["blob.bin"]["length"]) == int64_t(kBig));
  }
}

TEST_CASE("Big bodies: a gzip-encoded upload is decoded as it arrives and stored decoded",
          "[http][limits][bigbody]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  std::string text;
  while (text.size() < 8 * 1024 * 1024)
    text += "a line of text that compresses well, " + std::to_string(text.size()) + "\n";
  HttpReply r = node("PUT", "/db/doc/notes.txt", gzip(text),
                     {{"Content-Type", "text/plain"}, {"Content-Encoding", "gzip"}});
  REQUIRE(r.status == 201);
  CHECK(node("GET", "/db/doc/notes.txt").body == text);
  SECTION("a corrupt gzip upload is refused and stores nothing") {
    std::string broken = gzip(text);
    broken[broken.size() / 2] ^= 0x55;
    HttpReply bad = node("PUT", "/db/other/notes.txt", broken,
                         {{"Content-Type", "text/plain"}, {"Content-Encoding", "gzip"}});
    CHECK(bad.status == 400);
    CHECK(node("GET", "/db/other").status == 404);
  }
}

TEST_CASE("Big bodies: an upload over max_http_request_size is 413 and stores nothing",
          "[http][limits][bigbody]") {
  LiveServer node("[chttpd]\nmax_http_request_size = 1000000\n");
  REQUIRE(node("PUT", "/db").status == 201);
  HttpReply r = node("PUT", "/db/doc/blob.bin", randomBytes(2000000, 3),
                     {{"Content-Type", "application/octet-stream"}});
  CHECK(r.status == 413);
  CHECK(node("GET", "/db/doc").status == 404);
}

TEST_CASE("Big bodies: multipart/related PUTs spool their attachment parts instead of holding the body",
          "[http][limits][bigbody]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  const std::string big = randomBytes(kBig, 5);
  const std::string json =
      R"({"v":1,"_attachments":{"a.bin":{"follows":true,"content_type":"application/octet-stream","length":)" +
      std::to_string(kBig) + R"(},"b.txt":{"follows":true,"content_type":"text/plain","length":5}}})";
  const std::string body =
      "--xyz\r\nContent-Type: application/json\r\n\r\n" + json +
      "\r\n--xyz\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\r\n" + big +
      "\r\n--xyz\r\nContent-Disposition: attachment; filename=\"b.txt\"\r\n\r\nhello\r\n--xyz--";
  const std::pair<std::string, std::string> type{"Content-Type", "multipart/related; boundary=\"xyz\""};
  double mb = peakGrowthMb(node, 2, [&](int i) {
    HttpReply r = node("PUT", "/db/doc" + std::to_string(i), body, {type});
    CHECK(r.status == 201);
  });
  INFO("two concurrent 48 MB multipart PUTs: peak RSS grew by " << mb << " MB");
  CHECK(mb < 24.0 + kSanitizerSlackMb);
  for (int i = 0; i < 2; ++i) {
    const std::string doc = "/db/doc" + std::to_string(i);
    CHECK(settee::db::md5Digest(node("GET", doc + "/a.bin").body) == settee::db::md5Digest(big));
    CHECK(node("GET", doc + "/b.txt").body == "hello");
    CHECK(int64_t(Json(node("GET", doc).body)["v"]) == 1);
  }
  SECTION("a truncated body, or parts that do not pair with the follows entries, is 400 and writes nothing") {
    CHECK(node("PUT", "/db/cut", body.substr(0, body.size() / 2), {type}).status == 400);
    const std::string onePart = "--xyz\r\nContent-Type: application/json\r\n\r\n" + json + "\r\n--xyz--";
    CHECK(node("PUT", "/db/cut", onePart, {type}).status == 400);
    CHECK(node("GET", "/db/cut").status == 404);
  }
}

TEST_CASE("Big bodies: attachments=true streams each body's base64 instead of building the document",
          "[http][limits][bigbody]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  const std::string big = randomBytes(kBig, 11);
  auto put = node("PUT", "/db/d/blob.bin", big, {{"Content-Type", "application/octet-stream"}});
  REQUIRE(put.status == 201);
  const std::string rev = Json(put.body).str("rev");
  REQUIRE(node("PUT", "/db/d/note.txt?rev=" + rev, "hello", {{"Content-Type", "text/plain"}}).status == 201);
  HttpReply r;
  double mb = peakGrowthMb(node, 1, [&](int) { r = node("GET", "/db/d?attachments=true"); });
  INFO("GET ?attachments=true of a 48 MB attachment: peak RSS grew by " << mb << " MB");
  CHECK(mb < 24.0);
  REQUIRE(r.status == 200);
  CHECK(*r.header("Transfer-Encoding") == "chunked");
  CHECK(*r.header("ETag") == "\"" + Json(node("GET", "/db/d").body).str("_rev") + "\"");
  Json doc(r.body);
  auto atts = doc["_attachments"];
  CHECK(settee::db::base64Decode(std::string(atts["note.txt"]["data"].get_string().value())) == "hello");
  auto data = settee::db::base64Decode(std::string(atts["blob.bin"]["data"].get_string().value()));
  REQUIRE(data);
  CHECK(data->size() == big.size());
  CHECK(settee::db::md5Digest(*data) == settee::db::md5Digest(big));
  CHECK_FALSE(atts["blob.bin"]["follows"].error() == simdjson::SUCCESS);
  CHECK(doc.str("_rev") == Json(node("GET", "/db/d").body).str("_rev"));
}
