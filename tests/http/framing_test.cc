// Request framing against a real `settee serve`: every shape that two HTTP parsers might read differently
// (the root of request smuggling) is a 400 that closes the connection, so nothing after it is read as a
// request of its own.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "http/raw_socket.h"
#include "live_server.h"

using settee::test::LiveServer;
using settee::test::RawSocket;
using namespace std::chrono_literals;

namespace {

const std::string kPut = "PUT /db/doc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
const std::string kSmuggled = "GET /_all_dbs HTTP/1.1\r\nHost: x\r\n\r\n";

// Sends `parts` (a pause between them, so checks that straddle two reads are exercised) and expects a
// 400 bad_request, one answer only, and the connection closed.
void expectRefused(int port, const std::vector<std::string>& parts) {
  RawSocket socket(port);
  REQUIRE(socket.connected());
  for (const std::string& part : parts) {
    socket.send(part);
    std::this_thread::sleep_for(30ms);
  }
  socket.send(kSmuggled);  // would be answered if the server read past the bad framing
  CHECK(socket.waitClosed());
  const std::string& got = socket.received();
  CAPTURE(got);
  CHECK(socket.status() == 400);
  CHECK(got.find("\"error\":\"bad_request\"") != std::string::npos);
  CHECK(got.find("Connection: close") != std::string::npos);
  CHECK(got.find("HTTP/1.1", 8) == std::string::npos);  // no second answer
}

}  // namespace

TEST_CASE("Framing: anything but CRLF after chunk data is 400 and closes the connection", "[http][framing]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  const std::string head = kPut + "Transfer-Encoding: chunked\r\n\r\n";
  SECTION("two other bytes") { expectRefused(node.port(), {head + "7\r\n{\"a\":1}XX0\r\n\r\n"}); }
  SECTION("a bare LF") { expectRefused(node.port(), {head + "7\r\n{\"a\":1}\n0\r\n\r\n"}); }
  SECTION("the wrong bytes in the next read") {
    expectRefused(node.port(), {head + "7\r\n{\"a\":1}", "XX0\r\n\r\n"});
  }
  SECTION("CR, then the wrong byte in the next read") {
    expectRefused(node.port(), {head + "7\r\n{\"a\":1}\r", "X0\r\n\r\n"});
  }
  SECTION("in a later chunk") { expectRefused(node.port(), {head + "3\r\n{\"a\r\n4\r\n\":1}YY0\r\n\r\n"}); }
  SECTION("a bare LF ending the trailers") {
    expectRefused(node.port(), {head + "7\r\n{\"a\":1}\r\n0\r\n\n"});
  }
}

TEST_CASE("Framing: a chunked body with CRLF where it belongs is accepted, in pieces too",
          "[http][framing]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  RawSocket socket(node.port());
  socket.send(kPut + "Transfer-Encoding: chunked\r\n\r\n3\r\n{\"a");
  std::this_thread::sleep_for(30ms);
  socket.send("\r");
  std::this_thread::sleep_for(30ms);
  socket.send("\n4\r\n\":1}\r\n0\r\n\r\n");
  socket.readUntil("\r\n\r\n");
  CHECK(socket.status() == 201);
  socket.send(kSmuggled);  // the connection is still usable
  CHECK(socket.readUntil("[").find("HTTP/1.1 200", 10) != std::string::npos);
}

TEST_CASE("Framing: request-smuggling shapes of the head are 400 and close the connection",
          "[http][framing]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  const std::string body = "{\"a\":1}";
  SECTION("Content-Length with Transfer-Encoding") {
    expectRefused(node.port(), {kPut + "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n" + body +
                                "\r\n0\r\n\r\n"});
  }
  SECTION("Transfer-Encoding with Content-Length") {
    expectRefused(node.port(), {kPut + "Transfer-Encoding: chunked\r\nContent-Length: 7\r\n\r\n7\r\n" + body +
                                "\r\n0\r\n\r\n"});
  }
  SECTION("two Content-Length headers with different values") {
    expectRefused(node.port(), {kPut + "Content-Length: 7\r\nContent-Length: 5\r\n\r\n" + body});
  }
  SECTION("a Transfer-Encoding whose last coding is not chunked") {
    expectRefused(node.port(),
                  {kPut + "Transfer-Encoding: chunked, gzip\r\n\r\n7\r\n" + body + "\r\n0\r\n\r\n"});
  }
  SECTION("a Transfer-Encoding other than chunked") {
    expectRefused(node.port(), {kPut + "Transfer-Encoding: gzip\r\n\r\n" + body});
  }
  SECTION("a bare LF ending the request line") {
    expectRefused(node.port(), {"PUT /db/doc HTTP/1.1\nHost: x\r\nContent-Length: 7\r\n\r\n" + body});
  }
  SECTION("a bare LF ending a header line") {
    expectRefused(node.port(), {kPut + "Content-Length: 7\n\r\n" + body});
  }
  SECTION("a bare LF ending the head") {
    expectRefused(node.port(), {kPut + "Content-Length: 7\r\n\n" + body});
  }
  SECTION("a bare LF split from its line by a read") {
    expectRefused(node.port(), {"PUT /db/doc HTTP/1.1", "\nHost: x\r\nContent-Length: 7\r\n\r\n" + body});
  }
  SECTION("an obs-fold continuation line") {
    expectRefused(node.port(), {kPut + "X-Note: a\r\n b\r\nContent-Length: 7\r\n\r\n" + body});
  }
  SECTION("an obs-fold continuation line in the next read") {
    expectRefused(node.port(), {kPut + "X-Note: a\r\n", "\tb\r\nContent-Length: 7\r\n\r\n" + body});
  }
  SECTION("a space before the colon") {
    expectRefused(node.port(), {kPut + "Content-Length : 7\r\n\r\n" + body});
  }
}
