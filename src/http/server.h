// http/server.h — the HTTP/1.1 server: a TCP listener on a libuv loop, its connections, and the
// Responder through which a handler answers one request.
//
// THREADING RULE. Everything here runs on the thread that runs the loop ("the loop thread"), except
// `Server::post`, which any thread may call. The loop thread only moves bytes and parses HTTP: a handler
// is called on the loop thread and must return quickly. Work that may block — SQLite above all — goes off
// the loop (`runOffLoop` in http/work.h, or a thread of your own), and its result comes back to the loop
// thread (the `done` of runOffLoop, or `Server::post`) to be sent through the Responder. A slow query then
// never stalls a longpoll or another client.
//
// Ownership. The caller owns the loop and the Server. The Server owns its listener, its wake-up handle
// and every connection. A Responder is shared between its connection and the handler; the handler may keep
// it as long as it likes (across work on another thread), but must drop its last reference on the loop
// thread — runOffLoop and Server::post destroy the functions they are given on the loop thread, so
// capturing the Responder in them is enough. A Responder whose connection has gone is inert: every call is
// a no-op and `closed()` is true. A Responder dropped without an answer makes the server answer 500 (or cut
// a stream short), so a forgotten reply never hangs a client.
//
// A request's head first. With a HeadHandler, the server shows it each request's head (request line and
// headers, no body) as soon as the head is parsed, and reads nothing of the body until the hook has
// decided: refuse the request (its body is never read), or accept it with a body limit of its own and,
// optionally, a BodySink that takes the body as it arrives instead of Request::body. So credentials and
// the right to write are checked before a client may make the server read, buffer or store a byte.
//
// Several loops. A Server runs on one loop; to serve a port from several, make one Server per loop
// (each loop on a thread of its own) and `join` each to the first, the primary, before any loop runs.
// The primary's listener accepts every connection and hands them out in turn to itself and the joined
// servers; from then on a connection belongs to its server's loop, and the rule above holds per
// loop: a Server and its connections and Responders are touched only on its own loop thread. Anything a
// handler shares across loops (caches, the databases) must be thread-safe, as it already must be for the
// thread pool. The body budget (Options::maxBufferedBodyBytes) is one for all of them.
//
// Lifetime. `close()` stops accepting, closes every connection (calling each in-flight Responder's
// onClose) and calls `done` once all of the server's handles are closed; only then may the Server be
// destroyed, and only then will `uv_run` see no handles of ours. libuv's rule holds for ours too: when a
// call that takes a callback fails, the callback is never called.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "http/request.h"
#include "http/response.h"

namespace settee::http {

namespace detail {
class Connection;
}

// The value of the `Server` header on every response.
inline constexpr std::string_view kServerName = "Settee/0.1.0";

// Answers one request: either `send` a whole response, or `start` / `write`... / `end` a chunked stream.
// Loop thread only. Held by shared_ptr so the answer may come later than the handler call; the connection
// itself holds no reference, so whoever answers later (a feed registry, a lambda given to runOffLoop)
// must hold one until `send` / `end`.
class Responder {
 public:
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // Sends the whole response with a Content-Length. For HEAD, sends the headers only, with the
  // Content-Length the body would have had. Call at most once, and not after `start`.
  void send(Response response);

  // Starts a streamed response: the status line and headers, with `Transfer-Encoding: chunked` (to an
  // HTTP/1.0 client: no framing, and the connection closes at `end`). For HEAD, only the headers are sent
  // and `write` sends nothing.
  void start(int status, Headers headers = {});
  // Sends `chunk` as one chunk (copied; the view need only live for the call). An empty chunk is skipped,
  // since a zero-length chunk would end the stream.
  void write(std::string_view chunk);
  // Ends the stream. The connection then goes on to the next request (or closes).
  void end();

  // True once the client has gone away (or the server closed) before the answer was finished.
  bool closed() const { return clientGone_; }
  // True once `send` or `end` was called.
  bool finished() const { return finished_; }
  // True once `start` (or `send`) was called: the status line is out and can no longer change.
  bool started() const { return started_; }

