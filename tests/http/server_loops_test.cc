// Several loops serving one port: Servers joined to a primary (http/server.h, "Several loops"), and a
// whole node (CouchServer) on several loops, each loop on a thread of its own, spoken to over sockets.
#include <uv.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/couch_server.h"
#include "http/raw_socket.h"
#include "http/server.h"
#include "live_server.h"
#include "test_util.h"

using namespace settee::http;
using settee::test::RawSocket;

namespace {

// A loop on a thread of its own with one Server on it, answering each request with `name`.
struct LoopServer {
  uv_loop_t loop;
  std::unique_ptr<Server> server;
  std::thread thread;
  std::atomic<bool> closed{false};

  explicit LoopServer(std::string name) {
    REQUIRE(uv_loop_init(&loop) == 0);
    Server::Options options;
    options.port = 0;
    server = std::make_unique<Server>(&loop, options, [name](Request&&, std::shared_ptr<Responder> res) {
      res->send(Response::json(200, "\"" + name + "\""));
    });
  }
  void run() {
    thread = std::thread([this] { uv_run(&loop, UV_RUN_DEFAULT); });
  }
  // Closes the Server from its own loop thread, joins, and checks nothing is left open on the loop.
  void stop() {
    server->post([this] { server->close([this] { closed = true; }); });
    thread.join();
    CHECK(closed);
    server.reset();
    CHECK(uv_loop_close(&loop) == 0);
  }
};

std::string bodyOf(const std::string& reply) {
  size_t at = reply.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : reply.substr(at + 4);
}

std::string ask(int port) {
  RawSocket socket(port);
  REQUIRE(socket.connected());
  REQUIRE(socket.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  socket.waitClosed();
  return bodyOf(socket.received());
}

}  // namespace

TEST_CASE("Server: connections to a primary are answered in turn by it and the servers joined to it",
          "[http][server][loops]") {
  LoopServer primary("a"), second("b"), third("c");
  second.server->join(*primary.server);
  third.server->join(*primary.server);
  REQUIRE(primary.server->listen() == 0);
  const int port = primary.server->port();
  primary.run();
  second.run();
  third.run();

  std::vector<std::string> answered;
  for (int i = 0; i < 6; ++i) answered.push_back(ask(port));
  // Strictly in turn, so each loop gets its share of long-lived connections.
  CHECK(answered == std::vector<std::string>{"\"a\"", "\"b\"", "\"c\"", "\"a\"", "\"b\"", "\"c\""});

  primary.stop();
  second.stop();
  third.stop();
}

TEST_CASE("Server: a joined server keeps its connections open across requests on its own loop",
          "[http][server][loops]") {
  LoopServer primary("a"), second("b");
  second.server->join(*primary.server);
  REQUIRE(primary.server->listen() == 0);
  const int port = primary.server->port();
  primary.run();
  second.run();

  RawSocket first(port), other(port);  // accepted in order: the first by the primary, the other by `second`
  REQUIRE(first.connected());
  REQUIRE(other.connected());
  REQUIRE(
      other.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  REQUIRE(other.waitClosed());
  size_t answers = 0;
  for (size_t at = 0; (at = other.received().find("\"b\"", at)) != std::string::npos; ++at) ++answers;
  CHECK(answers == 3);  // all three on one connection, from its own loop
  REQUIRE(first.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  REQUIRE(first.waitClosed());
  CHECK(bodyOf(first.received()) == "\"a\"");

  primary.stop();
  second.stop();
}

TEST_CASE("CouchServer: on several loops, every loop answers and stop() ends them all cleanly",
          "[http][server][loops]") {
  settee::test::TempDir dir;
  ServerConfig config;
  config.port = 0;
  config.dataDir = dir.path();
  config.logLevel = "none";
  config.loops = 3;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  auto node = std::make_unique<CouchServer>(&loop, config);
  REQUIRE(node->loops() == 3);
  REQUIRE(node->start());
  const int port = node->port();
  std::thread main([&] { uv_run(&loop, UV_RUN_DEFAULT); });

  // Six connections: two on each loop, each answered.
  for (int i = 0; i < 6; ++i) {
    RawSocket socket(port);
    REQUIRE(socket.connected());
    REQUIRE(socket.send("GET /_up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    socket.waitClosed();
    CHECK(socket.status() == 200);
  }
  // A request left waiting on one of the loops does not hold the stop up.
  RawSocket waiting(port);
  REQUIRE(waiting.connected());
  REQUIRE(waiting.send("PUT /db HTTP/1.1\r\nHost: x\r\n\r\n"));
  waiting.readUntil("\r\n\r\n");
  REQUIRE(waiting.send("GET /db/_changes?feed=longpoll&timeout=60000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  waiting.readUntil("{\"results\":[");

  // stop() belongs to the main loop's thread: ask it from there, and wait for `done`.
  std::atomic<bool> stopped{false};
  uv_async_t ask;
  ask.data = nullptr;
  struct Ctx {
    CouchServer* node;
    std::atomic<bool>* stopped;
  } ctx{node.get(), &stopped};
  ask.data = &ctx;
  REQUIRE(uv_async_init(&loop, &ask, [](uv_async_t* handle) {
            auto* c = static_cast<Ctx*>(handle->data);
            c->node->stop([c] { *c->stopped = true; });
            uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
          }) == 0);
  uv_async_send(&ask);
  main.join();  // uv_run returns only once every handle of the node is closed
  CHECK(stopped);
  CHECK(waiting.waitClosed(2000));
  node.reset();  // the other loops' threads have ended: nothing to wait for
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("Serve: a longpoll on one loop wakes on a write through another", "[http][server][loops]") {
  settee::test::LiveServer node("[settee]\nloops = 2\n");
  REQUIRE(node("PUT", "/db").status == 201);
  // Accepted in order, and handed out in turn: with two loops these two are on different loops.
  RawSocket feed(node.port()), writer(node.port());
  REQUIRE(feed.connected());
  REQUIRE(writer.connected());
  REQUIRE(feed.send("GET /db/_changes?feed=longpoll&since=0&timeout=20000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  // The head and the opening of the results are sent once the feed has found nothing and waits.
  REQUIRE(feed.readUntil("{\"results\":[").find("{\"results\":[") != std::string::npos);
  const std::string doc = R"({"_id":"woken"})";
  REQUIRE(
      writer.send("PUT /db/woken HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(doc.size()) + "\r\n\r\n" + doc));
  CHECK(writer.readUntil("\"ok\":true").find("201 Created") != std::string::npos);
  const std::string& answer = feed.readUntil("last_seq", 5000);
  CHECK(answer.find("\"id\":\"woken\"") != std::string::npos);
}
