// The reading half of ClientConnection: llhttp's response callbacks, gzip, and handing the status,
// headers and body to the exchange.
//
// User callbacks (onHeaders, onData) run from inside llhttp's callbacks. One may cancel its own request or
// close the client; `inCallback_` tells `fail` to keep the exchange alive until the callback returns, and
// every llhttp callback checks afterwards whether the exchange is still ours, returning -1 (stop parsing)
// when it is not. The end of a message pauses the parser, so the exchange is completed only after
// llhttp_execute has returned and nothing of the parser is on the stack.
#include <algorithm>
#include <cstdint>
#include <utility>

#include "http/client_internal.h"
#include "http/request.h"

namespace settee::http::detail {

namespace {

ClientConnection* self(llhttp_t* parser) { return static_cast<ClientConnection*>(parser->data); }

// Decompressed output is bounded by the request's maxBodySize for `request`, and by nothing for
// `stream`, which hands it on piece by piece.
constexpr size_t kNoInflateLimit = SIZE_MAX / 2;

}  // namespace

const llhttp_settings_t& ClientConnection::parserSettings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = onMessageBegin;
    s.on_header_field = onHeaderField;
    s.on_header_value = onHeaderValue;
    s.on_header_value_complete = onHeaderValueComplete;
    s.on_headers_complete = onHeadersComplete;
    s.on_body = onBody;
    s.on_message_complete = onMessageComplete;
    return s;
  }();
  return settings;
}

void ClientConnection::resetParser() {
  llhttp_init(&parser_, HTTP_RESPONSE, &parserSettings());
  parser_.data = this;
  field_.clear();
  value_.clear();
  headers_.clear();
  headerBytes_ = 0;
  interim_ = false;
  messageDone_ = false;
  keepAlive_ = false;
  inflater_.reset();
}

void ClientConnection::parse(std::string_view plain) {
  if (!exchange_) {  // bytes nobody asked for on a pooled connection: it can no longer be trusted
    close();
    return;
  }
  gotBytes_ = true;
  if (timerUse_ == TimerUse::Read) armExchangeTimer(exchange_->readTimeoutMs);
  llhttp_errno_t rc = llhttp_execute(&parser_, plain.data(), plain.size());
  if (closing_ || !exchange_) return;  // a callback ended the exchange (failure, cancel or close)
  if (rc == HPE_PAUSED && messageDone_) {
    size_t used = static_cast<size_t>(llhttp_get_error_pos(&parser_) - plain.data());
    // Bytes after the response were never asked for (we do not pipeline): do not reuse the connection.
    finishExchange(keepAlive_ && used == plain.size());
    return;
  }
  if (rc != HPE_OK) {
    const char* reason = llhttp_get_error_reason(&parser_);
    fail({ClientErrc::ProtocolError,
          "malformed response from " + host_ + ": " + (reason && *reason ? reason : llhttp_errno_name(rc))});
  }
}

int ClientConnection::onMessageBegin(llhttp_t* parser) {
  ClientConnection* c = self(parser);
  c->field_.clear();
  c->value_.clear();
  c->headers_.clear();
  return 0;
}

int ClientConnection::onHeaderField(llhttp_t* parser, const char* at, size_t length) {
  ClientConnection* c = self(parser);
  c->headerBytes_ += length;
  if (c->headerBytes_ > c->client_->options().maxHeaderSize) {
    c->fail({ClientErrc::ProtocolError, "the response headers from " + c->host_ + " are too large"});
    return -1;
  }
  c->field_.append(at, length);
  return 0;
}

int ClientConnection::onHeaderValue(llhttp_t* parser, const char* at, size_t length) {
  ClientConnection* c = self(parser);
  c->headerBytes_ += length;
  if (c->headerBytes_ > c->client_->options().maxHeaderSize) {
    c->fail({ClientErrc::ProtocolError, "the response headers from " + c->host_ + " are too large"});
    return -1;
  }
  c->value_.append(at, length);
  return 0;
}

int ClientConnection::onHeaderValueComplete(llhttp_t* parser) {
  ClientConnection* c = self(parser);
  c->headers_.emplace_back(std::move(c->field_), std::string(trimWhitespace(c->value_)));
  c->field_.clear();
  c->value_.clear();
  return 0;
}

