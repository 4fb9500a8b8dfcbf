// The socket half of ClientConnection: resolving, connecting, TLS, writing, reading, timers, failure,
// and the connection's lifetime.
#include <algorithm>
#include <cstring>
#include <utility>

#include "http/client_internal.h"

namespace settee::http::detail {

namespace {

struct WriteReq {
  uv_write_t req;
  ClientConnection* connection;
  std::string data;
  std::shared_ptr<const std::string> body;  // kept alive until libuv is done with it
  RequestId exchange = 0;                   // 0 for TLS handshake records
};

ClientErrc connectErrc(int status) {
  switch (status) {
    case UV_ECONNREFUSED:
      return ClientErrc::ConnectionRefused;
    case UV_ETIMEDOUT:
      return ClientErrc::ConnectTimeout;
    default:
      return ClientErrc::NetworkError;
  }
}

}  // namespace

ClientConnection::ClientConnection(ClientImpl* client, Pool* pool, std::unique_ptr<Exchange> first)
    : client_(client), pool_(pool), exchange_(std::move(first)) {
  exchange_->connection = this;
  host_ = exchange_->url.host;
  port_ = exchange_->url.port;
  https_ = exchange_->url.https();
  client_->countOpen();
  uv_timer_init(client_->loop(), &timer_);
  timer_.data = this;
  openHandles_ = 1;
  armExchangeTimer(exchange_->connectTimeoutMs);
  timerUse_ = TimerUse::Connect;
  resolve();
}

void ClientConnection::resolve() {
  sockaddr_storage address{};
  if (uv_ip4_addr(host_.c_str(), port_, reinterpret_cast<sockaddr_in*>(&address)) == 0 ||
      uv_ip6_addr(host_.c_str(), port_, reinterpret_cast<sockaddr_in6*>(&address)) == 0) {
    addresses_.push_back(address);
    connectNext();
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolveReq_.data = this;
  int rc = uv_getaddrinfo(client_->loop(), &resolveReq_, onResolved, host_.c_str(),
                          std::to_string(port_).c_str(), &hints);
  if (rc < 0) {
    failLater({ClientErrc::ResolveFailed, "cannot resolve " + host_ + ": " + uv_strerror(rc)});
    return;
  }
  resolving_ = true;
}

void ClientConnection::onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
  auto* self = static_cast<ClientConnection*>(req->data);
  self->resolving_ = false;
  for (addrinfo* info = res; info; info = info->ai_next) {
    sockaddr_storage address{};
    std::memcpy(&address, info->ai_addr, std::min<size_t>(info->ai_addrlen, sizeof address));
    self->addresses_.push_back(address);
  }
  uv_freeaddrinfo(res);
  if (self->closing_) {
    self->maybeDelete();
    return;
  }
  if (status < 0 || self->addresses_.empty()) {
    self->fail({ClientErrc::ResolveFailed,
                "cannot resolve " + self->host_ + ": " + uv_strerror(status < 0 ? status : UV_EAI_NONAME)});
    return;
  }
  self->connectNext();
}

void ClientConnection::connectNext() {
  // A name may resolve to several addresses ("localhost" to ::1 and 127.0.0.1); a server listening on one
  // of them only is reached by trying each in turn.
  while (nextAddress_ < addresses_.size()) {
    tcp_ = new uv_tcp_t;
    uv_tcp_init(client_->loop(), tcp_);
    tcp_->data = this;
    ++openHandles_;
    uv_tcp_nodelay(tcp_, 1);
    connectReq_.data = this;
    int rc = uv_tcp_connect(&connectReq_, tcp_,
                            reinterpret_cast<const sockaddr*>(&addresses_[nextAddress_++]), onConnected);
    if (rc == 0) return;
    lastConnectError_ = rc;
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_), onClosed);
    tcp_ = nullptr;
  }
  int rc = lastConnectError_ ? lastConnectError_ : UV_EADDRNOTAVAIL;
  failLater(
      {connectErrc(rc), "cannot connect to " + host_ + ":" + std::to_string(port_) + ": " + uv_strerror(rc)});
}

void ClientConnection::onConnected(uv_connect_t* req, int status) {
  auto* self = static_cast<ClientConnection*>(req->data);
  if (status == UV_ECANCELED || self->closing_) return;
  if (status < 0) {
    self->lastConnectError_ = status;
    uv_close(reinterpret_cast<uv_handle_t*>(self->tcp_), onClosed);
    self->tcp_ = nullptr;
    self->connectNext();
    return;
  }
  self->connected();
}

