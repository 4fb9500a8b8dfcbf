// What a request body may cost the node, against a real `settee serve`: credentials and access are
// checked when the head arrives, before a byte of the body is read (so a refused client never sends it);
// a document body over max_document_size is refused as soon as its length is known.
#include <catch2/catch.hpp>
#include <string>

#include "http/raw_socket.h"
#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;
using settee::test::RawSocket;

namespace {

const std::string kAdmin = "Authorization: Basic YWRtaW46czNjcmV0\r\n";  // admin:s3cret
const std::string kWrong = "Authorization: Basic YWRtaW46bm9wZQ==\r\n";  // admin:nope
const std::pair<std::string, std::string> kAdminHeader{"Authorization", "Basic YWRtaW46czNjcmV0"};

std::string head(const std::string& line, const std::string& extra) {
  return line + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra + "\r\n";
}

std::string bodyOf(const std::string& received) {
  size_t at = received.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : received.substr(at + 4);
}

}  // namespace

TEST_CASE("Body limits: a client without the right credentials is refused before its body is read",
          "[http][limits]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  REQUIRE(node("PUT", "/db", "", {kAdminHeader}).status == 201);
  SECTION("anonymous: 401 for the head alone, and the connection closes") {
    RawSocket socket(node.port());
    socket.send(head("PUT /db/doc", "Content-Length: 50000000\r\n"));  // the 50 MB never follow
    CHECK(socket.waitClosed());
    CHECK(socket.status() == 401);
    CHECK(Json(bodyOf(socket.received())).str("error") == "unauthorized");
    CHECK(socket.received().find("Connection: close") != std::string::npos);
  }
  SECTION("a wrong password: 401 for the head alone") {
    RawSocket socket(node.port());
    socket.send(head("POST /db/_bulk_docs", kWrong + "Transfer-Encoding: chunked\r\n"));
    CHECK(socket.waitClosed());
    CHECK(socket.status() == 401);
  }
  SECTION("a database that does not exist: 404 for the head alone") {
    RawSocket socket(node.port());
    socket.send(head("PUT /nodb/doc", kAdmin + "Content-Length: 50000000\r\n"));
    CHECK(socket.waitClosed());
    CHECK(socket.status() == 404);
  }
  SECTION("Expect: 100-continue is answered 401, never 100, when refused") {
    RawSocket socket(node.port());
    socket.send(head("PUT /db/doc", "Content-Length: 7\r\nExpect: 100-continue\r\n"));
    CHECK(socket.waitClosed());
    CHECK(socket.status() == 401);
    CHECK(socket.received().find("100 Continue") == std::string::npos);
  }
  SECTION("Expect: 100-continue gets 100 only once the credentials are accepted") {
    RawSocket socket(node.port());
    socket.send(head("PUT /db/doc", kAdmin + "Content-Length: 7\r\nExpect: 100-continue\r\n"));
    CHECK(socket.readUntil("\r\n\r\n").rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
    socket.send("{\"a\":1}");
    CHECK(socket.readUntil("\"ok\":true").find("HTTP/1.1 201 Created") != std::string::npos);
  }
  SECTION("a refused request without a body leaves the connection usable") {
    RawSocket socket(node.port());
    socket.send(head("GET /db", ""));
    socket.readUntil("}\n");
    CHECK(socket.status() == 401);
    socket.send(head("GET /db", kAdmin));
    CHECK(socket.readUntil("\"db_name\"").find("HTTP/1.1 200 OK") != std::string::npos);
  }
}

TEST_CASE("Body limits: a document body over max_document_size is 413 as soon as its length is known",
          "[http][limits]") {
  LiveServer node("[couchdb]\nmax_document_size = 1000\n");
  REQUIRE(node("PUT", "/db").status == 201);
  const std::string big = R"({"v":")" + std::string(2000, 'x') + R"("})";
  SECTION("PUT /db/doc with a Content-Length over it: refused for the head alone") {
    RawSocket socket(node.port());
    socket.send(head("PUT /db/doc", "Content-Length: 2000000\r\n"));
    CHECK(socket.waitClosed());
    CHECK(socket.status() == 413);
    Json reply(bodyOf(socket.received()));
    CHECK(reply.str("error") == "too_large");
    CHECK(reply.str("reason") == "Document exceeds max_document_size");
  }
  SECTION("POST /db with a Content-Length over it") {
    auto r = node("POST", "/db", big);
    CHECK(r.status == 413);
    CHECK(Json(r.body).str("error") == "too_large");
  }
  SECTION("a chunked body is cut off once its count passes the limit") {
    RawSocket socket(node.port());
    socket.send(head("PUT /db/doc", "Transfer-Encoding: chunked\r\n"));
    socket.send("400\r\n" + std::string(1024, ' ') + "\r\n");  // 1024 bytes: past the limit, not ended
    CHECK(socket.waitClosed());
    CHECK(socket.status() == 413);
  }
  SECTION("a document within the limit is written") {
    CHECK(node("PUT", "/db/doc", R"({"v":"small"})").status == 201);
  }
  SECTION("a multipart/related PUT counts the document, not its attachments") {
    const std::string att(5000, 'a');
    const std::string json =
        R"({"_attachments":{"a.txt":{"follows":true,"content_type":"text/plain","length":5000}}})";
    const std::string body = "--b\r\nContent-Type: application/json\r\n\r\n" + json +
                             "\r\n--b\r\nContent-Disposition: attachment; filename=\"a.txt\"\r\n\r\n" + att +
                             "\r\n--b--";
    auto r = node("PUT", "/db/withatt", body, {{"Content-Type", "multipart/related; boundary=\"b\""}});
    CHECK(r.status == 201);
    CHECK(node("GET", "/db/withatt/a.txt").body == att);
  }
  SECTION("a multipart/related PUT whose document part is over it is 413") {
    const std::string json =
        R"({"v":")" + std::string(2000, 'x') +
        R"(","_attachments":{"a.txt":{"follows":true,"content_type":"text/plain","length":1}}})";
    const std::string body =
        "--b\r\nContent-Type: application/json\r\n\r\n" + json +
        "\r\n--b\r\nContent-Disposition: attachment; filename=\"a.txt\"\r\n\r\na\r\n--b--";
    auto r = node("PUT", "/db/bigjson", body, {{"Content-Type", "multipart/related; boundary=\"b\""}});
    CHECK(r.status == 413);
    CHECK(Json(r.body).str("error") == "too_large");
    CHECK(node("GET", "/db/bigjson").status == 404);
  }
  SECTION("other bodies keep max_http_request_size: _bulk_docs refuses only the document that is too big") {
    auto r =
        node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"big","v":")" + std::string(2000, 'x') + R"("}]})");
    CHECK(r.status == 413);
    CHECK(Json(r.body).str("error") == "document_too_large");
  }
}