int ClientConnection::onHeadersComplete(llhttp_t* parser) {
  ClientConnection* c = self(parser);
  int status = parser->status_code;
  // An interim 1xx answer (100 Continue, 103 Early Hints) is followed by the real one.
  if (status >= 100 && status < 200 && status != 101) {
    c->interim_ = true;
    return 0;
  }
  Exchange& exchange = *c->exchange_;
  if (const std::string* encoding = findHeader(c->headers_, "Content-Encoding")) {
    if (equalsIgnoreCase(*encoding, "gzip") || equalsIgnoreCase(*encoding, "x-gzip")) {
      // A buffered body inflates straight into the response, so the inflater's bound is the body's: a
      // small gzip bomb stops at the limit instead of inflating a whole piece first.
      c->inflater_ =
          std::make_unique<GzipInflater>(exchange.buffered ? exchange.maxBodySize : kNoInflateLimit);
    }
  }
  exchange.response.status = status;
  exchange.response.headers = c->headers_;
  // A length over the limit is refused before a byte of it is read (a gzip body is judged as it inflates;
  // the answer to HEAD has no body, whatever its Content-Length says).
  if (exchange.buffered && !c->inflater_ && (parser->flags & F_CONTENT_LENGTH) &&
      parser->content_length > exchange.maxBodySize && exchange.method != "HEAD") {
    c->fail(c->tooLarge("says Content-Length: " + std::to_string(parser->content_length)));
    return -1;
  }
  if (!exchange.buffered && exchange.handlers.onHeaders) {
    ResponseHead head{status, std::move(c->headers_)};
    ++c->inCallback_;
    exchange.handlers.onHeaders(head);
    --c->inCallback_;
    if (c->closing_ || !c->exchange_) return -1;
  }
  // 1: the answer to HEAD has no body, whatever its Content-Length says.
  return exchange.method == "HEAD" ? 1 : 0;
}

int ClientConnection::onBody(llhttp_t* parser, const char* at, size_t length) {
  ClientConnection* c = self(parser);
  if (c->interim_) return 0;
  if (!c->inflater_) return c->deliver(std::string_view(at, length)) ? 0 : -1;
  if (c->exchange_->buffered) {
    switch (c->inflater_->feed(std::string_view(at, length), c->exchange_->response.body)) {
      case GzipInflater::Result::Ok:
        return 0;
      case GzipInflater::Result::TooLarge:
        c->fail(c->tooLarge("inflates past that"));
        return -1;
      case GzipInflater::Result::Corrupt:
        break;
    }
    c->fail({ClientErrc::ProtocolError, "the gzip body from " + c->host_ + " is corrupt"});
    return -1;
  }
  c->decoded_.clear();
  if (c->inflater_->feed(std::string_view(at, length), c->decoded_) != GzipInflater::Result::Ok) {
    c->fail({ClientErrc::ProtocolError, "the gzip body from " + c->host_ + " is corrupt"});
    return -1;
  }
  if (c->decoded_.empty()) return 0;
  return c->deliver(c->decoded_) ? 0 : -1;
}

bool ClientConnection::deliver(std::string_view decoded) {
  Exchange& exchange = *exchange_;
  if (exchange.buffered) {
    if (exchange.response.body.size() + decoded.size() > exchange.maxBodySize) {
      fail(tooLarge("goes on past that"));
      return false;
    }
    std::string& body = exchange.response.body;
    const size_t need = body.size() + decoded.size();
    // Grown by doubling, but never past the bound: a body near its limit must not cost twice the limit
    // (several workers each buffering a 32 MB answer would otherwise hold 64 MB apiece).
    if (need > body.capacity()) body.reserve(std::min(std::max(need, 2 * body.capacity()), exchange.maxBodySize));
    body.append(decoded);
    return true;
  }
  if (exchange.handlers.onData) {
    ++inCallback_;
    exchange.handlers.onData(decoded);
    --inCallback_;
  }
  return !closing_ && exchange_;
}

ClientError ClientConnection::tooLarge(const std::string& why) {
  Exchange& e = *exchange_;
  std::string().swap(e.response.body);
  return {ClientErrc::TooLarge, "the answer to " + e.method + " " + e.url.redacted() +
                                    " is over its limit of " + std::to_string(e.maxBodySize) + " bytes (it " +
                                    why + ")"};
}

int ClientConnection::onMessageComplete(llhttp_t* parser) {
  ClientConnection* c = self(parser);
  if (c->interim_) {
    c->interim_ = false;
    c->headerBytes_ = 0;
    return 0;
  }
  c->messageDone_ = true;
  c->keepAlive_ = llhttp_should_keep_alive(parser) != 0;
  return HPE_PAUSED;
}

}  // namespace settee::http::detail
