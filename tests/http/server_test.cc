// A real Server on 127.0.0.1, port 0, on a loop in a background thread, spoken to over plain sockets.
#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/request.h"
#include "http/response.h"
#include "http/work.h"

using namespace settee::http;
using namespace std::chrono_literals;

namespace {

// Runs a Server on its own loop thread for one test. `stop()` closes it from the loop thread, joins,
// and checks the loop has nothing left open.
class TestServer {
 public:
  explicit TestServer(Server::Handler handler, Server::Options options = {}) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(&loop_, options, std::move(handler));
    REQUIRE(server_->listen() == 0);
    port_ = server_->port();
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~TestServer() {
    if (thread_.joinable()) stop();
  }

  void stop() {
    std::atomic<bool> closed{false};
    server_->post([&] { server_->close([&] { closed = true; }); });
    thread_.join();
    CHECK(closed);
    server_.reset();
    CHECK(uv_loop_close(&loop_) == 0);  // nothing of ours is left open on the loop
  }

  int port() const { return port_; }
  Server& server() { return *server_; }
  uv_loop_t* loop() { return &loop_; }

 private:
  uv_loop_t loop_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::string> chunks;  // for a chunked answer, each chunk as framed
  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (equalsIgnoreCase(k, name)) return &v;
    }
    return nullptr;
  }
};

// A blocking client with a timeout on every read, so a server bug fails a test instead of hanging it.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Reads one response. `head`: the request was HEAD, so no body follows whatever the headers say.
  RawResponse read(bool head = false) {
    RawResponse r;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) throw std::runtime_error("no response head; got: " + buffer_);
    }
    std::string headText = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);
    size_t lineEnd = headText.find("\r\n");
    std::string statusLine = headText.substr(0, lineEnd);
    REQUIRE(statusLine.rfind("HTTP/1.1 ", 0) == 0);
    r.status = std::stoi(statusLine.substr(9, 3));
    for (size_t at = lineEnd + 2; at < headText.size();) {
      size_t next = headText.find("\r\n", at);
      std::string line = headText.substr(at, next - at);
      size_t colon = line.find(':');
      r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
      at = next + 2;
    }
    if (head || r.status < 200 || r.status == 204 || r.status == 304) return r;
    if (const std::string* length = r.header("Content-Length")) {
      size_t n = std::stoul(*length);
      while (buffer_.size() < n) {
        if (!fill()) throw std::runtime_error("short body");
      }
      r.body = buffer_.substr(0, n);
      buffer_.erase(0, n);
    } else if (const std::string* te = r.header("Transfer-Encoding"); te && *te == "chunked") {
      while (true) {
        size_t crlf;
        while ((crlf = buffer_.find("\r\n")) == std::string::npos) {
          if (!fill()) throw std::runtime_error("short chunk size");
        }
        size_t size = std::stoul(buffer_.substr(0, crlf), nullptr, 16);
        while (buffer_.size() < crlf + 2 + size + 2) {
          if (!fill()) throw std::runtime_error("short chunk");
        }
        std::string chunk = buffer_.substr(crlf + 2, size);
        REQUIRE(buffer_.substr(crlf + 2 + size, 2) == "\r\n");
        buffer_.erase(0, crlf + 2 + size + 2);
        if (size == 0) break;
        r.chunks.push_back(chunk);
        r.body += chunk;
      }
    } else {
      while (fill()) {
      }
      r.body = std::move(buffer_);
      buffer_.clear();
    }
    return r;
  }

  // Reads raw bytes until `marker` has arrived (or the timeout); returns everything read so far.
  std::string readUntil(std::string_view marker) {
    while (buffer_.find(marker) == std::string::npos) {
      if (!fill()) break;
    }
    std::string out = std::move(buffer_);
    buffer_.clear();
    return out;
  }

  // True if the server closes the connection (EOF or reset) within the timeout, with no more bytes.
  bool closedByServer() {
    char c;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 3000) <= 0) return false;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
};