  // `callback` is called once, on the loop thread, if the client disconnects (or the server closes)
  // before `send` / `end`; it is how a waiting feed learns to stop. It may drop the Responder.
  // If the client is already gone, it is not called; check `closed()` first.
  void onClose(std::function<void()> callback) { onClose_ = std::move(callback); }
  // `callback` is called each time the bytes queued for this response drain to zero, while the response
  // is in progress; with `pendingBytes` it lets a streamer write only while the client keeps up.
  void onDrain(std::function<void()> callback) { onDrain_ = std::move(callback); }
  // Bytes handed to the socket but not yet written to it (0 once the response is finished or closed).
  size_t pendingBytes() const;

  // The request's method as sent ("GET", "HEAD", ...).
  const std::string& method() const { return method_; }
  // The id every answer to this request carries as `X-Couch-Request-ID` (CouchDB's 10 hex characters,
  // or the client's own id when it sent a well-formed one, so its logs and ours can be matched).
  const std::string& requestId() const { return requestId_; }

 private:
  friend class detail::Connection;
  Responder(detail::Connection* connection, std::string method, int httpMinor, bool keepAlive);

  detail::Connection* connection_;  // null once finished or once the connection has closed
  std::string method_;
  std::string requestId_;
  int httpMinor_;
  bool keepAlive_;
  bool head_;
  bool chunked_ = false;
  bool started_ = false;
  bool finished_ = false;
  bool clientGone_ = false;
  std::function<void()> onClose_;
  std::function<void()> onDrain_;
};

// Takes a request body piece by piece as it arrives (de-chunked and inflated), for routes that store a
// body rather than hold it. Loop thread only. The server calls `write` for each piece; a sink that
// returns false is full, and the server reads no more of the body (TCP then slows the client) until the
// sink calls `resume()`. When the whole body has arrived the request goes to the Handler as usual, with
// an empty Request::body; if the connection fails first, the sink is simply dropped.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // The next piece; `piece` is valid for the call only. Return false to stop the flow until `resume()`.
  virtual bool write(std::string_view piece) = 0;
  // Restarts a flow that `write` stopped. Loop thread; a no-op once the connection has gone or the body
  // has ended.
  void resume() {
    if (resume_) resume_();
  }

 private:
  friend class detail::Connection;
  std::function<void()> resume_;  // set by the connection that feeds this sink
};

// What a HeadHandler decides about a request.
struct HeadDecision {
  // Set: the request is answered with this, and its body is never read. A request that has a body then
  // closes its connection after the answer (the unread body leaves it unusable); one without keeps it.
  std::optional<Response> reject;
  // The largest body accepted for this request, counted as Options::maxRequestBodySize is, which it can
  // only lower; 0 keeps that option. A larger body is refused with 413 and `tooLargeReason` (when not empty)
  // as soon as its Content-Length, or its count so far, passes the limit.
  size_t maxBodySize = 0;
  std::string tooLargeReason;
  // Set: the body goes to this sink as it arrives instead of into Request::body.
  std::shared_ptr<BodySink> sink;
  // Handed back in Request::context, so the Handler finds what the hook prepared.
  std::shared_ptr<void> context;
};

class Server {
 public:
  struct Options {
    // Address to bind: an IPv4 or IPv6 literal (not a host name).
    std::string host = "127.0.0.1";
    // TCP port; 0 asks the OS for a free one (read it back with `port()`).
    int port = 5984;
    // Largest request body accepted, counted after de-chunking and after gzip inflation. Larger gets 413
    // and the connection closes. CouchDB's max_http_request_size defaults to 4 GiB; 64 MiB is ours.
    size_t maxRequestBodySize = 64 * 1024 * 1024;
    // Request bodies held whole (Request::body) by all connections together, each from its first byte
    // until its answer is finished. A body that would pass it gets 503 and its connection closes, so many
    // large bodies at once cannot take the node's memory (a 60 MB _bulk_docs costs several times its size
    // while it is parsed and written). Bodies given to a BodySink do not count. 0: no budget. 64 MiB admits
    // one body of max_http_request_size at a time beside many small ones: eight 60 MB _bulk_docs then
    // keep the node near 250 MB, where 128 MiB let two in at once and it passed 500 MB.
    size_t maxBufferedBodyBytes = 64 * 1024 * 1024;
    // Largest request line plus headers; larger gets 431 and the connection closes.
    size_t maxHeaderSize = 64 * 1024;
    // A connection with no request in progress is closed after this long without input.
    uint64_t idleTimeoutMs = 300000;
    // Backlog of not-yet-accepted connections passed to listen(2).
    int backlog = 511;
  };