void ClientConnection::connected() {
  // Read from the start, also while idle, so a server closing a pooled connection is noticed at once.
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(tcp_), onAlloc, onRead);
  if (rc < 0) {
    fail({ClientErrc::NetworkError, std::string("cannot read from the socket: ") + uv_strerror(rc)});
    return;
  }
  if (!https_) {
    ready();
    return;
  }
  tls_ = std::make_unique<TlsSession>(client_->tlsContext(), host_, client_->options().verifyPeer);
  bool done = false;
  ClientError error = tls_->handshake(done);
  flushTls();
  if (!error.ok()) {
    fail(std::move(error));
  } else if (done) {
    ready();
  }
}

void ClientConnection::ready() {
  ready_ = true;
  if (exchange_) startExchange();
}

void ClientConnection::assign(std::unique_ptr<Exchange> exchange) {
  exchange_ = std::move(exchange);
  exchange_->connection = this;
  client_->countReuse();
  startExchange();
}

void ClientConnection::startExchange() {
  resetParser();
  gotBytes_ = false;
  requestSent_ = false;
  bodyOffset_ = 0;
  armExchangeTimer(exchange_->readTimeoutMs);
  timerUse_ = TimerUse::Read;
  // A streamed body follows once the head is written (onWritten), so its reader never runs inside
  // `HttpClient::request`.
  writeRaw(exchange_->head, exchange_->body, true);
}

void ClientConnection::sendBodyPiece() {
  Exchange& exchange = *exchange_;
  RequestId id = exchange.id;
  uint64_t offset = bodyOffset_;
  size_t n = static_cast<size_t>(std::min<uint64_t>(kBodyPieceSize, exchange.bodyLength - offset));
  std::string piece(n, '\0');
  ++inCallback_;  // the reader may cancel its own request or close the client
  settee::Result<size_t> got = exchange.bodyReader(offset, piece.data(), n);
  --inCallback_;
  if (closing_ || !exchange_ || exchange_->id != id) return;
  std::string where = "the body of " + exchange.method + " " + exchange.url.redacted() + " at offset " +
                      std::to_string(offset);
  if (!got) {
    fail({ClientErrc::BodyReadFailed, "cannot read " + where + ": " + got.status().reason()});
    return;
  }
  // Nothing before the end would leave the peer waiting for the rest of Content-Length forever.
  if (*got == 0 || *got > n) {
    fail({ClientErrc::BodyReadFailed, "the reader of " + where + " returned " + std::to_string(*got) +
                                          " bytes for " + std::to_string(n) + " asked"});
    return;
  }
  piece.resize(*got);
  bodyOffset_ += *got;
  writeRaw(std::move(piece), nullptr, true);
}

void ClientConnection::flushTls() {
  if (!tls_ || closing_) return;
  std::string out = tls_->takeOutput();
  if (!out.empty()) writeRaw(std::move(out), nullptr, false);
}

void ClientConnection::writeRaw(std::string bytes, std::shared_ptr<const std::string> body, bool isRequest) {
  auto* write = new WriteReq{};
  write->connection = this;
  write->exchange = isRequest ? exchange_->id : 0;
  if (tls_ && isRequest) {  // otherwise `bytes` are TLS records already
    ClientError error = tls_->write(bytes);
    if (error.ok() && body) error = tls_->write(*body);
    if (!error.ok()) {
      delete write;
      failLater(std::move(error));
      return;
    }
    write->data = tls_->takeOutput();
  } else {
    write->data = std::move(bytes);
    if (body && !body->empty()) write->body = std::move(body);
  }
  uv_buf_t bufs[2];
  unsigned count = 0;
  bufs[count++] = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  if (write->body) {
    bufs[count++] =
        uv_buf_init(const_cast<char*>(write->body->data()), static_cast<unsigned>(write->body->size()));
  }
  write->req.data = write;
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp_);
  int rc = uv_write(&write->req, stream, bufs, count, onWritten);
  if (rc == 0) client_->noteWriteQueue(uv_stream_get_write_queue_size(stream));
  if (rc < 0) {
    delete write;
    // Said later, not now: this may run inside `HttpClient::request`, which must not call back.
    pendingError_ = {ClientErrc::ConnectionReset, std::string("cannot send the request: ") + uv_strerror(rc)};
    timerUse_ = TimerUse::Fail;
    uv_timer_start(&timer_, onTimer, 0, 0);
  }
}

