// The server's HTTP/1.1 request parsing and body framing (http/server.h, http/connection.cc): request
// line, headers, Content-Length and chunked bodies, gzip bodies, Expect, pipelining and the size limits.
//
// The real Server is driven over loopback TCP, in one libuv loop on this thread: each input is one client
// connection that sends the bytes, shuts down its side, and reads until the server closes. The handler
// answers every request at once, whole or streamed, as the API's handlers do. Nothing survives from one
// input to the next but the listening server, which has no connections left between inputs.
//
// Property: whatever the client sent, what the server wrote back is a sequence of well-formed HTTP
// responses (checked with llhttp in response mode).
#include <llhttp.h>
#include <uv.h>

#include <memory>

#include "fuzz_util.h"
#include "http/server.h"

using namespace settee;

namespace {

void answer(http::Request&& request, std::shared_ptr<http::Responder> responder) {
  if (request.target.find("stream") != std::string::npos) {
    responder->start(200, {{"Content-Type", "text/plain"}});
    responder->write(request.body);
    responder->write(request.target);
    responder->end();
    return;
  }
  http::Response response;
  response.headers.emplace_back("Content-Type", "text/plain");
  response.body = request.method + " " + request.target + " " + std::to_string(request.headers.size()) + " " +
                  std::to_string(request.body.size());
  responder->send(std::move(response));
}

struct Harness {
  uv_loop_t loop;
  std::unique_ptr<http::Server> server;

  Harness() {
    FUZZ_CHECK(uv_loop_init(&loop) == 0);
    http::Server::Options options;
    options.host = "127.0.0.1";
    options.port = 0;
    // Small limits, so that inputs of a few KB reach the 413 and 431 paths.
    options.maxRequestBodySize = 1024;
    options.maxHeaderSize = 1024;
    options.idleTimeoutMs = 5000;
    server = std::make_unique<http::Server>(&loop, options, answer);
    FUZZ_CHECK(server->listen() == 0);
  }
};

// One client connection: connect, write the input, shut down, read everything, close.
struct Client {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_shutdown_t shutdown;
  std::string out, in;
  bool closed = false;
  char buffer[16 * 1024];

  static void onClosed(uv_handle_t* handle) { static_cast<Client*>(handle->data)->closed = true; }

  void close() {
    // Reset rather than linger in TIME_WAIT: tens of thousands of connections a minute would otherwise
    // use up the loopback's ephemeral ports.
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp), &fd) == 0) {
      linger l{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), onClosed);
  }

  static void onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Client*>(handle->data);
    *buf = uv_buf_init(self->buffer, sizeof self->buffer);
  }

  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Client*>(stream->data);
    if (nread > 0) self->in.append(buf->base, static_cast<size_t>(nread));
    if (nread < 0) self->close();
  }

  static void onShutdown(uv_shutdown_t*, int) {}

  static void onWrite(uv_write_t* req, int status) {
    auto* self = static_cast<Client*>(req->handle->data);
    if (status == 0) uv_shutdown(&self->shutdown, req->handle, onShutdown);
  }

  static void onConnect(uv_connect_t* req, int status) {
    auto* self = static_cast<Client*>(req->handle->data);
    FUZZ_CHECK(status == 0);
    FUZZ_CHECK(uv_read_start(req->handle, onAlloc, onRead) == 0);
    uv_buf_t buf = uv_buf_init(self->out.data(), static_cast<unsigned>(self->out.size()));
    FUZZ_CHECK(uv_write(&self->write, req->handle, &buf, 1, onWrite) == 0);
  }
};

// Whether `bytes` are complete, well-formed HTTP responses, as the server's peer would read them.
bool wellFormedResponses(const std::string& bytes) {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  if (llhttp_execute(&parser, bytes.data(), bytes.size()) != HPE_OK) return false;
  return llhttp_finish(&parser) == HPE_OK;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* harness = new Harness();  // lives for the process: the server listens throughout
  auto client = std::make_unique<Client>();
  client->out.assign(reinterpret_cast<const char*>(data), size);
  FUZZ_CHECK(uv_tcp_init(&harness->loop, &client->tcp) == 0);
  client->tcp.data = client.get();
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", harness->server->port(), &addr);
  FUZZ_CHECK(uv_tcp_connect(&client->connect, &client->tcp, reinterpret_cast<sockaddr*>(&addr),
                            Client::onConnect) == 0);
  while (!client->closed || harness->server->connectionCount() > 0) uv_run(&harness->loop, UV_RUN_ONCE);

  // A response to HEAD announces a length it does not send, which a parser that did not see the request
  // cannot know; those inputs are only checked for memory errors.
  if (client->out.find("HEAD") == std::string::npos) FUZZ_CHECK(wellFormedResponses(client->in));
  return 0;
}
