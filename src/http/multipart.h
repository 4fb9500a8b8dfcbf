// http/multipart.h — reading and writing MIME multipart bodies (RFC 2046) as CouchDB uses them.
//
// CouchDB sends and accepts two shapes:
// - `multipart/related`: a document with attachment bodies. The first part is the JSON document whose
//   `_attachments` entries say `"follows": true`; then one part per such attachment, raw bytes, in the
//   order of `_attachments`. Used by `PUT /db/{id}` and inside open_revs answers.
// - `multipart/mixed`: `GET /db/{id}?open_revs=...` with `Accept: multipart/mixed`, one part per revision.
//   A revision without attachments is an `application/json` part; one with attachments is itself a
//   `multipart/related` part (its own boundary in its Content-Type); a missing revision is a part with
//   `Content-Type: application/json; error="true"` and body `{"missing":"<rev>"}`.
// Framing, as CouchDB writes it: `--B CRLF headers CRLF CRLF body`, then `CRLF --B CRLF ...` for each next
// part, and `CRLF --B--` to close, with no preamble and no trailing CRLF. The CRLF before each delimiter
// belongs to the delimiter, never to the body.
//
// Contract:
// - parseMultipart() copies nothing: every Part::body is a view into the `body` argument, so the caller
//   keeps that buffer alive and unmodified while it uses the parts. Headers are copied into the Part.
//   A nested multipart part is parsed by calling parseMultipart() again on its body, with the boundary
//   from its own Content-Type (boundaryOf()).
// - MultipartWriter appends to a caller-owned buffer, so a response can be streamed part by part (for
//   example one chunk per part). It holds no I/O and no buffer of its own.
// - Plain functions and values: any thread, no shared state (randomBoundary() uses OpenSSL's thread-safe
//   RNG).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "settee/status.h"

namespace settee::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The `boundary` parameter of a Content-Type such as `multipart/related; boundary="abc"` (quoted or bare;
// the parameter name in any case; backslash escapes in a quoted value undone). nullopt when absent or empty.
std::optional<std::string> boundaryOf(std::string_view contentType);

struct Part {
  HeaderList headers;     // names and values as sent, values trimmed of surrounding blanks
  std::string_view body;  // the part's bytes, a view into the body given to parseMultipart()

  // The first header called `name` (ASCII case-insensitive), or nullptr. Valid while `headers` is unchanged.
  const std::string* header(std::string_view name) const;
};

// Splits `body` on `boundary` (without its leading "--"). Tolerates a preamble before the first delimiter,
// an epilogue after the closing one, blanks after a delimiter, and LF-only line endings. A part whose
// Content-Length header is exact is cut by it, so its bytes may even contain the delimiter; otherwise the
// part ends at the next delimiter line. Errors (bad_request): an empty boundary, no first delimiter, no
// parts, malformed part headers, and a body cut short before the closing `--boundary--`.
Result<std::vector<Part>> parseMultipart(std::string_view body, std::string_view boundary);

class MultipartWriter {
 public:
  // `boundary` must be 1-70 characters from RFC 2046's set; randomBoundary() gives a good one.
  explicit MultipartWriter(std::string boundary);

  const std::string& boundary() const { return boundary_; }

  // `multipart/<subtype>; boundary="..."`, e.g. contentType("mixed"). A subtype already starting with
  // "multipart/" is used as it is.
  std::string contentType(std::string_view subtype) const;

  // Appends the delimiter and `headers` of the next part to `out`; the caller then appends the part's
  // bytes to `out` itself (for example while reading an attachment in pieces). CR and LF inside a header
  // name or value are replaced by spaces, so a value can never start a header or a part of its own.
  void beginPart(const HeaderList& headers, std::string& out);

  // beginPart() followed by `body`.
  void addPart(const HeaderList& headers, std::string_view body, std::string& out);

  // Appends the closing delimiter. Call once, after the last part; nothing may be added afterwards.
  void finish(std::string& out);

 private:
  std::string boundary_;
  bool started_ = false;  // a part has been written, so the next delimiter starts with CRLF
};

// 32 lowercase hex characters from a cryptographic RNG: a boundary no attachment will contain by chance.
std::string randomBoundary();

}  // namespace settee::http
