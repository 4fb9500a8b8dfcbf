#include "http/multipart_stream.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "http/multipart_internal.h"

namespace settee::http {
namespace {

// When bytes are held from an earlier feed(), the next chunk is appended to them this much at a time:
// enough to settle any delimiter candidate, small enough that the copy costs nothing next to the parse.
constexpr size_t kStep = 4096;

using detail::excerpt;
using detail::isBlank;
using detail::isTokenChar;
using detail::trim;

// What the bytes at a line start are: a delimiter line ("--boundary" then blanks and a line break), the
// closing delimiter ("--boundary--", whatever follows), too short to tell yet, or something else.
enum class Match { No, NeedMore, Delimiter, Close, TooMuchPadding };

// `next` is set to the first byte after the delimiter (after its line break, or after the closing "--").
Match matchDelimiter(std::string_view in, size_t at, std::string_view dashBoundary, size_t& next) {
  std::string_view rest = in.substr(at);
  if (rest.size() < dashBoundary.size()) {
    return dashBoundary.substr(0, rest.size()) == rest ? Match::NeedMore : Match::No;
  }
  if (rest.substr(0, dashBoundary.size()) != dashBoundary) return Match::No;
  size_t p = dashBoundary.size();
  if (p == rest.size()) return Match::NeedMore;
  if (rest[p] == '-') {
    if (p + 1 == rest.size()) return Match::NeedMore;
    if (rest[p + 1] != '-') return Match::No;
    next = at + p + 2;
    return Match::Close;
  }
  for (size_t blanks = 0; p < rest.size() && isBlank(rest[p]); ++p) {
    if (++blanks > MultipartStreamParser::kMaxPadding) return Match::TooMuchPadding;
  }
  if (p == rest.size()) return Match::NeedMore;
  if (rest[p] == '\n') {
    next = at + p + 1;
    return Match::Delimiter;
  }
  if (rest[p] == '\r') {
    if (p + 1 == rest.size()) return Match::NeedMore;
    if (rest[p + 1] == '\n') {
      next = at + p + 2;
      return Match::Delimiter;
    }
  }
  return Match::No;
}

const char* findLineFeed(std::string_view in, size_t from) {
  if (from >= in.size()) return nullptr;
  return static_cast<const char*>(std::memchr(in.data() + from, '\n', in.size() - from));
}

// The part's Content-Length when it is exact (1-18 digits, as parseMultipart() trusts it), else nullopt.
std::optional<size_t> exactLength(const HeaderList& headers) {
  const std::string* declared = findHeader(headers, "Content-Length");
  if (!declared || declared->empty() || declared->size() > 18 ||
      declared->find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  size_t length = 0;
  std::from_chars(declared->data(), declared->data() + declared->size(), length);
  return length;
}

std::string paddingTooLong() {
  return "multipart delimiter is followed by more than " +
         std::to_string(MultipartStreamParser::kMaxPadding) + " blanks";
}

}  // namespace

MultipartStreamParser::MultipartStreamParser(std::string boundary, MultipartHandler handler,
                                             size_t maxHeaderBytes)
    : dashBoundary_("--" + boundary), handler_(std::move(handler)), maxHeaderBytes_(maxHeaderBytes) {
  if (boundary.empty()) fail("multipart boundary is empty");
}

Status MultipartStreamParser::feed(std::string_view chunk) {
  // Held bytes are completed with the chunk's first bytes, a step at a time, so the copy stays small; as
  // soon as the parse has moved past the held bytes, the rest of the chunk is read where it lies.
  while (!held_.empty() && !chunk.empty() && state_ != State::Done && state_ != State::Failed) {
    size_t old = held_.size();
    size_t take = std::min(chunk.size(), kStep);
    held_.append(chunk.data(), take);
    size_t used = run(held_);
    if (used >= old) {
      chunk.remove_prefix(used - old);
      held_.clear();
      break;
    }
    held_.erase(0, used);
    chunk.remove_prefix(take);
  }
  if (held_.empty() && !chunk.empty() && state_ != State::Done && state_ != State::Failed) {
    size_t used = run(chunk);
    held_.assign(chunk.substr(used));
  }
  if (state_ == State::Done || state_ == State::Failed) held_.clear();
  return state_ == State::Failed ? status_ : Status::ok();
}

Status MultipartStreamParser::finish() {
  if (state_ == State::Done || state_ == State::Failed) return status_;
  std::string boundary = excerpt(std::string_view(dashBoundary_).substr(2));
  if (state_ == State::Preamble) {
    fail("multipart body does not start with the boundary '" + boundary + "'");
  } else {
    fail("multipart body is truncated: no closing --" + boundary + "--");
  }
  held_.clear();
  return status_;
}

// Parses as much of `in` as can be told apart and returns how many bytes it consumed; the rest must be
// given again, followed by more input. Each step returns false when it needs more input or the parse
// stopped (done or failed).
size_t MultipartStreamParser::run(std::string_view in) {
  size_t pos = 0;
  for (;;) {
    bool more = false;
    switch (state_) {
      case State::Preamble:
      case State::Body:
        more = scan(in, pos);
        break;
      case State::Headers:
        more = readHeaders(in, pos);
        break;
      case State::SizedBody:
        more = readSized(in, pos);
        break;
      case State::AfterSized:
        more = expectDelimiter(in, pos);
        break;
      case State::Done:
        return in.size();  // an epilogue, ignored
      case State::Failed:
        return pos;
    }
    if (!more) return state_ == State::Done ? in.size() : pos;
  }
}

// Preamble or a part without Content-Length: everything up to the next delimiter line. A delimiter is
// "\n--boundary" (the CR before the LF also belongs to it), or "--boundary" right at a line start.
bool MultipartStreamParser::scan(std::string_view in, size_t& pos) {
  const size_t start = pos;
  // Passes on in[start, end) as the part's bytes; a preamble's are dropped.
  auto pass = [&](size_t end) {
    if (state_ != State::Body || end <= start || !handler_.onPartData) return true;
    return call(handler_.onPartData(in.substr(start, end - start)));
  };
  size_t next = 0;
  if (atLineStart_) {
    Match m = matchDelimiter(in, pos, dashBoundary_, next);
    if (m == Match::NeedMore) return false;
    if (m == Match::TooMuchPadding) return fail(paddingTooLong());
    if (m != Match::No) {
      pos = next;
      return delimiterReached(m == Match::Close);
    }
    atLineStart_ = false;
  }
  for (size_t from = pos;;) {
    const char* lf = findLineFeed(in, from);
    if (lf == nullptr) {
      // All of it is data but a final CR, which may be the start of a delimiter's line break.
      size_t end = in.size();
      if (end > start && in[end - 1] == '\r') --end;
      if (!pass(end)) return false;
      pos = end;
      return false;
    }
    size_t at = lf - in.data();
    Match m = matchDelimiter(in, at + 1, dashBoundary_, next);
    if (m == Match::No) {
      from = at + 1;
      continue;
    }
    if (m == Match::TooMuchPadding) return fail(paddingTooLong());
    size_t end = at > start && in[at - 1] == '\r' ? at - 1 : at;
    if (!pass(end)) return false;
    pos = end;
    if (m == Match::NeedMore) return false;
    pos = next;
    return delimiterReached(m == Match::Close);
  }
}

bool MultipartStreamParser::readHeaders(std::string_view in, size_t& pos) {
  for (;;) {
    if (lineScanned_ == 0) {
      // RFC 2046 lets a part stop after its headers, with no blank line and no body.
      size_t next = 0;
      Match m = matchDelimiter(in, pos, dashBoundary_, next);
      if (m == Match::NeedMore) return false;
      if (m == Match::TooMuchPadding) return fail(paddingTooLong());
      if (m != Match::No) {
        contentLength_ = exactLength(headers_);
        if (contentLength_.value_or(0) != 0) {
          return fail("multipart part declares Content-Length " + std::to_string(*contentLength_) +
                      " but has no body");
        }
        if (!beginPart()) return false;
        pos = next;
        return delimiterReached(m == Match::Close);
      }
    }
    const char* lf = findLineFeed(in, pos + lineScanned_);
    if (lf == nullptr) {
      lineScanned_ = in.size() - pos;
      if (headerBytes_ + lineScanned_ > maxHeaderBytes_) {
        return fail("multipart part headers are longer than " + std::to_string(maxHeaderBytes_) + " bytes");
      }
      return false;
    }
    size_t at = lf - in.data();
    std::string_view line = in.substr(pos, at - pos);
    headerBytes_ += at + 1 - pos;
    lineScanned_ = 0;
    pos = at + 1;
    if (headerBytes_ > maxHeaderBytes_) {
      return fail("multipart part headers are longer than " + std::to_string(maxHeaderBytes_) + " bytes");
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      contentLength_ = exactLength(headers_);
      if (!beginPart()) return false;
      atLineStart_ = true;  // the blank line's line break may be the one before an empty part's delimiter
      remaining_ = contentLength_.value_or(0);
      state_ = contentLength_ ? State::SizedBody : State::Body;
      return true;
    }
    if (Status st = detail::addHeaderLine(line, headers_); !st) return fail(st.reason());
  }
}

// A part with an exact Content-Length: its bytes are passed on as they are, delimiter-like or not.
bool MultipartStreamParser::readSized(std::string_view in, size_t& pos) {
  size_t n = std::min(remaining_, in.size() - pos);
  if (n > 0) {
    if (handler_.onPartData && !call(handler_.onPartData(in.substr(pos, n)))) return false;
    pos += n;
    remaining_ -= n;
  }
  if (remaining_ > 0) return false;
  state_ = State::AfterSized;
  return true;
}

// After a sized part's bytes: a line break and a delimiter. An empty part may also be followed by the
// delimiter at once, the blank line ending its headers being the delimiter's line break.
bool MultipartStreamParser::expectDelimiter(std::string_view in, size_t& pos) {
  auto notFollowed = [&] {
    return fail("multipart part is not followed by the boundary after its Content-Length of " +
                std::to_string(*contentLength_) + " bytes");
  };
  size_t at = pos;
  if (at == in.size()) return false;
  if (in[at] == '\r') {
    if (at + 1 == in.size()) return false;
    if (in[at + 1] != '\n') return notFollowed();
    at += 2;
  } else if (in[at] == '\n') {
    at += 1;
  } else if (*contentLength_ != 0) {
    return notFollowed();
  }
  size_t next = 0;
  Match m = matchDelimiter(in, at, dashBoundary_, next);
  if (m == Match::NeedMore) return false;
  if (m == Match::TooMuchPadding) return fail(paddingTooLong());
  if (m == Match::No) return notFollowed();
  pos = next;
  return delimiterReached(m == Match::Close);
}

bool MultipartStreamParser::beginPart() {
  return !handler_.onPartBegin || call(handler_.onPartBegin(headers_));
}

// A delimiter ends the current part (if any) and starts the next one, or closes the body.
bool MultipartStreamParser::delimiterReached(bool close) {
  if (state_ == State::Preamble) {
    if (close) return fail("multipart body has no parts");
  } else if (handler_.onPartEnd && !call(handler_.onPartEnd())) {
    return false;
  }
  if (close) {
    state_ = State::Done;
    return false;
  }
  state_ = State::Headers;
  headers_.clear();
  headerBytes_ = 0;
  lineScanned_ = 0;
  contentLength_.reset();
  return true;
}

bool MultipartStreamParser::call(Status status) {
  if (status.isOk()) return true;
  status_ = std::move(status);
  state_ = State::Failed;
  return false;
}

bool MultipartStreamParser::fail(std::string reason) { return call(badRequest(std::move(reason))); }

}  // namespace settee::http
