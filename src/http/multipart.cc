#include "http/multipart.h"

#include <openssl/rand.h>

#include <cassert>
#include <random>

#include "http/multipart_internal.h"

namespace settee::http {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool sameIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

using detail::excerpt;
using detail::isBlank;
using detail::isTokenChar;
using detail::trim;

// A delimiter line found in the body: where the next part's headers start, and whether it closes the body.
struct Delimiter {
  size_t next = 0;
  bool close = false;
};

// Whether `body` holds a delimiter line at `at`: "--boundary" then "--" (closing), or optional blanks
// (RFC 2046's transport padding) and a line break. Anything else after the boundary means these bytes
// merely start like a delimiter and belong to a body.
std::optional<Delimiter> delimiterAt(std::string_view body, size_t at, std::string_view dashBoundary) {
  if (at > body.size() || body.substr(at, dashBoundary.size()) != dashBoundary) return std::nullopt;
  size_t p = at + dashBoundary.size();
  if (body.substr(p, 2) == "--") return Delimiter{p + 2, true};
  while (p < body.size() && isBlank(body[p])) ++p;
  if (body.substr(p, 2) == "\r\n") return Delimiter{p + 2, false};
  if (p < body.size() && body[p] == '\n') return Delimiter{p + 1, false};
  return std::nullopt;
}

// The end of the part body starting at `from` and the delimiter that ends it. The line break before the
// delimiter belongs to it, so it is not part of the body.
struct BodyEnd {
  size_t end = 0;
  Delimiter delimiter;
};

std::optional<BodyEnd> findDelimiter(std::string_view body, size_t from, std::string_view dashBoundary) {
  // A part with no body at all: the line break that ended its headers is the delimiter's own.
  if (from > 0 && body[from - 1] == '\n') {
    if (auto d = delimiterAt(body, from, dashBoundary)) return BodyEnd{from, *d};
  }
  const std::string needle = "\n" + std::string(dashBoundary);
  for (size_t at = from;;) {
    size_t lf = body.find(needle, at);
    if (lf == std::string_view::npos) return std::nullopt;
    if (auto d = delimiterAt(body, lf + 1, dashBoundary)) {
      size_t end = lf;
      if (end > from && body[end - 1] == '\r') --end;
      return BodyEnd{end, *d};
    }
    at = lf + 1;
  }
}

// When the part declares an exact Content-Length, trust it: the bytes may then contain anything.
std::optional<BodyEnd> delimiterAfterLength(std::string_view body, size_t from, const Part& part,
                                            std::string_view dashBoundary) {
  const std::string* declared = part.header("Content-Length");
  if (!declared || declared->empty() || declared->size() > 18 ||
      declared->find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  size_t length = std::stoull(*declared);
  if (length > body.size() - from) return std::nullopt;
  size_t end = from + length;
  size_t at = body.substr(end, 2) == "\r\n" ? end + 2 : body.substr(end, 1) == "\n" ? end + 1 : end;
  if (at == end) return std::nullopt;
  if (auto d = delimiterAt(body, at, dashBoundary)) return BodyEnd{end, *d};
  return std::nullopt;
}

// Reads the header lines of a part starting at `pos`, up to and including the blank line; advances `pos`
// to the first byte of the part's body. RFC 2046 lets a part end right after its headers, with no blank
// line and no body: then `pos` is left on the delimiter.
Status parseHeaders(std::string_view body, size_t& pos, HeaderList& headers, std::string_view dashBoundary) {
  for (;;) {
    if (delimiterAt(body, pos, dashBoundary)) return Status::ok();
    size_t lf = body.find('\n', pos);
    if (lf == std::string_view::npos) {
      return badRequest("multipart body is truncated: part headers do not end with a blank line");
    }
    std::string_view line = body.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = lf + 1;
    if (line.empty()) return Status::ok();
    if (Status st = detail::addHeaderLine(line, headers); !st) return st;
  }
}

void appendSanitized(std::string& out, std::string_view text) {
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
}

}  // namespace

std::optional<std::string> boundaryOf(std::string_view contentType) {
  size_t pos = contentType.find(';');
  while (pos != std::string_view::npos && pos < contentType.size()) {
    ++pos;  // past ';'
    size_t eq = contentType.find_first_of("=;", pos);
    if (eq == std::string_view::npos || contentType[eq] == ';') {
      pos = eq;  // a parameter without a value: skip it
      continue;
    }
    std::string_view name = trim(contentType.substr(pos, eq - pos));
    pos = eq + 1;
    while (pos < contentType.size() && isBlank(contentType[pos])) ++pos;
    std::string value;
    if (pos < contentType.size() && contentType[pos] == '"') {
      for (++pos; pos < contentType.size() && contentType[pos] != '"'; ++pos) {
        if (contentType[pos] == '\\' && pos + 1 < contentType.size()) ++pos;
        value += contentType[pos];
      }
      pos = contentType.find(';', pos);
    } else {
      size_t end = contentType.find(';', pos);
      value = std::string(trim(contentType.substr(pos, end == std::string_view::npos ? end : end - pos)));
      pos = end;
    }
    if (sameIgnoringCase(name, "boundary")) {
      if (value.empty()) return std::nullopt;
      return value;
    }
  }
  return std::nullopt;
}

const std::string* Part::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (sameIgnoringCase(key, name)) return &value;
  }
  return nullptr;
}