  // Called on the loop thread once per request, in order per connection. The next request on the same
  // connection is not read until this one's response is finished.
  using Handler = std::function<void(Request&&, std::shared_ptr<Responder>)>;
  // Called on the loop thread with each request's head (Request::body empty), before any of its body is
  // read or an Expect: 100-continue answered. It must call `decide` exactly once, on the loop thread, now
  // or later (after work off the loop); the connection waits for it. A `decide` called after the client
  // has gone does nothing.
  using HeadHandler = std::function<void(const Request& head, std::function<void(HeadDecision)> decide)>;

  // `loop` must outlive the Server. Nothing is bound until `listen()`. Without `onHead`, every request is
  // accepted with the server's limits.
  Server(uv_loop_t* loop, Options options, Handler handler, HeadHandler onHead = {});
  // Only after `close`'s done callback has run: until then libuv still holds pointers into the Server.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts listening. Returns 0 or a libuv error code (e.g. UV_EADDRINUSE).
  [[nodiscard]] int listen();
  // The bound port (useful with port 0), or -1 before a successful listen.
  int port() const;

  // Stops accepting, closes every connection and calls `done` (on the loop thread) once every handle of
  // the server is closed. Functions still queued by `post` run before `done`. Loop thread only.
  void close(std::function<void()> done);

  // Serves connections that `primary` accepts (see "Several loops" above). `this` runs on another loop
  // than the primary and never listens itself; their options should be the same. Call before either
  // loop runs. Close the primary first: a joined server closed while the primary still accepts has the
  // connections handed to it closed at once.
  void join(Server& primary);

  // Runs `fn` on the loop thread, soon. Any thread. After `close()`, `fn` is dropped without being run
  // (destroyed on the calling thread). Functions run in the order they were posted.
  void post(std::function<void()> fn);

  uv_loop_t* loop() const { return loop_; }
  const Options& options() const { return options_; }
  // Open connections (loop thread only); for tests and statistics.
  size_t connectionCount() const { return connections_.size(); }

 private:
  friend class detail::Connection;

  static void onConnection(uv_stream_t* listener, int status);
  // Accepts the pending connection of `listener` and gives its socket to `target`'s loop.
  void handOff(uv_stream_t* listener, Server& target);
  // Queues `socket` for a connection on this loop; any thread. False (the socket is still the caller's)
  // once closed.
  bool adopt(uv_os_sock_t socket);
  void openConnection(uv_os_sock_t socket);
  // The shared body budget (Options::maxBufferedBodyBytes); any of the joined servers' loops.
  bool chargeBodies(size_t n);
  void releaseBodies(size_t n) { bufferedBodies_->fetch_sub(n, std::memory_order_relaxed); }
  static void onAsync(uv_async_t* async);
  static void onHandleClosed(uv_handle_t* handle);
  void runPosted();
  void maybeFinishClose();
  // "Sun, 06 Nov 1994 08:49:37 GMT", recomputed at most once a second.
  const std::string& date();

  uv_loop_t* loop_;
  Options options_;
  Handler handler_;
  HeadHandler onHead_;
  uv_tcp_t listener_;
  uv_async_t async_;
  int initError_ = 0;
  bool listenerOpen_ = false;
  bool asyncOpen_ = false;
  int openHandles_ = 0;  // of listener_ and async_
  bool listening_ = false;
  bool closing_ = false;
  std::vector<std::function<void()>> closeCallbacks_;
  std::unordered_set<detail::Connection*> connections_;

  std::mutex postMutex_;  // guards posted_ and postClosed_
  std::vector<std::function<void()>> posted_;
  bool postClosed_ = false;

  // Bytes held by all connections of this server and those joined to the same primary; see
  // Options::maxBufferedBodyBytes.
  std::shared_ptr<std::atomic<size_t>> bufferedBodies_ = std::make_shared<std::atomic<size_t>>(0);
  std::vector<Server*> joined_;  // on the primary: the servers it hands connections to
  size_t nextTurn_ = 0;          // on the primary: whose turn the next connection is

  std::time_t dateSecond_ = 0;
  std::string date_;
};

}  // namespace settee::http
