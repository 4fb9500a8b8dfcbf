// http/multipart_internal.h — small text helpers shared by the whole-buffer and the streaming multipart
// parsers (multipart.cc, multipart_stream.cc). Not part of any public surface.
#pragma once

#include <string>
#include <string_view>

#include "http/multipart.h"
#include "settee/status.h"

namespace settee::http::detail {

inline bool isBlank(char c) { return c == ' ' || c == '\t'; }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 7230 token characters, which is what a header name may hold.
inline bool isTokenChar(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A short, printable excerpt of untrusted input for an error reason.
inline std::string excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 60) out += "...";
  return out;
}

// Adds one header line of a part (without its line break) to `headers`: `Name: value`, or a folded
// continuation (leading blank) of the previous value. The error says what was wrong, for a bad_request.
inline Status addHeaderLine(std::string_view line, HeaderList& headers) {
  if (isBlank(line.front())) {
    // An obsolete folded continuation of the previous header's value.
    if (headers.empty()) return badRequest("malformed multipart part header '" + excerpt(line) + "'");
    auto& value = headers.back().second;
    if (!value.empty()) value += ' ';
    value += trim(line);
    return Status::ok();
  }
  size_t colon = line.find(':');
  std::string_view name = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
  bool validName = !name.empty();
  for (char c : name) validName = validName && isTokenChar(c);
  if (!validName) return badRequest("malformed multipart part header '" + excerpt(line) + "'");
  headers.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  return Status::ok();
}

}  // namespace settee::http::detail