Result<std::vector<Part>> parseMultipart(std::string_view body, std::string_view boundary) {
  if (boundary.empty()) return badRequest("multipart boundary is empty");
  const std::string dashBoundary = "--" + std::string(boundary);

  std::optional<Delimiter> delimiter = delimiterAt(body, 0, dashBoundary);
  if (!delimiter) {
    // Anything before the first delimiter line is a preamble, to be ignored.
    auto first = findDelimiter(body, 0, dashBoundary);
    if (!first)
      return badRequest("multipart body does not start with the boundary '" + excerpt(boundary) + "'");
    delimiter = first->delimiter;
  }
  if (delimiter->close) return badRequest("multipart body has no parts");

  std::vector<Part> parts;
  size_t pos = delimiter->next;
  for (;;) {
    Part part;
    if (Status s = parseHeaders(body, pos, part.headers, dashBoundary); !s) return s;
    auto end = delimiterAfterLength(body, pos, part, dashBoundary);
    if (!end) end = findDelimiter(body, pos, dashBoundary);
    if (!end) return badRequest("multipart body is truncated: no closing --" + excerpt(boundary) + "--");
    part.body = body.substr(pos, end->end - pos);
    parts.push_back(std::move(part));
    if (end->delimiter.close) return parts;  // what follows is an epilogue
    pos = end->delimiter.next;
  }
}

MultipartWriter::MultipartWriter(std::string boundary) : boundary_(std::move(boundary)) {
  assert(!boundary_.empty() && boundary_.size() <= 70);
}

std::string MultipartWriter::contentType(std::string_view subtype) const {
  std::string out;
  if (subtype.substr(0, 10) != "multipart/") out = "multipart/";
  out += subtype;
  out += "; boundary=\"";
  out += boundary_;
  out += '"';
  return out;
}

void MultipartWriter::beginPart(const HeaderList& headers, std::string& out) {
  if (started_) out += "\r\n";
  out += "--";
  out += boundary_;
  out += "\r\n";
  for (const auto& [name, value] : headers) {
    appendSanitized(out, name);
    out += ": ";
    appendSanitized(out, value);
    out += "\r\n";
  }
  out += "\r\n";
  started_ = true;
}

void MultipartWriter::addPart(const HeaderList& headers, std::string_view body, std::string& out) {
  beginPart(headers, out);
  out += body;
}

void MultipartWriter::finish(std::string& out) {
  if (started_) out += "\r\n";
  out += "--";
  out += boundary_;
  out += "--";
}

std::string randomBoundary() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // OpenSSL's RNG failing is near impossible; the OS source is just as good for a boundary.
    std::random_device device;
    for (auto& b : bytes) b = static_cast<unsigned char>(device());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof bytes);
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

}  // namespace settee::http