void ClientConnection::onWritten(uv_write_t* req, int status) {
  auto* write = static_cast<WriteReq*>(req->data);
  ClientConnection* self = write->connection;
  RequestId exchange = write->exchange;
  delete write;
  if (status == UV_ECANCELED || self->closing_) return;
  if (status < 0) {
    self->fail({ClientErrc::ConnectionReset,
                "cannot send the request to " + self->host_ + ": " + uv_strerror(status)},
               true);
    return;
  }
  if (exchange && self->exchange_ && self->exchange_->id == exchange) {
    // Sending a large body is progress too: the read timeout counts from the last piece written.
    if (self->timerUse_ == TimerUse::Read) self->armExchangeTimer(self->exchange_->readTimeoutMs);
    if (self->exchange_->bodyReader && self->bodyOffset_ < self->exchange_->bodyLength) {
      // Only now, with nothing of this request left in libuv: that is the backpressure which keeps a
      // streamed body at one piece in memory.
      self->sendBodyPiece();
    } else {
      self->requestSent_ = true;
    }
  }
}

void ClientConnection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<ClientConnection*>(handle->data);
  *buf = uv_buf_init(self->readBuffer_, sizeof self->readBuffer_);
}

void ClientConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<ClientConnection*>(stream->data);
  if (nread > 0) {
    self->onBytes(std::string_view(buf->base, static_cast<size_t>(nread)));
  } else if (nread < 0) {
    self->onEndOfStream(static_cast<int>(nread));
  }
}

void ClientConnection::onBytes(std::string_view bytes) {
  if (closing_) return;
  if (!tls_) {
    parse(bytes);
    return;
  }
  tls_->feed(bytes);
  if (!ready_) {
    bool done = false;
    ClientError error = tls_->handshake(done);
    flushTls();
    if (!error.ok()) {
      fail(std::move(error));
      return;
    }
    if (!done) return;
    ready();
    if (closing_) return;
  }
  std::string plain;
  bool closed = false;
  ClientError error = tls_->read(plain, closed);
  flushTls();
  if (!error.ok()) {
    fail(std::move(error));
    return;
  }
  if (!plain.empty()) parse(plain);
  if (closed && !closing_) onEndOfStream(UV_EOF);
}

void ClientConnection::onEndOfStream(int status) {
  if (closing_) return;
  if (!exchange_) {  // a pooled connection the server closed: simply forget it
    close();
    return;
  }
  if (!ready_) {
    fail({https_ ? ClientErrc::TlsFailed : ClientErrc::ConnectionReset,
          "the connection to " + host_ + " closed during the TLS handshake"});
    return;
  }
  if (status == UV_EOF && gotBytes_) {
    // A response without a length ends with the connection; llhttp needs to be told.
    llhttp_errno_t rc = llhttp_finish(&parser_);
    if (closing_ || !exchange_) return;
    if ((rc == HPE_OK || rc == HPE_PAUSED) && messageDone_) {
      finishExchange(false);
      return;
    }
  }
  std::string what = gotBytes_ ? "closed the connection before the response was complete"
                               : "closed the connection without answering";
  if (status != UV_EOF) what += std::string(" (") + uv_strerror(status) + ")";
  ClientErrc code = status == UV_EOF || status == UV_ECONNRESET || status == UV_EPIPE
                        ? ClientErrc::ConnectionReset
                        : ClientErrc::NetworkError;
  fail({code, host_ + ":" + std::to_string(port_) + " " + what}, true);
}

void ClientConnection::armTimer(uint64_t ms) {
  uv_timer_stop(&timer_);
  if (ms > 0) uv_timer_start(&timer_, onTimer, ms, 0);
}

void ClientConnection::armExchangeTimer(uint64_t ms) {
  const uint64_t deadline = exchange_ ? exchange_->deadline : 0;
  if (deadline) {
    const uint64_t now = uv_now(client_->loop());
    const uint64_t left = deadline > now ? deadline - now : 1;  // 0 would mean no timer at all
    ms = ms ? std::min(ms, left) : left;
  }
  armTimer(ms);
}

