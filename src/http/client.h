// http/client.h — the HTTP/1.1 client the replicator uses to talk to remote CouchDB-compatible peers
// (Apache CouchDB, pouchdb-server, other Settee nodes). Transport only: it knows nothing of replication.
//
// What it does. An HttpClient sends requests to http:// and https:// URLs over a libuv loop. It keeps a
// pool of keep-alive connections per origin (scheme, host, port), at most `maxConnectionsPerOrigin` of
// them; a request beyond that waits in a queue for the first connection to come free. Responses may be
// Content-Length, chunked or read-until-close; a `Content-Encoding: gzip` body is inflated. A request can
// be buffered (`request`: the whole body in a ClientResponse) or streamed (`stream`: the body in pieces as
// it arrives, so a continuous `_changes` feed or a large attachment is never held whole).
//
// Request bodies. A body is either held whole in `ClientRequest::body`, or streamed from a
// `bodyReader` that is asked for the next piece (kBodyPieceSize bytes at most) only once the socket has
// taken the previous one, so an attachment of hundreds of MB is read from its file piece by piece and
// never held in memory. Both are sent with a Content-Length. The read timeout counts from the last piece
// written: a peer that keeps reading the body is making progress, one that stops reading times out.
//
// THREADING RULE. Loop thread only: construct the client, call every method, and destroy it on the thread
// that runs `loop`. Every callback runs on that thread, from inside uv_run. There is no locking.
//
// Callbacks (libuv's rule). When `request` or `stream` returns an error, no callback of that request is
// ever called. Otherwise exactly one final callback is called, never from inside the call that started the
// request: `done` for `request`; `onComplete` or `onError` for `stream`, after at most one `onHeaders` and
// any number of `onData`. Failures are ClientError values (a code and a message), never exceptions. A
// callback (a `bodyReader` included) may start requests, `cancel` any request (its own included) and
// `close` the client; it must not destroy the client.
//
// Ownership. The caller owns the loop and the client; the client owns its sockets, timers, TLS state and
// the functions it was given, until their request ends. Views passed to a callback (a data chunk, a
// ResponseHead) are valid only during that call.
//
// Lifetime. `close(done)` fails every queued and in-flight request with Cancelled, closes every
// connection, and calls `done` once the client has no handle left on the loop. Only then may the client
// be destroyed (and `uv_loop_close` succeed). The loop must outlive the client.
//
// SIGPIPE. libuv writes with write(2), so a peer that has gone away raises SIGPIPE; a program using the
// client must ignore that signal (`signal(SIGPIPE, SIG_IGN)`), as it must for libuv's server.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/client_url.h"
#include "http/response.h"
#include "settee/status.h"

namespace settee::http {

namespace detail {
class ClientImpl;
}

enum class ClientErrc {
  Ok = 0,
  InvalidRequest,       // a bad header, an unsupported scheme, or the client is closing
  ResolveFailed,        // the host name did not resolve
  ConnectionRefused,    // nothing listens on the port
  ConnectTimeout,       // resolve + TCP connect + TLS handshake took longer than the connect timeout
  ReadTimeout,          // no byte of the response arrived for the read timeout
  TlsFailed,            // the TLS handshake or a TLS record failed (not a certificate problem)
  CertificateRejected,  // the peer's certificate did not verify, or is not for this host
  ProtocolError,        // a malformed response, or a corrupt gzip body
  ConnectionReset,      // the peer closed or reset the connection before the response was complete
  NetworkError,         // any other socket error
  TooLarge,             // a buffered response body passed ClientOptions::maxBufferedBodySize
  Cancelled,            // `cancel` or `close`
  BodyReadFailed,       // a `bodyReader` returned an error, nothing, or more than it was asked for
};

// The most a `bodyReader` is asked for at once: large enough that a fast link is kept busy with few
// system calls, small enough that a request in flight holds little memory.
inline constexpr size_t kBodyPieceSize = 64 * 1024;

// "connection_refused", "read_timeout", ... for logs.
const char* clientErrcName(ClientErrc code);

struct ClientError {
  ClientErrc code = ClientErrc::Ok;
  std::string message;  // for people; says which host and why, never the password

