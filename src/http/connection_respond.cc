// The answering half of Connection: response heads, whole and streamed bodies, the write queue, and the
// orderly close (flush, shut down, linger) after an answer that ends the connection.
#include <cstdio>

#include "http/connection.h"
#include "http/server.h"

namespace settee::http::detail {

namespace {

// Output queued behind a finished response beyond which the next pipelined request waits for the queue to
// drain: a client that sends requests but never reads the answers must not grow our memory without bound.
constexpr size_t kResumeHighWater = 1024 * 1024;
// After an error answer we shut down our side and keep reading for this long, so the client receives the
// answer instead of a reset caused by the body it is still sending.
constexpr uint64_t kLingerMs = 2000;

struct WriteReq {
  uv_write_t req;  // first member: the uv_write_t* libuv hands back is this object
  Connection* connection;
  std::string first, second;
  size_t size;
};

bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

bool bodyAllowed(int status) { return status >= 200 && status != 204 && status != 304; }

bool asksToClose(const Headers& headers) {
  const std::string* value = findHeader(headers, "Connection");
  return value && equalsIgnoreCase(trimWhitespace(*value), "close");
}

}  // namespace

std::string Connection::head(const Responder& responder, int status, const Headers& headers,
                             std::optional<size_t> contentLength, bool chunked, bool closeAfter) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reasonPhrase(status);
  out += "\r\n";
  bool hasServer = false, hasDate = false, hasCacheControl = false, hasContentType = false,
       hasRequestId = false;
  for (const auto& [name, value] : headers) {
    // Framing is ours to decide; a handler's copy could only contradict it.
    if (equalsIgnoreCase(name, "Content-Length") || equalsIgnoreCase(name, "Transfer-Encoding") ||
        equalsIgnoreCase(name, "Connection") || !isValidHeaderName(name)) {
      continue;
    }
    hasServer = hasServer || equalsIgnoreCase(name, "Server");
    hasDate = hasDate || equalsIgnoreCase(name, "Date");
    hasCacheControl = hasCacheControl || equalsIgnoreCase(name, "Cache-Control");
    hasContentType = hasContentType || equalsIgnoreCase(name, "Content-Type");
    hasRequestId = hasRequestId || equalsIgnoreCase(name, "X-Couch-Request-ID");
    out += name;
    out += ": ";
    // A CR or LF in a value would end the header early and let its remainder forge new ones.
    for (char c : value) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
    out += "\r\n";
  }
  auto add = [&out](std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
  };
  if (!hasServer) add("Server", kServerName);
  if (!hasDate) add("Date", server_->date());
  if (!hasCacheControl) add("Cache-Control", "must-revalidate");
  if (!hasRequestId && !responder.requestId_.empty()) add("X-Couch-Request-ID", responder.requestId_);
  if (!hasContentType && (chunked || (contentLength && bodyAllowed(status)))) {
    add("Content-Type", "application/json");
  }
  if (contentLength) add("Content-Length", std::to_string(*contentLength));
  if (chunked) add("Transfer-Encoding", "chunked");
  if (closeAfter) {
    out += "Connection: close\r\n";
  } else if (responder.httpMinor_ == 0) {
    out += "Connection: keep-alive\r\n";  // HTTP/1.0 closes unless told otherwise
  }
  out += "\r\n";
  return out;
}

void Connection::sendResponse(Responder& responder, Response&& response) {
  const bool closeAfter = !responder.keepAlive_ || asksToClose(response.headers);
  const bool withBody = bodyAllowed(response.status);
  std::string headBytes =
      head(responder, response.status, response.headers,
           withBody ? std::optional<size_t>(response.body.size()) : std::nullopt, false, closeAfter);
  if (withBody && !responder.head_) {
    write(std::move(headBytes), std::move(response.body));
  } else {
    write(std::move(headBytes));
  }
  finishExchange(responder, closeAfter);
}

void Connection::startStream(Responder& responder, int status, Headers&& headers) {
  bool closeAfter = !responder.keepAlive_ || asksToClose(headers);
  // HTTP/1.0 has no chunked coding: the stream is the raw bytes and its end is the end of the connection.
  if (responder.httpMinor_ == 0) closeAfter = true;
  responder.chunked_ = responder.httpMinor_ >= 1;
  responder.keepAlive_ = !closeAfter;
  write(head(responder, status, headers, std::nullopt, responder.chunked_, closeAfter));
}

void Connection::writeChunk(Responder& responder, std::string_view chunk) {
  if (responder.head_ || chunk.empty()) return;
  if (!responder.chunked_) {
    write(std::string(chunk));
    return;
  }
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  std::string framed;
  framed.reserve(static_cast<size_t>(n) + chunk.size() + 2);
  framed.append(size, static_cast<size_t>(n));
  framed.append(chunk);
  framed.append("\r\n");
  write(std::move(framed));
}

