// The reading half of Connection: its lifetime, the socket's input, llhttp's callbacks, and handing each
// complete request to the handler. What happens between a head and its end (the head hook, the body
// kept or streamed, the framing checks) is in connection_body.cc; the answering half is in
// connection_respond.cc.
#include "http/connection.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "db/crypto.h"
#include "http/server.h"

namespace settee::http::detail {

namespace {

// Input buffered while a request is in flight before we stop reading: enough for a few pipelined
// requests, small enough that a client streaming a body at us meets TCP flow control instead of our heap.
constexpr size_t kBusyInputLimit = 64 * 1024;

}  // namespace

Connection::Connection(Server* server) : server_(server) {
  uv_tcp_init(server->loop_, &tcp_);
  uv_timer_init(server->loop_, &timer_);
  tcp_.data = this;
  timer_.data = this;
  llhttp_init(&parser_, HTTP_REQUEST, &parserSettings());
  parser_.data = this;
  self_ = std::make_shared<Connection*>(this);
}

void Connection::start(uv_stream_t* listener) {
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    close();
    return;
  }
  begin();
}

void Connection::start(uv_os_sock_t socket) {
  if (uv_tcp_open(&tcp_, socket) != 0) {
    ::close(socket);  // not the handle's yet, so closing the handle would not close it
    close();
    return;
  }
  begin();
}

void Connection::begin() {
  // Requests and answers are small and interactive; Nagle would hold the last segment of each.
  uv_tcp_nodelay(&tcp_, 1);
  // Lets the kernel notice a peer that vanished without a FIN while we wait on a long feed.
  uv_tcp_keepalive(&tcp_, 1, 60);
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    char ip[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET6) {
      uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&addr), ip, sizeof ip);
    } else {
      uv_ip4_name(reinterpret_cast<sockaddr_in*>(&addr), ip, sizeof ip);
    }
    peer_ = ip;
  }
  armIdleTimer();
  updateReading();
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  releaseBody();
  *self_ = nullptr;
  if (sink_) sink_->resume_ = nullptr;
  sink_.reset();
  if (Responder* responder = current_) {
    current_ = nullptr;
    responder->connection_ = nullptr;
    responder->clientGone_ = true;
    // Taken out of the Responder before the call: the callback may drop the last reference to it, and a
    // callback that captured the Responder would otherwise keep it alive in a cycle.
    auto onClose = std::move(responder->onClose_);
    responder->onClose_ = nullptr;
    auto onDrain = std::move(responder->onDrain_);
    responder->onDrain_ = nullptr;
    if (onClose) onClose();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onClosed);
}

void Connection::onClosed(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (--self->openHandles_ > 0) return;
  Server* server = self->server_;
  server->connections_.erase(self);
  delete self;
  server->maybeFinishClose();  // may destroy the Server, so it comes last
}

// ---- reading and parsing ----

void Connection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  *buf = uv_buf_init(self->readBuffer_, sizeof self->readBuffer_);
}

void Connection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread == 0 || self->closing_) return;
  if (nread < 0) {
    // libuv has stopped reading. A client that hangs up while its request is in flight has gone away;
    // one that hangs up after its answer may still be owed the unsent part of it.
    self->reading_ = false;
    self->eof_ = true;
    if (nread == UV_EOF && !self->current_ && !self->lingering_ && self->queuedBytes_ > 0) {
      self->closeAfterFlush();
    } else {
      self->close();
    }
    return;
  }
  if (self->closeAfterFlush_ || self->lingering_) return;  // discarding what follows an error answer
  self->input_.append(buf->base, static_cast<size_t>(nread));
  if (self->current_ || self->resumeOnDrain_ || self->awaitingHead_ || self->sinkFull_) {
    self->updateReading();  // keep it for later; stop reading if it piles up
    return;
  }
  self->armIdleTimer();
  self->drive();
}

void Connection::updateReading() {
  // While a request is in flight (or its answer waits to drain) nothing is parsed, so input only piles up.
  const bool parsing = !current_ && !resumeOnDrain_ && !awaitingHead_ && !sinkFull_;
  const bool want =
      !closing_ && !eof_ && (lingering_ || closeAfterFlush_ || parsing || input_.size() < kBusyInputLimit);
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (want && !reading_) {
    if (uv_read_start(stream, onAlloc, onRead) == 0) {
      reading_ = true;
    } else {
      close();
    }
  } else if (!want && reading_ && !closing_) {
    uv_read_stop(stream);
    reading_ = false;
  }
}

