// The middle of a request, for Connection: the head shown to the Server's head hook and its decision, the
// body kept (within the request's limit and the server's budget) or handed to a BodySink as it arrives,
// gzip decoded on the way, and the framing checks llhttp 8 leaves to us.
#include <algorithm>

#include "http/connection.h"
#include "http/server.h"

namespace settee::http::detail {

namespace {

// The most we reserve up front for a body from its Content-Length; more grows as the bytes arrive.
constexpr uint64_t kMaxBodyReserve = 1024 * 1024;

}  // namespace

void Connection::headParsed() {
  headReady_ = false;
  parseOwed_ = true;  // a request without a body completes with no further input
  // A request refused already (415) only has its body read and discarded; there is nothing to decide.
  if (rejectStatus_ || !server_->onHead_) {
    HeadDecision accept;
    acceptHead(accept);
    return;
  }
  awaitingHead_ = true;
  Request head;
  head.method = request_.method;
  head.target = request_.target;
  head.path = request_.path;
  head.segments = request_.segments;
  head.query = request_.query;
  head.headers = request_.headers;
  head.httpMinor = request_.httpMinor;
  head.peer = peer_;
  std::shared_ptr<Connection*> self = self_;
  server_->onHead_(head, [self](HeadDecision decision) {
    if (Connection* connection = *self) connection->decideHead(std::move(decision));
  });
}

void Connection::decideHead(HeadDecision decision) {
  if (!awaitingHead_ || closing_) return;
  awaitingHead_ = false;
  armIdleTimer();  // the wait was ours; the client's idle time starts again
  if (decision.reject) {
    if (hasBody_) {
      // The body stays unread, so nothing after it could be parsed: answer, then close.
      input_.clear();
      newResponder(false)->send(std::move(*decision.reject));
      return;
    }
    headReject_ = std::move(decision.reject);
  } else if (!acceptHead(decision)) {
    return;
  }
  drive();
}

bool Connection::acceptHead(HeadDecision& decision) {
  if (decision.maxBodySize > 0) bodyLimit_ = std::min(bodyLimit_, decision.maxBodySize);
  if (!decision.tooLargeReason.empty()) tooLargeReason_ = std::move(decision.tooLargeReason);
  const bool declaredLength = (parser_.flags & F_CONTENT_LENGTH) != 0;
  if (declaredLength && parser_.content_length > bodyLimit_) {
    input_.clear();
    newResponder(false)->send(Response::error(413, "too_large", tooLargeReason_));
    return false;
  }
  request_.context = std::move(decision.context);
  if (gzip_) {
    inflater_ = std::make_unique<GzipInflater>(bodyLimit_);
  } else if (declaredLength && !rejectStatus_ && !decision.sink) {
    // Reserve for the declared body, but not more than a little: a client that declares 64 MiB and
    // sends nothing must not make us allocate 64 MiB.
    request_.body.reserve(std::min<uint64_t>(parser_.content_length, kMaxBodyReserve));
  }
  if (decision.sink) {
    sink_ = std::move(decision.sink);
    std::shared_ptr<Connection*> self = self_;
    sink_->resume_ = [self] {
      if (Connection* connection = *self) connection->resumeSink();
    };
  }
  if (expectContinue_) write("HTTP/1.1 100 Continue\r\n\r\n");
  return true;
}

bool Connection::checkChunkEnd(const char* at, const char* end) {
  for (; chunkCrlfSeen_ < 2 && at < end; ++at, ++chunkCrlfSeen_) {
    if (*at != "\r\n"[chunkCrlfSeen_]) return false;
  }
  return true;
}

bool Connection::checkHeadBytes(std::string_view head) {
  char prev = last_[1];
  for (char c : head) {
    if (c == '\n' && prev != '\r') {
      badFraming("Expected CRLF, got a bare LF");
      return false;
    }
    if ((c == ' ' || c == '\t') && prev == '\n') {
      badFraming("Header continuation lines (obs-fold) are not allowed");
      return false;
    }
    prev = c;
  }
  return true;
}

void Connection::badFraming(const char* reason) {
  input_.clear();
  reject(400, "bad_request", reason);
  failParse(HPE_USER);
}

int Connection::onChunkHeader(llhttp_t* parser) {
  auto* self = static_cast<Connection*>(parser->data);
  self->chunkLeft_ = parser->content_length;
  return 0;
}

int Connection::onBody(llhttp_t* parser, const char* at, size_t length) {
  auto* self = static_cast<Connection*>(parser->data);
  int rc = self->takeBody(at, length);
  if (self->chunked_) {
    self->chunkLeft_ -= std::min<uint64_t>(self->chunkLeft_, length);
    if (self->chunkLeft_ == 0) {
      // llhttp skips the two bytes after a chunk's data without looking at them. Those in this buffer
      // are checked now; the rest (all of them after a pause, which re-feeds them) when they are parsed.
      self->chunkCrlfSeen_ = 0;
      if (rc == 0 && !self->checkChunkEnd(at + length, self->executeEnd_)) {
        return self->reject(400, "bad_request", "Expected CRLF after chunk");
      }
    }
  }
  return rc;
}

int Connection::takeBody(const char* at, size_t length) {
  rawBodyBytes_ += length;
  // Checked even for a body being discarded: reading gigabytes only to refuse them is a cost too.
  if (rawBodyBytes_ > bodyLimit_) return reject(413, "too_large", tooLargeReason_);
  if (rejectStatus_) return 0;  // discarding the body of a request that will be refused
  if (sink_) {
    if (!inflater_) return toSink(std::string_view(at, length));
    gzipPending_.append(at, length);
    return pumpInflater();
  }
  if (!inflater_) {
    if (!chargeBody(length)) return overBudget();
    request_.body.append(at, length);
    return 0;
  }
  const size_t before = request_.body.size();
  switch (inflater_->feed(std::string_view(at, length), request_.body)) {
    case GzipInflater::Result::Ok:
      return chargeBody(request_.body.size() - before) ? 0 : overBudget();
    case GzipInflater::Result::TooLarge:
      return reject(413, "too_large", tooLargeReason_);
    case GzipInflater::Result::Corrupt:
      reject(400, "bad_request", "the gzip request body is corrupt");
      return 0;
  }
  return 0;
}

bool Connection::chargeBody(size_t n) {
  if (!server_->chargeBodies(n)) return false;
  charged_ += n;
  return true;
}

void Connection::releaseBody() {
  server_->releaseBodies(charged_);
  charged_ = 0;
}

int Connection::overBudget() {
  std::string().swap(request_.body);
  return reject(503, "service_unavailable", "the server is holding too many request bodies; retry later");
}

int Connection::toSink(std::string_view piece) {
  if (piece.empty() || sink_->write(piece)) return 0;
  sinkFull_ = true;
  return HPE_PAUSED;  // llhttp stops after this span; resumeSink() drives on
}

int Connection::pumpInflater() {
  // Decoded a little at a time, so a full sink is overrun by at most one slice's output, however well
  // the body compresses.
  constexpr size_t kSlice = 4096;
  std::string out;
  while (!gzipPending_.empty() && !sinkFull_) {
    const size_t n = std::min(kSlice, gzipPending_.size());
    out.clear();
    GzipInflater::Result result = inflater_->feed(std::string_view(gzipPending_).substr(0, n), out);
    gzipPending_.erase(0, n);
    inflatedBytes_ += out.size();
    if (result == GzipInflater::Result::TooLarge || inflatedBytes_ > bodyLimit_) {
      return reject(413, "too_large", tooLargeReason_);
    }
    if (result == GzipInflater::Result::Corrupt) {
      gzipPending_.clear();
      return reject(400, "bad_request", "the gzip request body is corrupt");
    }
    if (toSink(out) == HPE_PAUSED) return HPE_PAUSED;
  }
  return 0;
}

void Connection::resumeSink() {
  if (!sinkFull_ || closing_) return;
  sinkFull_ = false;
  parseOwed_ = true;  // the body may have ended with the piece that filled the sink
  armIdleTimer();
  if (!gzipPending_.empty()) {
    if (int rc = pumpInflater(); rc != 0 && rc != HPE_PAUSED) {
      input_.clear();
      failParse(HPE_USER);
      return;
    }
    if (sinkFull_) return;
  }
  drive();
}

}  // namespace settee::http::detail