bool ClientConnection::pastDeadline() const {
  return exchange_ && exchange_->deadline && uv_now(client_->loop()) >= exchange_->deadline;
}

void ClientConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<ClientConnection*>(timer->data);
  if (self->closing_) return;
  if (!self->exchange_ && self->timerUse_ != TimerUse::Idle && self->timerUse_ != TimerUse::Fail) return;
  std::string where = self->host_ + ":" + std::to_string(self->port_);
  if ((self->timerUse_ == TimerUse::Connect || self->timerUse_ == TimerUse::Read) && self->pastDeadline()) {
    const Exchange& e = *self->exchange_;
    self->fail({ClientErrc::ReadTimeout, "the answer to " + e.method + " " + e.url.redacted() +
                                             " did not end within " + std::to_string(e.deadlineMs) + " ms"});
    return;
  }
  switch (self->timerUse_) {
    case TimerUse::Connect:
      self->fail({ClientErrc::ConnectTimeout, "connecting to " + where + " timed out after " +
                                                  std::to_string(self->exchange_->connectTimeoutMs) + " ms"});
      break;
    case TimerUse::Read:
      self->fail({ClientErrc::ReadTimeout, "no data from " + where + " for " +
                                               std::to_string(self->exchange_->readTimeoutMs) + " ms"});
      break;
    case TimerUse::Idle:
      self->close();
      break;
    case TimerUse::Fail:
      self->fail(std::move(self->pendingError_));
      break;
    case TimerUse::None:
      break;
  }
}

void ClientConnection::failLater(ClientError error) {
  pendingError_ = std::move(error);
  timerUse_ = TimerUse::Fail;
  uv_timer_stop(&timer_);
  uv_timer_start(&timer_, onTimer, 0, 0);
}

void ClientConnection::fail(ClientError error, bool retryable) {
  std::unique_ptr<Exchange> exchange = std::move(exchange_);
  close();
  if (!exchange) return;
  exchange->connection = nullptr;
  // The one case worth a silent retry: a pooled connection the server had closed just as we reused it.
  // Nothing of an answer came, so nothing was half-delivered; and either the method may safely be repeated
  // or the request never fully left.
  if (retryable && reused_ && !gotBytes_ && !exchange->retried && (exchange->idempotent || !requestSent_) &&
      !client_->closing()) {
    client_->requeue(std::move(exchange), pool_);
    return;
  }
  exchange->fail(std::move(error));
  // A user callback of this exchange may still be on the stack (it cancelled its own request).
  if (inCallback_ > 0) retired_ = std::move(exchange);
}

void ClientConnection::abort(ClientError error) { fail(std::move(error), false); }

void ClientConnection::finishExchange(bool keepAlive) {
  if (inflater_ && inflater_->finish() != GzipInflater::Result::Ok) {
    fail({ClientErrc::ProtocolError, "the gzip body from " + host_ + " is truncated"});
    return;
  }
  // A server that answered before reading the whole request would read the rest as the next request.
  if (!requestSent_) keepAlive = false;
  std::unique_ptr<Exchange> exchange = std::move(exchange_);
  exchange->connection = nullptr;
  reused_ = true;
  if (keepAlive && !client_->closing()) {
    armTimer(client_->options().idleConnectionTimeoutMs);
    timerUse_ = TimerUse::Idle;
    // Back in the pool before the callback runs, so a request made from the callback can reuse it.
    client_->connectionReady(this);
  } else {
    close();
  }
  exchange->complete();
}

void ClientConnection::close() {
  if (closing_) return;
  closing_ = true;
  ready_ = false;
  client_->connectionClosing(this);
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onClosed);
  if (tcp_) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_), onClosed);
    tcp_ = nullptr;
  }
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolveReq_));
}

void ClientConnection::onClosed(uv_handle_t* handle) {
  auto* self = static_cast<ClientConnection*>(handle->data);
  if (handle->type == UV_TCP) delete reinterpret_cast<uv_tcp_t*>(handle);
  --self->openHandles_;
  self->maybeDelete();
}

void ClientConnection::maybeDelete() {
  if (!closing_ || openHandles_ > 0 || resolving_) return;
  client_->connectionDeleted(this);
  delete this;
}

}  // namespace settee::http::detail
