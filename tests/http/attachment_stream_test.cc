// Large attachment bodies served by a real `settee serve` process a piece at a time: byte-exact through
// GET /db/doc/att (ranges included), multipart/related and open_revs multipart/mixed, with the server's
// peak memory far below the attachment's size, and a body that vanishes mid-answer cutting the connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "db/crypto.h"
#include "http/attachment_test_support.h"
#include "http/multipart.h"
#include "live_server.h"

using settee::test::gzip;
using settee::test::HttpReply;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::randomBytes;

namespace {

constexpr size_t kBig = 40 * 1024 * 1024;

// The parts of a multipart answer (views into `body`), which must parse.
std::vector<settee::http::Part> partsOf(const std::string& body, const std::string& contentType) {
  auto boundary = settee::http::boundaryOf(contentType);
  REQUIRE(boundary);
  auto parts = settee::http::parseMultipart(body, *boundary);
  REQUIRE(parts);
  return std::move(*parts);
}

// A kilobyte count from /proc/<pid>/status ("VmHWM", "VmRSS"); -1 when absent.
long statusKb(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Resets the process's peak RSS to its current RSS (Linux 4.0+, "5" > clear_refs); false if refused.
bool resetPeak(int pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// How far the server's peak RSS rises over its RSS before `fn`, in MB: run `fn` twice on two threads.
double peakGrowthMb(LiveServer& node, const std::function<void()>& fn) {
  REQUIRE(resetPeak(node.pid()));
  long base = statusKb(node.pid(), "VmHWM");
  REQUIRE(base > 0);
  std::thread other(fn);
  fn();
  other.join();
  return static_cast<double>(statusKb(node.pid(), "VmHWM") - base) / 1024.0;
}

// A document `d` holding `blob.bin` (kBig random bytes) and `note.txt` (small); returns the big bytes.
std::string putBigDoc(LiveServer& node) {
  REQUIRE(node("PUT", "/db").status == 201);
  std::string big = randomBytes(kBig, 99);
  auto put = node("PUT", "/db/d/blob.bin", big, {{"Content-Type", "application/octet-stream"}});
  REQUIRE(put.status == 201);
  std::string rev = Json(put.body).str("rev");
  REQUIRE(node("PUT", "/db/d/note.txt?rev=" + rev, "hello", {{"Content-Type", "text/plain"}}).status == 201);
  return big;
}

// The attachment parts of a multipart/related body, checked against the document part's `_attachments`
// (follows entries, in order) and each one's Content-Length.
void checkRelated(std::string_view body, const std::string& contentType, const std::string& big) {
  const std::string copy(body);  // the parts are views into it
  auto parts = partsOf(copy, contentType);
  REQUIRE(parts.size() == 3);
  Json doc{std::string(parts[0].body)};
  std::vector<std::string> order;
  for (auto field : doc["_attachments"].get_object()) {
    CHECK(field.value["follows"].get_bool().value());
    order.emplace_back(field.key);
  }
  REQUIRE(order.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const auto& part = parts[i + 1];
    CHECK(*part.header("Content-Disposition") == "attachment; filename=\"" + order[i] + "\"");
    CHECK(*part.header("Content-Length") == std::to_string(part.body.size()));
    if (order[i] == "blob.bin") {
      CHECK(part.body.size() == big.size());
      CHECK(settee::db::md5Digest(part.body) == settee::db::md5Digest(big));
    } else {
      CHECK(part.body == "hello");
    }
  }
}

}  // namespace

TEST_CASE("AttStream: a 40 MB attachment reads back byte-exact as raw bytes, ranges and multipart",
          "[http][attachments]") {
  LiveServer node;
  const std::string big = putBigDoc(node);
  const std::string digest = settee::db::md5Digest(big);

  auto get = node("GET", "/db/d/blob.bin");
  REQUIRE(get.status == 200);
  CHECK(get.body.size() == big.size());
  CHECK(settee::db::md5Digest(get.body) == digest);
  CHECK(*get.header("Content-Type") == "application/octet-stream");
  CHECK(*get.header("ETag") == "\"" + digest.substr(4) + "\"");
  CHECK(*get.header("Content-MD5") == digest.substr(4));
  CHECK(*get.header("Accept-Ranges") == "bytes");
  CHECK(node("GET", "/db/d/blob.bin", "", {{"If-None-Match", "\"" + digest.substr(4) + "\""}}).status == 304);
  auto head = node("HEAD", "/db/d/blob.bin");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(*head.header("ETag") == "\"" + digest.substr(4) + "\"");

  // Ranges: one in the middle (past the first pieces), a suffix, and several as multipart/byteranges.
  auto mid = node("GET", "/db/d/blob.bin", "", {{"Range", "bytes=20000000-20999999"}});
  REQUIRE(mid.status == 206);
  CHECK(*mid.header("Content-Range") == "bytes 20000000-20999999/" + std::to_string(big.size()));
  CHECK(mid.body == big.substr(20000000, 1000000));
  auto tail = node("GET", "/db/d/blob.bin", "", {{"Range", "bytes=-300000"}});
  REQUIRE(tail.status == 206);
  CHECK(tail.body == big.substr(big.size() - 300000));
  auto several = node("GET", "/db/d/blob.bin", "", {{"Range", "bytes=0-9,30000000-30400000"}});
  REQUIRE(several.status == 206);
  REQUIRE(several.header("Content-Type")->rfind("multipart/byteranges", 0) == 0);
  auto ranges = partsOf(several.body, *several.header("Content-Type"));
  REQUIRE(ranges.size() == 2);
  CHECK(ranges[0].body == big.substr(0, 10));
  CHECK(*ranges[1].header("Content-Range") == "bytes 30000000-30400000/" + std::to_string(big.size()));
  CHECK(ranges[1].body == big.substr(30000000, 400001));

  // GET /db/d with attachments=true as multipart/related: the large body streamed beside the small one.
  auto related = node("GET", "/db/d?attachments=true", "", {{"Accept", "multipart/related"}});
  REQUIRE(related.status == 200);
  REQUIRE(related.header("Content-Type")->rfind("multipart/related", 0) == 0);
  CHECK(*related.header("ETag") == "\"" + Json(node("GET", "/db/d").body).str("_rev") + "\"");
  checkRelated(related.body, *related.header("Content-Type"), big);

  // open_revs as multipart/mixed, as a replicator pulls it.
  auto mixed = node("GET", "/db/d?revs=true&open_revs=all", "", {{"Accept", "multipart/mixed"}});
  REQUIRE(mixed.status == 200);
  auto outer = partsOf(mixed.body, *mixed.header("Content-Type"));
  REQUIRE(outer.size() == 1);
  checkRelated(outer[0].body, *outer[0].header("Content-Type"), big);
}

TEST_CASE("AttStream: a large gzip-stored attachment is decoded on the way out, or sent as stored",
          "[http][attachments]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  // Half random, half repetitive: compressed it is still far above the size read whole.
  const std::string text = randomBytes(1024 * 1024, 5) + std::string(3 * 1024 * 1024, 'x');
  const std::string packed = gzip(text);
  REQUIRE(packed.size() > 512 * 1024);
  const std::string b = "92401b6188c602c94fb30b207210cb67";
  auto putEncoded = [&](const std::string& id, const std::string& bytes) {
    std::string json =
        R"({"_id":")" + id +
        R"(","_rev":"1-b169928659d15c482e1fedd6b01100fa","_revisions":{"start":1,)"
        R"("ids":["b169928659d15c482e1fedd6b01100fa"]},"_attachments":{"t.txt":{"content_type":"text/plain",)"
        R"("revpos":1,"length":)" +
        std::to_string(text.size()) +
        R"(,"follows":true,"encoding":"gzip",)"
        R"("encoded_length":)" +
        std::to_string(bytes.size()) + "}}}";
    std::string body =
        "--" + b + "\r\nContent-Type: application/json\r\n\r\n" + json + "\r\n--" + b +
        "\r\nContent-Disposition: attachment; filename=\"t.txt\"\r\nContent-Type: text/plain\r\n"
        "Content-Length: " +
        std::to_string(bytes.size()) + "\r\nContent-Encoding: gzip\r\n\r\n" + bytes + "\r\n--" + b + "--";
    REQUIRE(node("PUT", "/db/" + id + "?new_edits=false", body,
                 {{"Content-Type", "multipart/related; boundary=\"" + b + "\""}})
                .status == 201);
  };
  putEncoded("z", packed);
  auto plain = node("GET", "/db/z/t.txt");
  REQUIRE(plain.status == 200);
  CHECK_FALSE(plain.header("Content-Encoding"));
  CHECK(*plain.header("Accept-Ranges") == "none");
  CHECK(plain.body.size() == text.size());
  CHECK(plain.body == text);
  auto raw = node("GET", "/db/z/t.txt", "", {{"Accept-Encoding", "gzip"}});
  REQUIRE(raw.status == 200);
  CHECK(*raw.header("Content-Encoding") == "gzip");
  CHECK(raw.body == packed);
  auto mixed = node("GET", "/db/z?open_revs=all", "", {{"Accept", "multipart/mixed"}});
  auto outer = partsOf(mixed.body, *mixed.header("Content-Type"));
  REQUIRE(outer.size() == 1);
  const std::string related(outer[0].body);
  auto inner = partsOf(related, *outer[0].header("Content-Type"));
  REQUIRE(inner.size() == 2);
  CHECK(*inner[1].header("Content-Encoding") == "gzip");
  CHECK(inner[1].body == packed);

  // A stored body that is not valid gzip goes out as stored, with its Content-Encoding, as when it is
  // small: the decision is made before the headers.
  std::string broken = packed;
  broken[packed.size() / 2] ^= 0x55;
  broken[packed.size() / 2 + 1] ^= 0x55;
  putEncoded("broken", broken);
  auto fallback = node("GET", "/db/broken/t.txt");
  REQUIRE(fallback.status == 200);
  CHECK(*fallback.header("Content-Encoding") == "gzip");
  CHECK(fallback.body == broken);
}

TEST_CASE("AttStream: serving a 40 MB attachment twice at once keeps the server's peak RSS far below it",
          "[http][attachments]") {
  LiveServer node;
  const std::string big = putBigDoc(node);
  const std::string digest = settee::db::md5Digest(big);
  auto check = [&](const std::string& target, const std::string& accept, const char* what) {
    double mb = peakGrowthMb(node, [&] {
      HttpReply r = node("GET", target, "", {{"Accept", accept}});
      CHECK(r.status == 200);
      CHECK(r.body.size() >= big.size());
    });
    INFO(what << ": peak RSS grew by " << mb << " MB");
    CHECK(mb < 16.0);
  };
  check("/db/d/blob.bin", "*/*", "GET attachment");
  check("/db/d?attachments=true", "multipart/related", "GET multipart/related");
  check("/db/d?open_revs=all", "multipart/mixed", "GET open_revs multipart/mixed");
  // Still the right bytes after all that.
  CHECK(settee::db::md5Digest(node("GET", "/db/d/blob.bin").body) == digest);
}

TEST_CASE("AttStream: a body compacted away mid-answer cuts the connection short of a complete answer",
          "[http][attachments]") {
  LiveServer node;
  const std::string big = putBigDoc(node);
  std::string rev = Json(node("GET", "/db/d").body).str("_rev");

  // A client that reads the start of the answer, then stops: the server waits for it to drain.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  int small = 64 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(node.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string request = "GET /db/d/blob.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string received;
  char buf[65536];
  while (received.size() < 1024 * 1024) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    received.append(buf, static_cast<size_t>(n));
  }
  REQUIRE(received.rfind("HTTP/1.1 200", 0) == 0);

  // The attachment leaves the document and compaction removes its body.
  REQUIRE(node("DELETE", "/db/d/blob.bin?rev=" + rev).status == 200);
  REQUIRE(node("POST", "/db/_compact", "{}").status == 202);
  REQUIRE(node("GET", "/db/d/blob.bin").status == 404);

  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    REQUIRE(n >= 0);  // a timeout (-1) would mean the server neither finished nor cut the answer
    if (n == 0) break;
    received.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  // Cut: fewer bytes than the body alone, and no last chunk that would make it look complete.
  CHECK(received.size() < big.size());
  CHECK(received.substr(received.size() - 5) != "0\r\n\r\n");
  // The server goes on answering.
  CHECK(node("GET", "/db/d/note.txt").body == "hello");
}
