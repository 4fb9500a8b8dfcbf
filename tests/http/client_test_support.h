// Helpers of the HTTP client tests: a loop that must end with nothing left open, and servers on the test's
// own loop — an http::Server, and a scripted raw libuv server for closes and framing the real server never
// produces; requests sent one after another on one client; and a plain listening loopback socket. Loop
// thread only, like the client they exercise.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "http/client.h"
#include "http/server.h"

namespace settee::test {

// libuv writes with write(2), so a peer that went away raises SIGPIPE; a program using the client (or
// libuv's server) ignores it, and so do these tests.
inline const bool kIgnoreSigpipe = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

inline http::Url url(const std::string& text) {
  auto parsed = http::Url::parse(text);
  REQUIRE(parsed);
  return *parsed;
}

inline http::ClientRequest get(const std::string& text) {
  http::ClientRequest req;
  req.url = url(text);
  return req;
}

// Runs `loop` until nothing is left active on it, or fails the test after `limitMs`.
inline void runLoop(uv_loop_t* loop, uint64_t limitMs = 20000) {
  uv_timer_t watchdog;
  bool fired = false;
  uv_timer_init(loop, &watchdog);
  watchdog.data = &fired;
  uv_timer_start(
      &watchdog,
      [](uv_timer_t* t) {
        *static_cast<bool*>(t->data) = true;
        uv_stop(t->loop);
      },
      limitMs, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog));
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&watchdog), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  CHECK_FALSE(fired);
}

// The loop every test ends with: closed, with nothing of ours left open on it.
struct TestLoop {
  uv_loop_t loop;
  TestLoop() { uv_loop_init(&loop); }
  void finish() {
    runLoop(&loop);
    CHECK(uv_loop_close(&loop) == 0);
  }
  uv_loop_t* operator&() { return &loop; }
};

// Runs `fn` once on the loop after `ms`, then frees its timer.
inline void after(uv_loop_t* loop, uint64_t ms, std::function<void()> fn) {
  struct Timer {
    uv_timer_t handle;
    std::function<void()> fn;
  };
  auto* timer = new Timer{{}, std::move(fn)};
  uv_timer_init(loop, &timer->handle);
  timer->handle.data = timer;
  uv_timer_start(
      &timer->handle,
      [](uv_timer_t* t) {
        auto* self = static_cast<Timer*>(t->data);
        self->fn();
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Timer*>(h->data); });
      },
      ms, 0);
}

// An http::Server on the test's loop, so client and server share one thread and no locking.
class LoopServer {
 public:
  LoopServer(uv_loop_t* loop, http::Server::Handler handler, http::Server::Options options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<http::Server>(loop, options, std::move(handler));
    REQUIRE(server_->listen() == 0);
  }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  void close() {
    server_->close([] {});
  }
  http::Server& server() { return *server_; }

 private:
  std::unique_ptr<http::Server> server_;
};

// A raw server on the loop that answers each request head with whatever `script` says, including
// nothing at all, so the tests can close connections at the worst moments.
class ScriptedServer {
 public:
  struct Reply {
    std::string bytes;
    bool close = false;  // close the connection once `bytes` are written
  };
  // `connection` and `request` count from 0, `request` within its connection; `head` is the request
  // line and headers.
  using Script = std::function<Reply(int connection, int request, const std::string& head)>;

