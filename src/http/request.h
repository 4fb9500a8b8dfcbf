// http/request.h — one parsed HTTP request, as a plain value.
//
// Contract: a Request owns all of its strings; nothing in it points into the connection's buffers, so a
// handler may keep it, move it to another thread, or outlive the connection it came from. The server fills
// it on the loop thread and hands it over by rvalue; after that it belongs to the handler and any thread may
// read it (it has no synchronisation of its own, as with any std::string).
//
// Names and values are kept as sent, except where a field says it is decoded. Header names are compared
// case-insensitively by `header()`; the vector keeps their original spelling and order, repeats included.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace settee::http {

struct Request {
  std::string method;  // "GET", "HEAD", "PUT", ... as sent (llhttp only accepts upper-case tokens)
  std::string target;  // the raw request target, e.g. "/db/_all_docs?limit=10"
  std::string path;    // the raw path of `target`, without the query; still percent-encoded
  // `path` split on '/', each segment percent-decoded after splitting, so an encoded "%2F" stays inside
  // its segment: "/db/_local%2Fx" -> {"db", "_local/x"}; "/" -> {}; one trailing '/' is ignored, so
  // "/db/" -> {"db"}.
  std::vector<std::string> segments;
  // The query string split on '&' and '=', each part percent-decoded with '+' read as a space. A key
  // without '=' has an empty value. Order and repeats are kept.
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  // The complete body: de-chunked, and inflated when it was sent with `Content-Encoding: gzip`.
  std::string body;
  int httpMinor = 1;  // 0 for HTTP/1.0, 1 for HTTP/1.1
  std::string peer;   // the client's IP address, e.g. "127.0.0.1" or "::1"
  // What the server's head hook prepared for this request (Server::HeadDecision::context), or null.
  std::shared_ptr<void> context;

  // The first header called `name` (compared case-insensitively), or nullptr. The pointer is valid until
  // `headers` is next modified.
  const std::string* header(std::string_view name) const;

  // The value of the first query parameter called `name` (compared exactly), or nullopt. The view is valid
  // until `query` is next modified.
  std::optional<std::string_view> param(std::string_view name) const;
};

// Decodes %XX escapes in `in`; with `plusAsSpace`, '+' becomes ' ' (the form encoding of query strings).
// Returns nullopt for a '%' not followed by two hex digits.
std::optional<std::string> percentDecode(std::string_view in, bool plusAsSpace);

// Fills `path`, `segments` and `query` of `request` from `target`. Accepts the origin form ("/a/b?c=d")
// and the absolute form ("http://host/a/b?c=d"). Returns false for anything else or a bad %-escape;
// the server answers those with 400.
[[nodiscard]] bool parseTarget(std::string_view target, Request& request);

// ASCII case-insensitive comparison, as HTTP header names and tokens need.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// `s` without leading and trailing spaces and tabs (HTTP's "optional whitespace"); a view into `s`.
std::string_view trimWhitespace(std::string_view s);

}  // namespace settee::http