std::string gzip(std::string_view data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Answers "<METHOD> <path>\n<body>" as text/plain; a few paths do something else.
void echo(Request&& request, std::shared_ptr<Responder> responder) {
  Response response;
  response.setHeader("Content-Type", "text/plain");
  response.body = request.method + " " + request.path + "\n" + request.body;
  responder->send(std::move(response));
}

std::string get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n" + std::string(extra) + "\r\n";
}

}  // namespace

TEST_CASE("Server: two requests on one connection are both answered (keep-alive)", "[http][server]") {
  TestServer server(echo);
  Client client(server.port());
  client.send(get("/first"));
  RawResponse a = client.read();
  client.send(get("/second"));
  RawResponse b = client.read();
  CHECK(a.status == 200);
  CHECK(a.body == "GET /first\n");
  CHECK(b.body == "GET /second\n");
  // Every response carries the server's standard headers; the handler's Content-Type wins.
  REQUIRE(a.header("Server"));
  CHECK(*a.header("Server") == "Settee/0.1.0");
  REQUIRE(a.header("Date"));
  CHECK(a.header("Date")->find(" GMT") != std::string::npos);
  CHECK(*a.header("Cache-Control") == "must-revalidate");
  CHECK(*a.header("Content-Type") == "text/plain");
  CHECK(a.header("Connection") == nullptr);
  client.close();
  server.stop();
}

TEST_CASE("Server: a response without a Content-Type is sent as application/json", "[http][server]") {
  TestServer server([](Request&&, std::shared_ptr<Responder> r) { r->send(Response{200, {}, "{}"}); });
  Client client(server.port());
  client.send(get("/"));
  RawResponse a = client.read();
  CHECK(*a.header("Content-Type") == "application/json");
  CHECK(a.body == "{}");
  server.stop();
}

TEST_CASE("Server: Connection: close and HTTP/1.0 without keep-alive close after the answer",
          "[http][server]") {
  TestServer server(echo);
  SECTION("HTTP/1.1 with Connection: close") {
    Client client(server.port());
    client.send(get("/x", "Connection: close\r\n"));
    RawResponse r = client.read();
    CHECK(r.body == "GET /x\n");
    CHECK(*r.header("Connection") == "close");
    CHECK(client.closedByServer());
  }
  SECTION("HTTP/1.0") {
    Client client(server.port());
    client.send("GET /y HTTP/1.0\r\n\r\n");
    RawResponse r = client.read();
    CHECK(r.body == "GET /y\n");
    CHECK(client.closedByServer());
  }
  SECTION("HTTP/1.0 with keep-alive stays open") {
    Client client(server.port());
    client.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    RawResponse r = client.read();
    CHECK(*r.header("Connection") == "keep-alive");
    client.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(client.read().body == "GET /b\n");
  }
  server.stop();
}

TEST_CASE("Server: pipelined requests are answered in order even when the first finishes last",
          "[http][server]") {
  TestServer* self = nullptr;
  TestServer server([&](Request&& request, std::shared_ptr<Responder> responder) {
    if (request.path == "/slow") {
      // Done on the thread pool and answered later: the second request must still wait its turn.
      runOffLoop(
          self->loop(), [] { std::this_thread::sleep_for(100ms); },
          [responder] { responder->send(Response::json(200, "\"slow\"")); });
      return;
    }
    responder->send(Response::json(200, "\"fast\""));
  });
  self = &server;
  Client client(server.port());
  client.send(get("/slow") + get("/fast") + get("/fast"));
  CHECK(client.read().body == "\"slow\"");
  CHECK(client.read().body == "\"fast\"");
  CHECK(client.read().body == "\"fast\"");
  server.stop();
}

