// The client's bounds on one request: a buffered body's size (ClientRequest::maxBodySize) and the whole
// exchange's time (ClientRequest::deadlineMs), against servers that send too much or never finish.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "http/client_test_support.h"
#include "replicator/hostile_peer.h"

using namespace settee;
using namespace settee::http;
using settee::test::after;
using settee::test::get;
using settee::test::ScriptedServer;
using settee::test::TestLoop;

namespace {

// Sends `req`, runs the loop until its answer has come and the client (and `then`, e.g. the server's
// close) has closed, and returns the answer.
ClientResponse exchange(TestLoop& loop, HttpClient& client, ClientRequest req, std::function<void()> then = {}) {
  ClientResponse got;
  REQUIRE(client
              .request(std::move(req),
                       [&](ClientResponse r) {
                         got = std::move(r);
                         client.close([] {});
                         if (then) then();
                       })
              .ok());
  loop.finish();
  return got;
}

}  // namespace

TEST_CASE("Client: an answer whose Content-Length passes maxBodySize fails at once, before its body arrives",
          "[http][client][limits]") {
  TestLoop loop;
  // The head promises a gigabyte and nothing follows: waiting for it would end only at the read timeout.
  ScriptedServer server(&loop, [](int, int, const std::string&) -> ScriptedServer::Reply {
    return {"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n{"};
  });
  HttpClient client(&loop);
  ClientRequest req = get(server.url("/db/_changes"));
  req.maxBodySize = 4096;
  req.readTimeoutMs = 10000;
  auto start = std::chrono::steady_clock::now();
  ClientResponse got = exchange(loop, client, std::move(req), [&] { server.close(); });
  CHECK(got.error.code == ClientErrc::TooLarge);
  CHECK_THAT(got.error.message, Catch::Contains("GET http://127.0.0.1:") && Catch::Contains("/db/_changes") &&
                                    Catch::Contains("4096") && Catch::Contains("Content-Length: 1000000000"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("Client: the answer to HEAD is not refused for the Content-Length of the body it does not have",
          "[http][client][limits]") {
  TestLoop loop;
  ScriptedServer server(&loop, [](int, int, const std::string&) -> ScriptedServer::Reply {
    return {"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n"};
  });
  HttpClient client(&loop);
  ClientRequest req = get(server.url("/db/big.bin"));
  req.method = "HEAD";
  req.maxBodySize = 4096;
  ClientResponse got = exchange(loop, client, std::move(req), [&] { server.close(); });
  CHECK(got.ok());
  CHECK(got.status == 200);
}

TEST_CASE("Client: a chunked answer that passes maxBodySize fails, while the client's own limit is larger",
          "[http][client][limits]") {
  TestLoop loop;
  std::string chunk = "3e8\r\n" + std::string(1000, 'x') + "\r\n";
  ScriptedServer server(&loop, [&](int, int, const std::string&) -> ScriptedServer::Reply {
    return {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + chunk + "0\r\n\r\n"};
  });
  HttpClient client(&loop);
  std::vector<ClientResponse> got;
  for (size_t limit : {2500, 3000}) {
    ClientRequest req = get(server.url("/x"));
    req.maxBodySize = limit;
    REQUIRE(client
                .request(std::move(req),
                         [&](ClientResponse r) {
                           got.push_back(std::move(r));
                           if (got.size() < 2) return;
                           client.close([] {});
                           server.close();
                         })
                .ok());
  }
  loop.finish();
  REQUIRE(got.size() == 2);
  CHECK(got[0].error.code == ClientErrc::TooLarge);
  CHECK(got[0].body.empty());  // dropped: the memory is what the bound was for
  CHECK(got[1].ok());
  CHECK(got[1].body.size() == 3000);
}

namespace {

// `bytes` as a gzip stream.
std::string gzip(const std::string& bytes) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

TEST_CASE("Client: a gzip body that inflates past maxBodySize stops at the limit", "[http][client][limits]") {
  // 64 MB of zeros in about 64 KB: one network piece would inflate to the whole of it.
  const std::string bomb = gzip(std::string(64 * 1024 * 1024, '\0'));
  TestLoop loop;
  ScriptedServer server(&loop, [&](int, int, const std::string&) -> ScriptedServer::Reply {
    return {"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(bomb.size()) +
            "\r\n\r\n" + bomb};
  });
  HttpClient client(&loop);
  ClientRequest req = get(server.url("/db/_bulk_get"));
  req.acceptGzip = true;
  req.maxBodySize = 1024 * 1024;
  ClientResponse got = exchange(loop, client, std::move(req), [&] { server.close(); });
  CHECK(got.error.code == ClientErrc::TooLarge);
  CHECK_THAT(got.error.message, Catch::Contains("inflates past that"));
  CHECK(got.body.empty());
  CHECK(got.body.capacity() < 4 * 1024 * 1024);
}

TEST_CASE("Client: a deadline ends an answer that trickles bytes for ever, which no read timeout would",
          "[http][client][limits]") {
  // One newline every 20 ms: the read timeout (500 ms) restarts with each, the deadline (300 ms) does not.
  settee::test::HostilePeer peer([](const settee::test::PeerRequest&, settee::test::PeerConnection& c) {
    if (!c.beginChunked(200)) return false;
    while (c.pause(20) && c.chunk("\n")) {
    }
    return false;
  });
  TestLoop loop;
  HttpClient client(&loop);
  ClientRequest req = get(peer.url("db/_changes"));
  req.readTimeoutMs = 500;
  req.deadlineMs = 300;
  auto start = std::chrono::steady_clock::now();
  ClientResponse got = exchange(loop, client, std::move(req));
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(got.error.code == ClientErrc::ReadTimeout);
  CHECK_THAT(got.error.message,
             Catch::Contains("did not end within 300 ms") && Catch::Contains("/db/_changes"));
  // libuv's timers count from the loop's cached time, a millisecond or so before `start` here.
  CHECK(took >= std::chrono::milliseconds(280));
  CHECK(took < std::chrono::milliseconds(1500));
  CHECK_FALSE(got.body.empty());  // bytes kept coming: the read timeout alone would never have fired
}

TEST_CASE("Client: a deadline also bounds a peer that accepts the connection and never answers",
          "[http][client][limits]") {
  TestLoop loop;
  ScriptedServer server(&loop, [](int, int, const std::string&) -> ScriptedServer::Reply { return {""}; });
  HttpClient client(&loop);
  ClientRequest req = get(server.url("/db"));
  req.readTimeoutMs = 0;  // no read timeout at all
  req.deadlineMs = 200;
  ClientResponse got = exchange(loop, client, std::move(req), [&] { server.close(); });
  CHECK(got.error.code == ClientErrc::ReadTimeout);
  CHECK_THAT(got.error.message, Catch::Contains("did not end within 200 ms"));
}