  ScriptedServer(uv_loop_t* loop, Script script) : loop_(loop), script_(std::move(script)) {
    uv_tcp_init(loop, &listener_);
    listener_.data = this;
    sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    REQUIRE(uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, onConnection) == 0);
    sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections() const { return accepted_; }
  // The body of every request, in the order they arrived.
  const std::vector<std::string>& bodies() const { return bodies_; }
  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    std::vector<Conn*> open(open_.begin(), open_.end());
    for (Conn* c : open) closeConn(c);
  }

 private:
  struct Conn {
    uv_tcp_t tcp;
    ScriptedServer* server;
    int index;
    int requests = 0;
    std::string buffer;
    bool closing = false;
  };
  struct Write {
    uv_write_t req;
    std::string bytes;
    Conn* conn;
    bool close;
  };

  static void onConnection(uv_stream_t* listener, int status) {
    auto* self = static_cast<ScriptedServer*>(listener->data);
    auto* c = new Conn{};
    c->server = self;
    c->index = self->accepted_++;
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    self->open_.insert(c);
    uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp));
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t size, uv_buf_t* buf) { *buf = uv_buf_init(new char[size], size); }, onRead);
  }
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(stream->data);
    if (nread > 0) c->buffer.append(buf->base, nread);
    delete[] buf->base;
    if (nread < 0) {
      c->server->closeConn(c);
      return;
    }
    size_t end;
    while (!c->closing && (end = c->buffer.find("\r\n\r\n")) != std::string::npos) {
      size_t length = 0;
      if (size_t at = c->buffer.find("Content-Length: "); at != std::string::npos && at < end) {
        length = std::stoul(c->buffer.substr(at + 16));
      }
      if (c->buffer.size() < end + 4 + length) return;
      std::string head = c->buffer.substr(0, end);
      c->server->bodies_.push_back(c->buffer.substr(end + 4, length));
      c->buffer.erase(0, end + 4 + length);
      Reply reply = c->server->script_(c->index, c->requests++, head);
      if (reply.bytes.empty()) {
        if (reply.close) c->server->closeConn(c);
        continue;
      }
      auto* w = new Write{{}, std::move(reply.bytes), c, reply.close};
      w->req.data = w;
      uv_buf_t b = uv_buf_init(w->bytes.data(), w->bytes.size());
      uv_write(&w->req, stream, &b, 1, [](uv_write_t* req, int) {
        auto* w = static_cast<Write*>(req->data);
        if (w->close) w->conn->server->closeConn(w->conn);
        delete w;
      });
      if (reply.close) c->closing = true;
    }
  }
  void closeConn(Conn* c) {
    if (!open_.erase(c)) return;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  }

  uv_loop_t* loop_;
  Script script_;
  uv_tcp_t listener_;
  int port_ = 0;
  int accepted_ = 0;
  std::unordered_set<Conn*> open_;
  std::vector<std::string> bodies_;
};

inline std::string okReply(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// A ScriptedServer script: connection 0 answers its first request, then closes on the second without a
// word (the race of a server's idle timeout with the client's reuse); every other request gets
// okReply(body(connection)).
inline ScriptedServer::Script dropsSecondRequest(std::function<std::string(int connection)> body) {
  return [body = std::move(body)](int connection, int request, const std::string&) -> ScriptedServer::Reply {
    if (connection == 0 && request == 1) return {"", true};
    return {okReply(body(connection))};
  };
}

// Sends `requests` on `client` one after another, each once the one before is answered, appending every
// response to `*got`; once the last is answered, calls `done` (which closes what the test opened).
inline void requestInTurn(http::HttpClient& client, std::vector<http::ClientRequest> requests,
                          std::vector<http::ClientResponse>* got, std::function<void()> done) {
  struct Turns {
    http::HttpClient& client;
    std::vector<http::ClientRequest> requests;
    std::vector<http::ClientResponse>* got;
    std::function<void()> done;
    size_t next = 0;
  };
  struct Send {
    static void next(const std::shared_ptr<Turns>& turns) {
      if (turns->next == turns->requests.size()) {
        turns->done();
        return;
      }
      http::ClientRequest req = std::move(turns->requests[turns->next++]);
      REQUIRE(turns->client
                  .request(std::move(req),
                           [turns](http::ClientResponse r) {
                             turns->got->push_back(std::move(r));
                             next(turns);
                           })
                  .ok());
    }
  };
  Send::next(std::make_shared<Turns>(Turns{client, std::move(requests), got, std::move(done)}));
}

// A blocking TCP socket listening on a free loopback port, closed with the object. Until its owner accepts
// on fd(), the kernel completes handshakes and buffers what arrives, and nothing ever answers.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~LoopbackListener() { ::close(fd_); }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  int fd() const { return fd_; }
  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace settee::test
