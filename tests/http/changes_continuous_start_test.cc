// A continuous _changes feed starts at once, whatever its filter, against a real `settee serve`: the
// status line, the headers and a blank line (CouchDB's first chunk while it waits) arrive before any
// change passes the filter, so a client that waits for the response to begin is never left waiting for
// the feed's timeout; matching changes then follow as they are written.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "live_server.h"
#include "raw_socket.h"

using settee::test::LiveServer;
using settee::test::RawSocket;

namespace {

// The chunked body of a raw answer, its chunk framing removed.
std::string dechunk(const std::string& raw) {
  size_t pos = raw.find("\r\n\r\n");
  if (pos == std::string::npos) return {};
  pos += 4;
  std::string out;
  for (;;) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) break;
    size_t size = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
    if (size == 0 || eol + 2 + size + 2 > raw.size()) break;
    out += raw.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return out;
}

}  // namespace

TEST_CASE(
    "Changes: a continuous feed whose filter passes nothing yet sends its headers and a blank line at once",
    "[http][changes]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/other", R"({"kind":"no"})").status == 201);
  struct Case {
    std::string request;
    std::string write;  // a document the filter lets through
    std::string kind;   // its `kind`: only the selector's case writes one the later selector would pass
  };
  const Case cases[] = {
      {"GET /db/_changes?feed=continuous&timeout=3000&filter=_doc_ids&doc_ids=%5B%22wanted%22%5D HTTP/1.1\r\n"
       "Host: x\r\n\r\n",
       "wanted", "no"},
      {"POST /db/_changes?feed=continuous&timeout=3000&filter=_selector HTTP/1.1\r\nHost: x\r\n"
       "Content-Type: application/json\r\nContent-Length: 30\r\n\r\n{\"selector\":{\"kind\":\"yes\"}}   ",
       "sel", "yes"},
      {"GET /db/_changes?feed=continuous&timeout=3000&filter=_design HTTP/1.1\r\nHost: x\r\n\r\n",
       "_design/d", "no"},
      {"GET /db/_changes?feed=continuous&timeout=3000&since=now HTTP/1.1\r\nHost: x\r\n\r\n", "later", "no"},
  };
  int n = 0;
  for (const Case& c : cases) {
    INFO(c.request);
    RawSocket feed(node.port());
    REQUIRE(feed.connected());
    auto started = std::chrono::steady_clock::now();
    REQUIRE(feed.send(c.request));
    // The status line, the headers and the blank line, long before the 3 s timeout.
    feed.readUntil("\r\n\r\n1\r\n\n\r\n", 2000);
    CHECK(feed.status() == 200);
    CHECK(feed.received().find("\r\n\r\n1\r\n\n\r\n") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(1500));
    CHECK(feed.received().find("\"id\"") == std::string::npos);
    // A change the filter passes follows at once; the feed ends at its timeout with last_seq.
    std::string id = c.write;
    REQUIRE(
        node("PUT", "/db/" + id, "{\"kind\":\"" + c.kind + "\",\"n\":" + std::to_string(n++) + "}").status ==
        201);
    feed.readUntil("\"id\":\"" + id + "\"", 2000);
    CHECK(feed.received().find("\"id\":\"" + id + "\"") != std::string::npos);
    feed.readUntil("\"last_seq\"", 5000);
    std::string body = dechunk(feed.received());
    CHECK(body.rfind("\n{", 0) == 0);  // the blank line, then the rows
    CHECK(body.find("\"last_seq\"") != std::string::npos);
    CHECK(body.find("\"id\":\"other\"") == std::string::npos);
  }
}

TEST_CASE("Changes: a continuous feed that has rows to send starts with them, without a blank line",
          "[http][changes]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/a", "{}").status == 201);
  RawSocket feed(node.port());
  REQUIRE(feed.send("GET /db/_changes?feed=continuous&timeout=200 HTTP/1.1\r\nHost: x\r\n\r\n"));
  feed.readUntil("\"last_seq\"", 3000);
  std::string body = dechunk(feed.received());
  CHECK(body.rfind("{\"seq\"", 0) == 0);
}

TEST_CASE("Changes: a continuous feed with a JavaScript filter that passes nothing yet starts at once",
          "[http][changes][js]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/app",
               R"({"filters":{"open":"function(doc){ return doc.status === 'open'; }"}})")
              .status == 201);
  REQUIRE(node("PUT", "/db/done", R"({"status":"done"})").status == 201);
  RawSocket feed(node.port());
  auto started = std::chrono::steady_clock::now();
  REQUIRE(
      feed.send("GET /db/_changes?feed=continuous&filter=app/open&timeout=3000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  feed.readUntil("\r\n\r\n1\r\n\n\r\n", 2500);
  CHECK(feed.status() == 200);
  CHECK(feed.received().find("\r\n\r\n1\r\n\n\r\n") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(2000));
  REQUIRE(node("PUT", "/db/open", R"({"status":"open"})").status == 201);
  feed.readUntil("\"last_seq\"", 6000);
  std::string body = dechunk(feed.received());
  CHECK(body.find("\"id\":\"open\"") != std::string::npos);
  CHECK(body.find("\"id\":\"done\"") == std::string::npos);
}