// Framing is strict where a lenient reading would let a proxy in front of us and this server disagree on
// where a request ends (request smuggling). llhttp 8 refuses most such shapes itself (Content-Length with
// Transfer-Encoding, differing Content-Lengths, a last coding other than chunked, spaces before a colon),
// but in its default build it accepts any two bytes after a chunk's data, a bare LF ending a request line
// or the head, and obs-fold continuation lines. Those three are checked on the bytes we hand it: here,
// and in onBody (connection_body.cc).
void Connection::drive() {
  if (driving_ || closing_) return;  // the drive() further up the stack picks up where this left off
  driving_ = true;
  while (!closing_ && !current_ && !closeAfterFlush_ && !resumeOnDrain_ && !awaitingHead_ && !sinkFull_ &&
         (!input_.empty() || parseOwed_)) {
    parseOwed_ = false;
    const char* data = input_.data();
    const char* end = data + input_.size();
    if (!checkChunkEnd(data, end)) {
      badFraming("Expected CRLF after chunk");
      break;
    }
    const bool head = inHead_;
    executeEnd_ = end;
    llhttp_errno_t error = llhttp_execute(&parser_, data, input_.size());
    executeEnd_ = nullptr;
    size_t consumed = input_.size();
    if (error == HPE_PAUSED) {  // paused at the end of a head, by a full sink, or at the end of a request
      consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
      llhttp_resume(&parser_);
    } else if (error != HPE_OK) {
      input_.clear();
      failParse(error);
      break;
    }
    // A head ends with the pause in onHeadersComplete, so what a head-phase call consumed is all head.
    if (head && !checkHeadBytes(std::string_view(data, consumed))) break;
    if (consumed >= 2) {
      last_[0] = data[consumed - 2];
      last_[1] = data[consumed - 1];
    } else if (consumed == 1) {
      last_[0] = last_[1];
      last_[1] = data[0];
    }
    // The empty line that ends a chunked body's trailers: llhttp takes a bare LF there too.
    if (messageDone_ && chunked_ && !(last_[0] == '\r' && last_[1] == '\n')) {
      badFraming("Expected CRLF after the last chunk");
      break;
    }
    input_.erase(0, consumed);
    if (headReady_) headParsed();
    if (messageDone_) dispatch();
  }
  driving_ = false;
  updateReading();
}

void Connection::dispatch() {
  messageDone_ = false;
  if (rejectStatus_) {
    sendError(rejectStatus_, rejectError_, rejectReason_, keepAlive_);
    return;
  }
  if (headReject_) {
    Response refused = std::move(*headReject_);
    headReject_.reset();
    newResponder(keepAlive_)->send(std::move(refused));
    return;
  }
  request_.peer = peer_;
  std::shared_ptr<Responder> responder = newResponder(keepAlive_);
  Request request = std::move(request_);
  request_ = Request();
  try {
    server_->handler_(std::move(request), responder);
  } catch (const std::exception& e) {
    // A handler should turn its failures into responses; this keeps one that did not from taking the
    // whole server down.
    if (!responder->started()) responder->send(Response::error(500, "internal_server_error", e.what()));
  }
}

void Connection::failParse(llhttp_errno_t error) {
  if (rejectStatus_) {
    sendError(rejectStatus_, rejectError_, rejectReason_, false);
    return;
  }
  const char* reason = llhttp_get_error_reason(&parser_);
  sendError(400, "bad_request", reason && *reason ? reason : llhttp_errno_name(error), false);
}

void Connection::sendError(int status, std::string_view error, std::string_view reason, bool keepAlive) {
  newResponder(keepAlive)->send(Response::error(status, error, reason));
}

namespace {

// CouchDB's chttpd makes a nonce of 5 random bytes in hex for each request. A client's own id is
// echoed when it is short and made of token characters only (it goes into a header as it is).
std::string requestIdFor(const Request& request) {
  if (const std::string* sent = request.header("X-Couch-Request-ID")) {
    bool wellFormed = !sent->empty() && sent->size() <= 64;
    for (char c : *sent)
      wellFormed = wellFormed && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                  (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.');
    if (wellFormed) return *sent;
  }
  return db::randomHex(5);
}

}  // namespace

std::shared_ptr<Responder> Connection::newResponder(bool keepAlive) {
  std::shared_ptr<Responder> responder(new Responder(this, request_.method, request_.httpMinor, keepAlive));
  responder->requestId_ = requestIdFor(request_);
  current_ = responder.get();
  uv_timer_stop(&timer_);  // a handler may take as long as it needs; the idle timeout is for the client
  return responder;
}

int Connection::reject(int status, std::string error, std::string reason) {
  rejectStatus_ = status;
  rejectError_ = std::move(error);
  rejectReason_ = std::move(reason);
  return HPE_USER;
}

const llhttp_settings_t& Connection::parserSettings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = onMessageBegin;
    s.on_url = onUrl;
    s.on_header_field = onHeaderField;
    s.on_header_value = onHeaderValue;
    s.on_header_value_complete = onHeaderValueComplete;
    s.on_headers_complete = onHeadersComplete;
    s.on_chunk_header = onChunkHeader;
    s.on_body = onBody;
    s.on_message_complete = onMessageComplete;
    return s;
  }();
  return settings;
}

