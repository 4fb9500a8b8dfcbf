// http/multipart_stream.h — incremental reading of a MIME multipart body as it arrives from the network.
//
// The streaming twin of parseMultipart() (http/multipart.h, which explains CouchDB's framing): the body is
// fed in pieces split anywhere, and each part comes out as events — onPartBegin(headers), any number of
// onPartData(bytes), onPartEnd() — so an open_revs answer holding attachments of many MB is never held
// whole. It accepts what parseMultipart() accepts (preamble, epilogue, blanks after a delimiter, LF-only
// line endings; the line break before a delimiter belongs to the delimiter) with two deliberate
// differences:
// - A part whose Content-Length header is exact (digits only) is cut by it, so its bytes may contain the
//   delimiter; the delimiter must then follow, or the body is rejected. (parseMultipart() quietly falls
//   back to looking for the delimiter: it can look ahead, a stream cannot take bytes back.)
// - Blanks after a delimiter are limited to kMaxPadding, so a delimiter candidate stays small.
//
// Contract:
// - Memory: the parser keeps at most a part's header block (maxHeaderBytes) or one delimiter candidate
//   (boundary + padding + a few bytes), plus while a held piece is completed a few KB of the next chunk:
//   never a part's body. Bytes that cannot start a delimiter are passed on within the feed() that
//   brought them; a held piece waits for the next feed().
// - Nesting is the caller's: a `multipart/related` part is read by feeding its onPartData bytes into a
//   second parser built with boundaryOf() of that part's Content-Type, and calling its finish() at
//   onPartEnd.
// - Handlers run inside feed(), on the caller's thread; they must not call back into the same parser.
//   A view passed to a handler is valid during that call only. An empty std::function is skipped.
// - One thread at a time; not copyable (the handlers often capture `this` of their owner).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/multipart.h"
#include "http/response.h"  // findHeader(), to read a part's headers
#include "settee/status.h"

namespace settee::http {

// Receives the parts of a body in order. Returning an error from any handler stops the parse: feed()
// returns that error and the parser ignores all later input.
struct MultipartHandler {
  std::function<Status(const HeaderList& headers)> onPartBegin;  // `headers` valid during the call only
  std::function<Status(std::string_view bytes)> onPartData;      // never empty; valid during the call only
  std::function<Status()> onPartEnd;
};

class MultipartStreamParser {
 public:
  // Longest run of blanks (RFC 2046's transport padding) accepted between a boundary and its line break.
  static constexpr size_t kMaxPadding = 256;

  // `boundary` without its leading "--" (boundaryOf() gives it); an empty one makes every call fail.
  MultipartStreamParser(std::string boundary, MultipartHandler handler, size_t maxHeaderBytes = 64 * 1024);
  MultipartStreamParser(const MultipartStreamParser&) = delete;
  MultipartStreamParser& operator=(const MultipartStreamParser&) = delete;

  // Parses the next bytes of the body; `chunk` may be split anywhere and is not kept. Returns the first
  // error — malformed framing (bad_request) or a handler's — and from then on returns it again and
  // ignores input. After the closing delimiter, input (an epilogue) is ignored.
  Status feed(std::string_view chunk);

  // The body ended: ok only if the closing delimiter was seen; otherwise bad_request (truncated, or no
  // first delimiter at all). Returns a previous error unchanged.
  Status finish();

  // The closing delimiter was seen.
  bool done() const { return state_ == State::Done; }

  // Bytes held between feed() calls, waiting to be told apart from a delimiter or a header line.
  size_t buffered() const { return held_.size(); }

 private:
  enum class State {
    Preamble,    // before the first delimiter: bytes are discarded
    Headers,     // a part's header lines
    Body,        // a part without Content-Length: its bytes run to the next delimiter line
    SizedBody,   // a part with Content-Length: `remaining_` bytes, taken as they are
    AfterSized,  // after a sized part's bytes: a line break and a delimiter must follow
    Done,        // the closing delimiter was seen
    Failed,      // `status_` says why
  };

  size_t run(std::string_view in);
  bool scan(std::string_view in, size_t& pos);
  bool readHeaders(std::string_view in, size_t& pos);
  bool readSized(std::string_view in, size_t& pos);
  bool expectDelimiter(std::string_view in, size_t& pos);
  bool beginPart();
  bool delimiterReached(bool close);
  bool call(Status status);
  bool fail(std::string reason);

  std::string dashBoundary_;  // "--" + boundary
  MultipartHandler handler_;
  size_t maxHeaderBytes_;

  State state_ = State::Preamble;
  Status status_;
  std::string held_;  // the unconsumed tail of earlier input

  // Headers: the part's header lines so far, their bytes, and how much of the current unfinished line
  // (starting at the unconsumed input) is known to hold no line feed, so a long line is scanned once.
  HeaderList headers_;
  size_t headerBytes_ = 0;
  size_t lineScanned_ = 0;
  std::optional<size_t> contentLength_;

  bool atLineStart_ = true;  // Preamble/Body: a delimiter may start here without a line break of its own
  size_t remaining_ = 0;     // SizedBody: bytes of the part still to pass on
};

}  // namespace settee::http