  bool ok() const { return code == ClientErrc::Ok; }
};

struct ClientRequest {
  std::string method = "GET";
  Url url;
  // Sent as given, in order. The client adds Host, Content-Length, User-Agent (unless given),
  // `Authorization: Basic` from the URL's userinfo (unless given) and `Accept-Encoding: gzip` (when
  // `acceptGzip`, unless given). Host, Content-Length and Transfer-Encoding given here are ignored.
  Headers headers;
  std::string body;  // sent with a Content-Length; fine up to a few MB
  // A body too large to hold: `bodyLength` bytes, read in pieces by `bodyReader(offset, buf, n)` as the
  // socket takes them (on the loop thread; at most one piece in flight, so memory stays at one piece). It
  // copies up to n bytes of the body starting at `offset` into buf and returns how many (> 0 unless n == 0),
  // or an error, which ends the request with ClientErrc::BodyReadFailed and closes the connection. Sent with
  // Content-Length: bodyLength. When set, `body` must be empty. The reader may be called again from offset 0
  // if the client re-sends the request on a fresh connection. `buf` is valid during the call only; n is at
  // most kBodyPieceSize, and the reader is never called for a `bodyLength` of 0.
  std::function<settee::Result<size_t>(uint64_t offset, char* buf, size_t n)> bodyReader;
  uint64_t bodyLength = 0;
  bool acceptGzip = false;
  // Overrides of ClientOptions' timeouts for this request; 0 means no timeout. A continuous feed with a
  // heartbeat sets readTimeoutMs a little above the heartbeat, so a dead peer is noticed.
  std::optional<uint64_t> connectTimeoutMs;
  std::optional<uint64_t> readTimeoutMs;
  // The whole exchange (connecting, sending, every byte of the answer) must end within this many ms; 0 = no
  // limit. The read timeout restarts with every byte, so a peer that trickles bytes for ever (a normal
  // feed padded with newlines) never trips it; this does. Fails with ReadTimeout.
  uint64_t deadlineMs = 0;
  // `request` only: the most body bytes (inflated) to buffer for this answer; 0 = the client's
  // maxBufferedBodySize. A Content-Length over it fails at once, before any of the body is read; a body
  // without one fails when it passes it. Fails with TooLarge, naming the request.
  size_t maxBodySize = 0;
};

// The status line and headers, as they came (a gzip body is inflated, yet Content-Encoding and
// Content-Length still describe what was on the wire).
struct ResponseHead {
  int status = 0;
  Headers headers;
  const std::string* header(std::string_view name) const { return findHeader(headers, name); }
};

struct ClientResponse {
  // When not ok, `status`, `headers` and `body` hold whatever had arrived (but a TooLarge body is
  // dropped: it is useless, and the memory is what the bound was for).
  ClientError error;
  int status = 0;
  Headers headers;
  std::string body;  // inflated when the response was gzip

  bool ok() const { return error.ok(); }
  const std::string* header(std::string_view name) const { return findHeader(headers, name); }
};

// The callbacks of a streamed request. Any may be empty. `onData` never receives an empty chunk.
struct StreamHandlers {
  std::function<void(const ResponseHead& head)> onHeaders;
  std::function<void(std::string_view chunk)> onData;  // the view lives for the call only
  std::function<void()> onComplete;
  std::function<void(const ClientError& error)> onError;
};

struct ClientOptions {
  // At most this many connections per origin; CouchDB's replicator uses 20 (`http_connections`).
  size_t maxConnectionsPerOrigin = 20;
  // Resolve + TCP connect + TLS handshake; 0 = none. CouchDB's `connection_timeout` is 30 s.
  uint64_t connectTimeoutMs = 30000;
  // A request fails when no byte arrives for this long while it waits for its response; 0 = none.
  uint64_t readTimeoutMs = 30000;
  // An idle pooled connection is closed after this long unused, before the server's own idle timeout
  // is likely to close it under us.
  uint64_t idleConnectionTimeoutMs = 30000;
  // The largest body `request` will buffer (ClientRequest::maxBodySize sets a request's own); `stream` has
  // no limit, which is why it exists.
  size_t maxBufferedBodySize = 256 * 1024 * 1024;
  // The largest status line plus headers accepted.
  size_t maxHeaderSize = 256 * 1024;
  // TLS: trust only the CA certificates in this PEM file instead of the system store.
  std::string caFile;
  // TLS: verify the peer's certificate chain and host name. Turn off only for testing.
  bool verifyPeer = true;
  // Sent unless a request gives its own.
  std::string userAgent = "Settee/0.1.0";
};

using RequestId = uint64_t;

class HttpClient {
 public:
  // `loop` must outlive the client. Creates no connection until a request needs one.
  explicit HttpClient(uv_loop_t* loop, ClientOptions options = {});
  // Only after `close`'s done callback has run: until then libuv holds pointers into the client.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `req` and calls `done` once with the whole response or an error. A non-2xx status is not an
  // error: it is in `status`. Returns an error (and never calls `done`) if the request cannot be started:
  // a header with CR/LF, both a `body` and a `bodyReader`, a TLS configuration that cannot load, or a
  // closing client. `id`, if given, receives an id for `cancel`.
  [[nodiscard]] ClientError request(ClientRequest req, std::function<void(ClientResponse)> done,
                                    RequestId* id = nullptr);
  // As `request`, but the response is delivered as it arrives through `handlers`.
  [[nodiscard]] ClientError stream(ClientRequest req, StreamHandlers handlers, RequestId* id = nullptr);

  // Ends a request with a Cancelled error: its final callback runs before `cancel` returns. Returns false
  // (and calls nothing) if the request already ended. A connection with a cancelled response in flight is
  // closed, not reused.
  bool cancel(RequestId id);

  // See "Lifetime" above. Calling it again before `done` adds another callback.
  void close(std::function<void()> done);

  struct Stats {
    uint64_t connectionsOpened = 0;  // TCP connections started since the client was made
    uint64_t requestsOnReusedConnections = 0;
    size_t openConnections = 0;  // connecting, busy or idle
    size_t idleConnections = 0;
    size_t queuedRequests = 0;  // waiting for a connection of their origin
    // The most bytes ever left in one connection's libuv write queue just after a write was handed to it.
    // A streamed body keeps this near kBodyPieceSize however large the body; a `body` string can reach
    // its whole size.
    size_t maxQueuedWriteBytes = 0;
  };
  Stats stats() const;

  uv_loop_t* loop() const;
  const ClientOptions& options() const;

 private:
  std::unique_ptr<detail::ClientImpl> impl_;
};

}  // namespace settee::http