int Connection::onMessageBegin(llhttp_t* parser) {
  auto* self = static_cast<Connection*>(parser->data);
  self->request_ = Request();
  self->field_.clear();
  self->value_.clear();
  self->headerBytes_ = 0;
  self->rawBodyBytes_ = 0;
  self->inflater_.reset();
  self->keepAlive_ = true;
  self->messageDone_ = false;
  self->rejectStatus_ = 0;
  self->chunked_ = false;
  self->chunkLeft_ = 0;
  self->headReady_ = false;
  self->hasBody_ = false;
  self->gzip_ = false;
  self->expectContinue_ = false;
  self->bodyLimit_ = self->server_->options_.maxRequestBodySize;
  self->tooLargeReason_ = "the request entity is too large";
  self->headReject_.reset();
  if (self->sink_) self->sink_->resume_ = nullptr;
  self->sink_.reset();
  self->sinkFull_ = false;
  self->gzipPending_.clear();
  self->inflatedBytes_ = 0;
  return 0;
}

int Connection::countHeaderBytes(size_t length) {
  headerBytes_ += length;
  if (headerBytes_ > server_->options_.maxHeaderSize) {
    return reject(431, "bad_request", "the request line and headers are too large");
  }
  return 0;
}

int Connection::onUrl(llhttp_t* parser, const char* at, size_t length) {
  auto* self = static_cast<Connection*>(parser->data);
  self->request_.target.append(at, length);
  return self->countHeaderBytes(length);
}

int Connection::onHeaderField(llhttp_t* parser, const char* at, size_t length) {
  auto* self = static_cast<Connection*>(parser->data);
  self->field_.append(at, length);
  return self->countHeaderBytes(length);
}

int Connection::onHeaderValue(llhttp_t* parser, const char* at, size_t length) {
  auto* self = static_cast<Connection*>(parser->data);
  self->value_.append(at, length);
  return self->countHeaderBytes(length);
}

int Connection::onHeaderValueComplete(llhttp_t* parser) {
  auto* self = static_cast<Connection*>(parser->data);
  self->request_.headers.emplace_back(std::move(self->field_), std::string(trimWhitespace(self->value_)));
  self->field_.clear();
  self->value_.clear();
  // Count the ": " and CRLF too, so a flood of empty headers is bounded like long ones.
  return self->countHeaderBytes(4);
}

int Connection::onHeadersComplete(llhttp_t* parser) {
  return static_cast<Connection*>(parser->data)->headersComplete();
}

int Connection::headersComplete() {
  request_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  request_.httpMinor = parser_.http_minor;
  if (parser_.http_major != 1) return reject(400, "bad_request", "only HTTP/1.0 and HTTP/1.1 are supported");
  if (parser_.method == HTTP_CONNECT) return reject(405, "method_not_allowed", "CONNECT is not supported");
  // We never switch protocols, so an `Upgrade: h2c` offer (curl sends one) is ignored, as RFC 9110
  // allows, and the request is answered in HTTP/1.1 like any other.
  parser_.upgrade = 0;
  if (!parseTarget(request_.target, request_)) return reject(400, "bad_request", "invalid request target");
  keepAlive_ = llhttp_should_keep_alive(&parser_) != 0;

  const size_t limit = server_->options_.maxRequestBodySize;
  const bool declaredLength = (parser_.flags & F_CONTENT_LENGTH) != 0;
  if (declaredLength && parser_.content_length > limit) {
    return reject(413, "too_large", "the request entity is too large");
  }
  if (const std::string* encoding = request_.header("Content-Encoding")) {
    if (equalsIgnoreCase(*encoding, "gzip") || equalsIgnoreCase(*encoding, "x-gzip")) {
      gzip_ = true;
    } else if (!encoding->empty() && !equalsIgnoreCase(*encoding, "identity")) {
      // Read and discard the body, then answer 415; the connection stays usable.
      reject(415, "bad_content_type", "unsupported Content-Encoding: " + *encoding);
    }
  }

  hasBody_ = (parser_.flags & F_CHUNKED) != 0 || parser_.content_length > 0;
  const std::string* expect = request_.header("Expect");
  if (expect && request_.httpMinor >= 1) {
    if (!equalsIgnoreCase(*expect, "100-continue")) {
      return reject(417, "expectation_failed", "only 100-continue is supported");
    }
    // Refusing before the body is sent means the client never sends it, so the connection must close.
    if (rejectStatus_) return HPE_USER;
    // Sent once the head is accepted (acceptHead), so a refused client never sends its body.
    expectContinue_ = hasBody_;
  }
  inHead_ = false;
  chunked_ = (parser_.flags & F_CHUNKED) != 0;
  headReady_ = true;
  // Pausing here lets drive() check the head's bytes and the head hook decide before any of the body
  // is parsed.
  return HPE_PAUSED;
}

int Connection::onMessageComplete(llhttp_t* parser) {
  auto* self = static_cast<Connection*>(parser->data);
  if (self->inflater_ && !self->rejectStatus_ && self->rawBodyBytes_ > 0 &&
      self->inflater_->finish() != GzipInflater::Result::Ok) {
    self->reject(400, "bad_request", "the gzip request body is truncated");
  }
  self->inflater_.reset();
  if (self->sink_) {
    self->sink_->resume_ = nullptr;  // the body is complete; the handler takes it from here
    self->sink_.reset();
  }
  self->messageDone_ = true;
  self->inHead_ = true;
  // Pausing here is what serialises pipelined requests: drive() hands this one to the handler and
  // parses no further until its response is finished.
  return HPE_PAUSED;
}

}  // namespace settee::http::detail
