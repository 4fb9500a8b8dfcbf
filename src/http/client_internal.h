// http/client_internal.h — the parts of HttpClient behind its interface: the per-request Exchange, the
// per-origin Pool, the ClientConnection that owns a socket and an llhttp response parser, and the
// TlsSession that encrypts through memory BIOs. Loop thread only, like the client.
//
// Who owns what. ClientImpl owns the Pools, every ClientConnection (raw pointers in `connections_`,
// deleted once the connection's handles are closed) and every Exchange that waits in a Pool queue. A
// ClientConnection owns the Exchange it is serving. An Exchange owns the user's callbacks and a shared,
// immutable copy of the request body, so a write still in flight never points into freed memory; a
// streamed body's piece in flight is owned by its write request, and how far the body has been read is
// the connection's (`bodyOffset_`), so a retry on another connection starts it again from 0.
#pragma once

#include <llhttp.h>
#include <openssl/ssl.h>
#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "http/client.h"
#include "http/gzip_inflater.h"

namespace settee::http::detail {

class ClientConnection;
class ClientImpl;

// One request from `request`/`stream` until its final callback.
struct Exchange {
  ClientImpl* owner = nullptr;
  RequestId id = 0;
  std::string method;
  Url url;
  std::string head;                         // request line and headers, ready to send
  std::shared_ptr<const std::string> body;  // shared with writes in flight
  // A streamed body (ClientRequest::bodyReader): when set, `body` is empty.
  std::function<settee::Result<size_t>(uint64_t, char*, size_t)> bodyReader;
  uint64_t bodyLength = 0;
  bool idempotent = false;
  uint64_t connectTimeoutMs = 0;
  uint64_t readTimeoutMs = 0;
  uint64_t deadline = 0;    // loop time (uv_now) by which the exchange must end; 0 = none
  uint64_t deadlineMs = 0;  // as asked, for messages
  size_t maxBodySize = 0;   // a buffered body's limit

  bool buffered = false;  // `request`: gather the body into `response` and call `done`
  std::function<void(ClientResponse)> done;
  StreamHandlers handlers;
  ClientResponse response;

  bool retried = false;                    // already sent once on a connection that failed under it
  bool needFresh = false;                  // the retry must not use an idle connection
  ClientConnection* connection = nullptr;  // serving it, or null while it waits in its Pool

  // The final callbacks; each runs at most once between them.
  void complete();
  void fail(ClientError error);
};

struct Pool {
  std::string key;                      // Url::origin()
  size_t open = 0;                      // connections of this origin not yet closing, in any state
  std::vector<ClientConnection*> idle;  // most recently used last
  std::deque<std::unique_ptr<Exchange>> waiting;
  bool dispatching = false;  // guards `ClientImpl::dispatch` against re-entry
};

// TLS over memory BIOs: ciphertext from the socket goes in with `feed`, ciphertext to send comes out
// of `takeOutput`; the socket itself stays libuv's.
class TlsSession {
 public:
  // `host` is checked against the certificate (as a name, or as an IP address for a literal) and sent
  // as SNI when it is a name.
  TlsSession(SSL_CTX* ctx, const std::string& host, bool verify);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Advances the handshake; `done` becomes true once it has finished.
  [[nodiscard]] ClientError handshake(bool& done);
  void feed(std::string_view cipher);
  // Appends every decrypted byte available to `plain`; `closed` becomes true on the peer's close_notify.
  [[nodiscard]] ClientError read(std::string& plain, bool& closed);
  [[nodiscard]] ClientError write(std::string_view plain);
  std::string takeOutput();

 private:
  ClientError failure(const char* what);

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // network -> SSL; owned by ssl_
  BIO* out_ = nullptr;  // SSL -> network; owned by ssl_
  std::string host_;
};

// Makes the client's SSL_CTX from its options. Returns null and sets `error` on failure.
SSL_CTX* makeTlsContext(const ClientOptions& options, ClientError& error);

// One TCP (or TLS) connection to one origin, serving one Exchange at a time.
class ClientConnection {
 public:
  // Starts resolving and connecting at once, for `first`.
  ClientConnection(ClientImpl* client, Pool* pool, std::unique_ptr<Exchange> first);
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Serves `exchange` on this idle, connected connection.
  void assign(std::unique_ptr<Exchange> exchange);
  // Ends the exchange in progress (if any) with `error`, without retrying, and closes.
  void abort(ClientError error);
  // Closes the socket and timers; the object deletes itself once they are closed. Idempotent.
  void close();

  Pool* pool() const { return pool_; }
  bool closing() const { return closing_; }
  bool idle() const { return ready_ && !exchange_ && !closing_; }

 private:
  ~ClientConnection() = default;  // only through close()

