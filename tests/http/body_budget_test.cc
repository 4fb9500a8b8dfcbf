// The server-wide budget of request bodies held whole (Server::Options::maxBufferedBodyBytes), with a real
// Server on 127.0.0.1 on a loop of its own, spoken to over raw sockets.
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/raw_socket.h"
#include "http/server.h"

using namespace settee::http;
using settee::test::RawSocket;

namespace {

std::string put(size_t size) {
  return "PUT /db/doc HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n" +
         std::string(size, 'b');
}

}  // namespace

TEST_CASE("Server: bodies held at once past maxBufferedBodyBytes get 503 until held ones are answered",
          "[http][server][limits]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Server::Options options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.maxBufferedBodyBytes = 100000;
  // Requests to /db/doc are held unanswered (their bodies stay charged) until the test releases them.
  std::vector<std::shared_ptr<Responder>> held;
  std::atomic<int> heldCount{0};
  Server server(&loop, options, [&](Request&& request, std::shared_ptr<Responder> responder) {
    Response r;
    r.body = std::to_string(request.body.size());
    if (request.path == "/hold") {
      held.push_back(std::move(responder));
      ++heldCount;
      return;
    }
    responder->send(std::move(r));
  });
  REQUIRE(server.listen() == 0);
  const int port = server.port();
  std::thread thread([&] { uv_run(&loop, UV_RUN_DEFAULT); });

  RawSocket first(port);
  first.send("PUT /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n" + std::string(60000, 'a'));
  for (int i = 0; i < 500 && heldCount == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(heldCount == 1);

  RawSocket second(port);
  second.send(put(60000));
  CHECK(second.waitClosed());
  CHECK(second.status() == 503);
  CHECK(second.received().find("\"error\":\"service_unavailable\"") != std::string::npos);

  RawSocket small(port);  // what fits beside the held body is still taken
  small.send(put(30000));
  CHECK(small.readUntil("30000").find("HTTP/1.1 200") == 0);

  server.post([&] {
    Response r;
    r.body = "done";
    for (auto& responder : held) responder->send(std::move(r));
    held.clear();
  });
  CHECK(first.readUntil("done").find("HTTP/1.1 200") == 0);

  RawSocket third(port);  // the answered body no longer counts
  third.send(put(60000));
  CHECK(third.readUntil("60000").find("HTTP/1.1 200") == 0);

  std::atomic<bool> closed{false};
  server.post([&] { server.close([&] { closed = true; }); });
  thread.join();
  CHECK(closed);
  CHECK(uv_loop_close(&loop) == 0);
}