void Connection::endStream(Responder& responder) {
  if (responder.chunked_ && !responder.head_) write("0\r\n\r\n");
  finishExchange(responder, !responder.keepAlive_);
}

void Connection::abandon(Responder& responder) {
  if (!responder.started_) {
    responder.started_ = responder.finished_ = true;
    sendResponse(responder, Response::error(500, "internal_server_error", "the handler did not respond"));
    return;
  }
  // A stream cut short must not look complete, so no last chunk: the client sees the connection drop.
  responder.connection_ = nullptr;
  current_ = nullptr;
  close();
}

void Connection::finishExchange(Responder& responder, bool closeAfter) {
  responder.connection_ = nullptr;
  current_ = nullptr;
  releaseBody();  // the handler is done with the body it was given
  if (closing_) return;
  if (closeAfter) {
    closeAfterFlush();
    return;
  }
  armIdleTimer();
  if (queuedBytes_ > kResumeHighWater) {
    resumeOnDrain_ = true;
    return;
  }
  drive();
}

// ---- writing and closing ----

void Connection::write(std::string first, std::string second) {
  if (closing_) return;
  const size_t total = first.size() + second.size();
  if (total == 0) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (queuedBytes_ == 0) {
    // Most answers fit in the socket buffer: write them now and skip the request allocation.
    uv_buf_t bufs[2] = {uv_buf_init(first.data(), static_cast<unsigned>(first.size())),
                        uv_buf_init(second.data(), static_cast<unsigned>(second.size()))};
    int n = uv_try_write(stream, bufs, second.empty() ? 1 : 2);
    if (n == UV_EAGAIN) {
      n = 0;
    } else if (n < 0) {
      close();
      return;
    }
    const size_t written = static_cast<size_t>(n);
    if (written == total) return;
    if (written >= first.size()) {
      second.erase(0, written - first.size());
      first.clear();
    } else {
      first.erase(0, written);
    }
  }
  auto* req = new WriteReq{{}, this, std::move(first), std::move(second), 0};
  req->size = req->first.size() + req->second.size();
  uv_buf_t bufs[2];
  unsigned count = 0;
  if (!req->first.empty()) {
    bufs[count++] = uv_buf_init(req->first.data(), static_cast<unsigned>(req->first.size()));
  }
  if (!req->second.empty()) {
    bufs[count++] = uv_buf_init(req->second.data(), static_cast<unsigned>(req->second.size()));
  }
  if (uv_write(&req->req, stream, bufs, count, onWrite) != 0) {
    delete req;
    close();
    return;
  }
  queuedBytes_ += req->size;
}

void Connection::onWrite(uv_write_t* req, int status) {
  auto* write = reinterpret_cast<WriteReq*>(req);
  Connection* self = write->connection;
  self->queuedBytes_ -= write->size;
  delete write;
  if (status < 0) {  // the client is gone (or we are closing): only this connection is affected
    self->close();
    return;
  }
  if (self->closing_) return;
  // Progress on a response the client is reading keeps the connection from counting as idle.
  if ((!self->current_ || self->closeAfterFlush_) && !self->lingering_) self->armIdleTimer();
  if (self->queuedBytes_ == 0) self->drained();
}

void Connection::drained() {
  if (closing_) return;
  if (closeAfterFlush_) {
    beginLinger();
    return;
  }
  if (current_ && current_->started_ && current_->onDrain_) {
    auto onDrain = current_->onDrain_;  // a copy: the callback may end the response and release its own
    onDrain();
  }
  if (resumeOnDrain_ && !closing_) {
    resumeOnDrain_ = false;
    drive();
  }
}

void Connection::closeAfterFlush() {
  if (closeAfterFlush_ || closing_) return;
  closeAfterFlush_ = true;
  input_.clear();
  if (queuedBytes_ == 0) {
    beginLinger();
  } else {
    armIdleTimer();
  }
}

void Connection::beginLinger() {
  if (lingering_ || closing_) return;
  if (eof_) {  // the client has nothing more to send, so nothing can reset our answer
    close();
    return;
  }
  lingering_ = true;
  if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t*>(&tcp_), onShutdown) != 0) {
    close();
    return;
  }
  uv_timer_start(&timer_, onTimer, kLingerMs, 0);
  updateReading();
}

void Connection::onShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<Connection*>(req->handle->data);
  if (status < 0) self->close();
}

void Connection::armIdleTimer() {
  if (closing_ || lingering_) return;
  uint64_t timeout = server_->options_.idleTimeoutMs;
  if (timeout > 0) uv_timer_start(&timer_, onTimer, timeout, 0);
}

void Connection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  // A request in flight (or a head being decided, or a body waiting for its sink) is the server's to
  // time; the idle timeout is for a client that sends nothing (or reads nothing of a finished answer).
  const bool ours = self->current_ || self->awaitingHead_ || self->sinkFull_;
  if (ours && !self->lingering_ && !self->closeAfterFlush_) return;
  self->close();
}

}  // namespace settee::http::detail