TEST_CASE("Server: a chunked request body arrives de-chunked", "[http][server]") {
  TestServer server(echo);
  Client client(server.port());
  client.send("POST /db HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  std::this_thread::sleep_for(20ms);  // the rest in a second packet
  client.send("6;ext=1\r\n world\r\n0\r\n\r\n");
  CHECK(client.read().body == "POST /db\nhello world");
  server.stop();
}

TEST_CASE("Server: Expect: 100-continue gets 100 Continue before the body is sent", "[http][server]") {
  Server::Options options;
  options.maxRequestBodySize = 1000;
  TestServer server(echo, options);
  SECTION("within the limit") {
    Client client(server.port());
    client.send("PUT /db/doc HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n");
    RawResponse interim = client.read();
    CHECK(interim.status == 100);
    client.send("{\"a\":1}");
    RawResponse r = client.read();
    CHECK(r.status == 200);
    CHECK(r.body == "PUT /db/doc\n{\"a\":1}");
  }
  SECTION("over the limit: 413 straight away, and the connection closes") {
    Client client(server.port());
    client.send("PUT /db/doc HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
    RawResponse r = client.read();
    CHECK(r.status == 413);
    CHECK(r.body == "{\"error\":\"too_large\",\"reason\":\"the request entity is too large\"}\n");
    CHECK(client.closedByServer());
  }
  server.stop();
}

TEST_CASE("Server: a gzip request body is inflated", "[http][server]") {
  TestServer server(echo);
  Client client(server.port());
  std::string body(10000, 'x');
  std::string packed = gzip(body);
  client.send("POST /db/_bulk_docs HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: " +
              std::to_string(packed.size()) + "\r\n\r\n" + packed);
  RawResponse r = client.read();
  CHECK(r.status == 200);
  CHECK(r.body == "POST /db/_bulk_docs\n" + body);
  server.stop();
}

TEST_CASE("Server: a body over the limit gets 413 and the connection closes", "[http][server]") {
  Server::Options options;
  options.maxRequestBodySize = 1024;
  TestServer server(echo, options);
  const std::string tooLarge = "{\"error\":\"too_large\",\"reason\":\"the request entity is too large\"}\n";
  SECTION("declared by Content-Length") {
    Client client(server.port());
    client.send("PUT /db/doc HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + std::string(2000, 'a'));
    RawResponse r = client.read();
    CHECK(r.status == 413);
    CHECK(r.body == tooLarge);
    CHECK(*r.header("Connection") == "close");
    CHECK(client.closedByServer());
  }
  SECTION("discovered while de-chunking") {
    Client client(server.port());
    client.send("PUT /db/doc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; ++i) client.send("200\r\n" + std::string(512, 'a') + "\r\n");
    RawResponse r = client.read();
    CHECK(r.status == 413);
    CHECK(client.closedByServer());
  }
  SECTION("discovered while inflating (a gzip bomb)") {
    Client client(server.port());
    std::string bomb = gzip(std::string(512 * 1024, '\0'));
    REQUIRE(bomb.size() < 1024);
    client.send("POST /db HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: " +
                std::to_string(bomb.size()) + "\r\n\r\n" + bomb);
    RawResponse r = client.read();
    CHECK(r.status == 413);
    CHECK(r.body == tooLarge);
    CHECK(client.closedByServer());
  }
  SECTION("a body of exactly the limit is accepted") {
    Client client(server.port());
    client.send("PUT /db/doc HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" + std::string(1024, 'a'));
    CHECK(client.read().status == 200);
  }
  server.stop();
}

TEST_CASE("Server: a malformed request gets 400 and the connection closes", "[http][server]") {
  TestServer server(echo);
  for (std::string garbage :
       {"BLAH\r\n\r\n", "GET / HTTP/1.1\r\nHost x\r\n\r\n", "GET /a%zz HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", "\x16\x03\x01\x02\x00\x01"}) {
    CAPTURE(garbage);
    Client client(server.port());
    client.send(garbage);
    RawResponse r = client.read();
    CHECK(r.status == 400);
    CHECK(r.body.rfind("{\"error\":\"bad_request\",\"reason\":", 0) == 0);
    CHECK(client.closedByServer());
  }
  server.stop();
}

TEST_CASE("Server: an unsupported Content-Encoding gets 415 and the connection stays usable",
          "[http][server]") {
  TestServer server(echo);
  Client client(server.port());
  client.send("POST /db HTTP/1.1\r\nHost: x\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc");
  RawResponse r = client.read();
  CHECK(r.status == 415);
  CHECK(r.body.find("bad_content_type") != std::string::npos);
  client.send(get("/after"));
  CHECK(client.read().body == "GET /after\n");
  server.stop();
}

TEST_CASE("Server: headers over maxHeaderSize get 431", "[http][server]") {
  Server::Options options;
  options.maxHeaderSize = 1024;
  TestServer server(echo, options);
  Client client(server.port());
  client.send(get("/", "X-Big: " + std::string(2000, 'b') + "\r\n"));
  CHECK(client.read().status == 431);
  CHECK(client.closedByServer());
  server.stop();
}

TEST_CASE("Server: a HEAD answer has the headers of GET and no body", "[http][server]") {
  TestServer server([](Request&& request, std::shared_ptr<Responder> responder) {
    CHECK(responder->method() == request.method);
    if (request.path == "/stream") {
      responder->start(200);
      responder->write("ignored for HEAD");
      responder->end();
      return;
    }
    responder->send(Response::json(200, "{\"ok\":true}"));
  });
  Client client(server.port());
  client.send("HEAD /db HTTP/1.1\r\nHost: x\r\n\r\n");
  RawResponse head = client.read(/*head=*/true);
  CHECK(head.status == 200);
  CHECK(*head.header("Content-Length") == "11");
  client.send("HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  RawResponse streamed = client.read(/*head=*/true);
  CHECK(*streamed.header("Transfer-Encoding") == "chunked");
  // If either HEAD had sent a body, it would show up in front of this answer.
  client.send(get("/db"));
  RawResponse after = client.read();
  CHECK(after.body == "{\"ok\":true}");
  server.stop();
}

TEST_CASE("Server: a streamed response arrives as chunks, and empty writes are skipped", "[http][server]") {
  TestServer server([](Request&&, std::shared_ptr<Responder> responder) {
    responder->start(200, {{"Content-Type", "text/plain"}});
    responder->write("{\"seq\":1}\n");
    responder->write("");
    responder->write("{\"seq\":2}\n");
    responder->end();
  });
  Client client(server.port());
  client.send(get("/db/_changes?feed=continuous"));
  RawResponse r = client.read();
  CHECK(r.status == 200);
  CHECK(*r.header("Transfer-Encoding") == "chunked");
  CHECK(r.header("Content-Length") == nullptr);
  CHECK(r.chunks == std::vector<std::string>{"{\"seq\":1}\n", "{\"seq\":2}\n"});
  client.send(get("/again"));  // the connection goes on after the last chunk
  CHECK(client.read().status == 200);
  server.stop();
}

TEST_CASE("Server: a client that disconnects mid-stream triggers onClose", "[http][server]") {
  std::promise<bool> closedPromise;
  auto closedFuture = closedPromise.get_future();
  std::shared_ptr<Responder> held;  // only touched on the loop thread
  TestServer server([&](Request&&, std::shared_ptr<Responder> responder) {
    responder->start(200);
    responder->write("first\n");
    held = responder;
    // Capturing the Responder in its own callback must not leak it (the server releases the callback).
    responder->onClose([&, responder] {
      closedPromise.set_value(responder->closed());
      held.reset();
    });
  });
  Client client(server.port());
  client.send(get("/db/_changes?feed=continuous"));
  std::string start = client.readUntil("first\n");
  CHECK(start.find("first\n") != std::string::npos);
  client.close();
  REQUIRE(closedFuture.wait_for(5s) == std::future_status::ready);
  CHECK(closedFuture.get() == true);
  server.stop();
}

TEST_CASE("Server: closing the server calls onClose of a request still in flight", "[http][server]") {
  std::atomic<int> calls{0};
  std::promise<void> arrived;
  std::shared_ptr<Responder> held;
  TestServer server([&](Request&&, std::shared_ptr<Responder> responder) {
    responder->onClose([&] {
      ++calls;
      held.reset();
    });
    held = std::move(responder);  // a longpoll waiting for a change that never comes
    arrived.set_value();
  });
  Client client(server.port());
  client.send(get("/db/_changes?feed=longpoll"));
  REQUIRE(arrived.get_future().wait_for(5s) == std::future_status::ready);
  server.stop();
  CHECK(calls == 1);
  CHECK(client.closedByServer());
}

TEST_CASE("Server: post() runs a function on the loop thread from another thread", "[http][server]") {
  std::thread worker;
  TestServer* self = nullptr;
  std::thread::id loopThread;
  TestServer server([&](Request&&, std::shared_ptr<Responder> responder) {
    loopThread = std::this_thread::get_id();
    worker = std::thread([&, r = std::move(responder)]() mutable {
      std::this_thread::sleep_for(20ms);
      self->server().post([&, r = std::move(r)] {
        CHECK(std::this_thread::get_id() == loopThread);
        r->send(Response::json(202, "\"later\""));
      });
    });
  });
  self = &server;
  Client client(server.port());
  client.send(get("/later"));
  RawResponse r = client.read();
  CHECK(r.status == 202);
  CHECK(r.body == "\"later\"");
  worker.join();
  server.stop();
}

TEST_CASE("Server: a handler that drops its Responder unanswered yields 500, as does one that throws",
          "[http][server]") {
  TestServer server([](Request&& request, std::shared_ptr<Responder>) {
    if (request.path == "/throw") throw std::runtime_error("boom");
  });
  Client client(server.port());
  client.send(get("/drop"));
  RawResponse dropped = client.read();
  CHECK(dropped.status == 500);
  CHECK(dropped.body.find("internal_server_error") != std::string::npos);
  client.send(get("/throw"));
  RawResponse thrown = client.read();
  CHECK(thrown.status == 500);
  CHECK(thrown.body.find("boom") != std::string::npos);
  server.stop();
}

TEST_CASE("Server: an idle connection is closed after idleTimeoutMs", "[http][server]") {
  Server::Options options;
  options.idleTimeoutMs = 100;
  TestServer server(echo, options);
  Client client(server.port());
  client.send(get("/"));
  CHECK(client.read().status == 200);
  CHECK(client.closedByServer());
  server.stop();
}

TEST_CASE("Server: the handler sees decoded segments, query, headers and the peer", "[http][server]") {
  std::promise<Request> seen;
  TestServer server([&](Request&& request, std::shared_ptr<Responder> responder) {
    responder->send(Response::json(200, "{}"));
    seen.set_value(std::move(request));
  });
  Client client(server.port());
  client.send(get("/db/_local%2Fx?since=now&key=a+b", "X-Custom:   spaced value  \r\n"));
  CHECK(client.read().status == 200);
  auto future = seen.get_future();
  REQUIRE(future.wait_for(5s) == std::future_status::ready);
  Request request = future.get();
  CHECK(request.method == "GET");
  CHECK(request.target == "/db/_local%2Fx?since=now&key=a+b");
  CHECK(request.segments == std::vector<std::string>{"db", "_local/x"});
  CHECK(request.param("key") == std::optional<std::string_view>("a b"));
  REQUIRE(request.header("x-custom"));
  CHECK(*request.header("x-custom") == "spaced value");
  CHECK(request.httpMinor == 1);
  CHECK(request.peer == "127.0.0.1");
  server.stop();
}

TEST_CASE("Server: a client that never reads does not block another client", "[http][server]") {
  std::string big(4 << 20, 'z');
  TestServer server([&](Request&& request, std::shared_ptr<Responder> responder) {
    if (request.path == "/big") {
      responder->send(Response{200, {}, big});
    } else {
      responder->send(Response::json(200, "\"small\""));
    }
  });
  Client stuck(server.port());
  stuck.send(get("/big"));  // and never read: the server's write stays queued
  std::this_thread::sleep_for(50ms);
  Client other(server.port());
  other.send(get("/small"));
  CHECK(other.read().body == "\"small\"");
  server.stop();
}

TEST_CASE("Server: a hundred pipelined requests in one write are answered in order", "[http][server]") {
  TestServer server(echo);
  Client client(server.port());
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += get("/r" + std::to_string(i));
  client.send(burst);
  for (int i = 0; i < 100; ++i) CHECK(client.read().body == "GET /r" + std::to_string(i) + "\n");
  server.stop();
}

TEST_CASE("Server: a large body sent in many packets arrives whole", "[http][server]") {
  TestServer server(echo);
  Client client(server.port());
  std::string body(5 * 1024 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  client.send("PUT /db/big HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n");
  for (size_t at = 0; at < body.size(); at += 100000) client.send(std::string_view(body).substr(at, 100000));
  RawResponse r = client.read();
  CHECK(r.status == 200);
  CHECK(r.body.size() == std::string("PUT /db/big\n").size() + body.size());
  CHECK(r.body == "PUT /db/big\n" + body);
  server.stop();
}

TEST_CASE("Server: a streamer that writes only while pendingBytes is low delivers everything",
          "[http][server]") {
  constexpr size_t kChunk = 64 * 1024;
  constexpr int kChunks = 128;  // 8 MiB, far more than the socket buffers hold
  std::atomic<size_t> highestPending{0};
  std::shared_ptr<Responder> held;  // the feed's registry, as it were; loop thread only
  TestServer server([&](Request&&, std::shared_ptr<Responder> responder) {
    responder->start(200, {{"Content-Type", "application/octet-stream"}});
    auto sent = std::make_shared<int>(0);
    // Write until a quarter MiB is queued, then wait for the queue to drain. The callback holds only a
    // weak reference, as a real feed would, so the Responder does not keep itself alive.
    auto pump = [sent, &highestPending, &held, weak = std::weak_ptr<Responder>(responder)] {
      auto r = weak.lock();
      if (!r || r->finished()) return;
      while (*sent < kChunks && r->pendingBytes() < 256 * 1024) {
        r->write(std::string(kChunk, static_cast<char>('0' + *sent % 10)));
        ++*sent;
        highestPending = std::max(highestPending.load(), r->pendingBytes());
      }
      if (*sent == kChunks) {
        r->end();
        held.reset();
      }
    };
    // A streamer keeps a strong reference until it ends: a Responder dropped mid-stream cuts it short.
    held = responder;
    responder->onClose([&held] { held.reset(); });
    responder->onDrain(pump);
    pump();
  });
  Client client(server.port());
  client.send(get("/db/_changes?feed=continuous"));
  std::this_thread::sleep_for(100ms);  // let the server fill its queue before we start reading
  RawResponse r = client.read();
  CHECK(r.status == 200);
  REQUIRE(r.body.size() == kChunk * kChunks);
  CHECK(r.body[0] == '0');
  CHECK(r.body[kChunk * 11] == '1');
  CHECK(highestPending.load() < 256 * 1024 + kChunk + 64);
  server.stop();
}

TEST_CASE("Server: a stream whose Responder is dropped unfinished is cut off, without a last chunk",
          "[http][server]") {
  TestServer server([](Request&&, std::shared_ptr<Responder> responder) {
    responder->start(200);
    responder->write("partial\n");
  });  // the only reference dies here
  Client client(server.port());
  client.send(get("/db/_changes?feed=continuous"));
  std::string got = client.readUntil("never");
  CHECK(got.find("partial\n") != std::string::npos);
  CHECK(got.find("\r\n0\r\n\r\n") == std::string::npos);
  server.stop();
}

TEST_CASE("Server: pipelined requests for large answers wait for the queue to drain, then all arrive",
          "[http][server]") {
  const std::string big(3 << 20, 'b');  // over the 1 MiB high-water mark of queued output
  TestServer server([&](Request&& request, std::shared_ptr<Responder> responder) {
    responder->send(Response{200, {}, request.path + ":" + big});
  });
  Client client(server.port());
  client.send(get("/1") + get("/2") + get("/3"));
  std::this_thread::sleep_for(100ms);  // the first answer fills the queue before anything is read
  for (const char* path : {"/1", "/2", "/3"}) CHECK(client.read().body == std::string(path) + ":" + big);
  server.stop();
}

TEST_CASE("Server: an Upgrade: h2c offer is ignored and answered in HTTP/1.1", "[http][server]") {
  TestServer server(echo);
  Client client(server.port());
  client.send(get(
      "/up", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"));
  CHECK(client.read().body == "GET /up\n");
  client.send(get("/next"));
  CHECK(client.read().body == "GET /next\n");
  server.stop();
}