  // client_connection.cc: sockets, timers, lifetime.
  void resolve();
  static void onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
  void connectNext();
  static void onConnected(uv_connect_t* req, int status);
  void connected();
  void ready();
  void startExchange();
  void writeRaw(std::string bytes, std::shared_ptr<const std::string> body, bool isRequest);
  void sendBodyPiece();  // reads the next piece of a streamed body and writes it
  void flushTls();
  static void onWritten(uv_write_t* req, int status);
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void onBytes(std::string_view bytes);
  void onEndOfStream(int status);
  void armTimer(uint64_t ms);
  // armTimer for the exchange's connect or read timeout, cut short by its deadline.
  void armExchangeTimer(uint64_t ms);
  bool pastDeadline() const;
  static void onTimer(uv_timer_t* timer);
  static void onClosed(uv_handle_t* handle);
  void maybeDelete();
  // Ends the exchange with `error`; retries it once on a fresh connection when `retryable` and safe.
  void fail(ClientError error, bool retryable = false);
  void failLater(ClientError error);
  void finishExchange(bool keepAlive);

  // client_response.cc: llhttp and the body.
  void resetParser();
  void parse(std::string_view plain);
  static const llhttp_settings_t& parserSettings();
  static int onMessageBegin(llhttp_t* parser);
  static int onHeaderField(llhttp_t* parser, const char* at, size_t length);
  static int onHeaderValue(llhttp_t* parser, const char* at, size_t length);
  static int onHeaderValueComplete(llhttp_t* parser);
  static int onHeadersComplete(llhttp_t* parser);
  static int onBody(llhttp_t* parser, const char* at, size_t length);
  static int onMessageComplete(llhttp_t* parser);
  bool deliver(std::string_view decoded);  // false once the exchange has gone
  // The error for an exchange whose buffered body passed its limit; drops the body.
  ClientError tooLarge(const std::string& why);

  ClientImpl* client_;
  Pool* pool_;
  std::string host_;  // of the origin, for connecting, TLS and messages
  int port_ = 0;
  bool https_ = false;
  std::unique_ptr<Exchange> exchange_;
  std::unique_ptr<Exchange> retired_;  // an exchange ended while its own callback was still running

  uv_timer_t timer_;
  uv_tcp_t* tcp_ = nullptr;  // one per connect attempt; freed in its close callback
  uv_getaddrinfo_t resolveReq_;
  uv_connect_t connectReq_;
  std::vector<sockaddr_storage> addresses_;
  size_t nextAddress_ = 0;
  int lastConnectError_ = 0;
  std::unique_ptr<TlsSession> tls_;
  ClientError pendingError_;  // reported from the timer, so no failure is reported synchronously

  int openHandles_ = 0;
  bool resolving_ = false;
  bool ready_ = false;  // connected, handshake done
  bool closing_ = false;
  bool reused_ = false;  // has served an exchange before the current one
  int inCallback_ = 0;   // > 0 while a user callback runs from inside the parser
  enum class TimerUse { None, Connect, Read, Idle, Fail } timerUse_ = TimerUse::None;

  // The response being parsed.
  llhttp_t parser_;
  std::string field_, value_;
  Headers headers_;
  char readBuffer_[64 * 1024];
  size_t headerBytes_ = 0;
  bool interim_ = false;  // a 1xx response, skipped
  bool messageDone_ = false;
  bool keepAlive_ = false;
  bool gotBytes_ = false;     // any byte of the response arrived
  bool requestSent_ = false;  // the whole request was written
  uint64_t bodyOffset_ = 0;   // bytes of a streamed body read from its reader and handed to the socket
  std::unique_ptr<GzipInflater> inflater_;
  std::string decoded_;
};

class ClientImpl {
 public:
  ClientImpl(uv_loop_t* loop, ClientOptions options);

  ClientError start(ClientRequest req, std::unique_ptr<Exchange> exchange, RequestId* id);
  bool cancel(RequestId id);
  void close(std::function<void()> done);
  HttpClient::Stats stats() const;

  // For ClientConnection.
  uv_loop_t* loop() const { return loop_; }
  const ClientOptions& options() const { return options_; }
  SSL_CTX* tlsContext() const { return tls_; }
  void connectionReady(ClientConnection* connection);            // idle now: reuse, queue or keep it
  void connectionClosing(ClientConnection* connection);          // stop counting it
  void connectionDeleted(ClientConnection* connection);          // its memory is gone
  void requeue(std::unique_ptr<Exchange> exchange, Pool* pool);  // a retry, at the front
  static void onCloserClosed(uv_handle_t* handle);
  void finished(RequestId id) { exchanges_.erase(id); }
  void countReuse() { ++stats_.requestsOnReusedConnections; }
  void countOpen() { ++stats_.connectionsOpened; }
  void noteWriteQueue(size_t bytes) {
    stats_.maxQueuedWriteBytes = std::max(stats_.maxQueuedWriteBytes, bytes);
  }
  bool closing() const { return closing_; }

  bool closed() const { return closed_; }
  ~ClientImpl();

 private:
  void dispatch(Pool& pool);
  void maybeFinishClose();

  uv_loop_t* loop_;
  ClientOptions options_;
  SSL_CTX* tls_ = nullptr;
  uv_timer_t closer_;  // the client's one handle of its own, closed last so `close` is always async
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools_;
  std::unordered_set<ClientConnection*> connections_;
  std::unordered_map<RequestId, Exchange*> exchanges_;
  RequestId nextId_ = 1;
  bool closing_ = false;
  bool closed_ = false;
  bool closerClosing_ = false;
  std::vector<std::function<void()>> closeCallbacks_;
  HttpClient::Stats stats_;
};

}  // namespace settee::http::detail
