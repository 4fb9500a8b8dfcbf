// http/client_url.h — the URLs the HTTP client speaks to: parsing, building, percent-encoding, joining.
//
// Contract: plain values and pure functions; no I/O, no allocation outside the returned strings; any
// thread. Only `http` and `https` URLs are accepted, since that is all the client can open. A Url keeps
// its request target (`target`) percent-encoded exactly as given, so an id encoded once by the caller is
// never encoded twice; the user name and password are kept decoded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace settee::http {

struct Url {
  std::string scheme = "http";  // "http" or "https", lower-case
  std::string user;             // decoded userinfo; when not empty the client sends Basic auth
  std::string password;         // decoded
  std::string host;             // lower-case name or IP literal; an IPv6 literal without its brackets
  int port = 80;                // the scheme's default when the URL has none
  std::string target = "/";     // path and query, still percent-encoded; never empty, no fragment

  bool https() const { return scheme == "https"; }
  bool defaultPort() const { return port == (https() ? 443 : 80); }

  // "http://user:pw@host:5984/db?x=1" -> {http, user, pw, host, 5984, "/db?x=1"}. A fragment is dropped.
  // nullopt for another scheme, a missing or bad host or port, or a bad %-escape in the userinfo.
  static std::optional<Url> parse(std::string_view text);

  // The URL back as text, with the userinfo (re-encoded) when there is one, and the port only when it is
  // not the scheme's default.
  std::string toString() const;
  // As toString, with the password replaced by "*****": for logs and error messages.
  std::string redacted() const;
  // "https://host:443": the key the client pools connections by (never has credentials).
  std::string origin() const;
  // The value of the Host header: "host", "host:5984", "[::1]:5984".
  std::string hostHeader() const;
};

// Percent-encodes everything but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~), so '/', '?',
// '#', '%', '+' and spaces inside one path segment or one query value survive the trip.
std::string encodePathSegment(std::string_view segment);
std::string encodeQueryValue(std::string_view value);

// A document id as a path: "_design/x" and "_local/x" keep their first '/' raw (CouchDB's own encoding),
// everything else is one encoded segment ("a/b" -> "a%2Fb").
std::string encodeDocId(std::string_view id);

// "?a=1&b=x%20y" from the pairs, keys and values encoded; "" for no pairs.
std::string buildQuery(const std::vector<std::pair<std::string, std::string>>& params);

// Appends `path` to `base` with exactly one '/' between them: urlJoin("http://h/db/", "/_changes?x=1") is
// "http://h/db/_changes?x=1". `path` is taken as already encoded. An empty `path` gives `base` unchanged.
// `base` should have no query: the path is appended after whatever `base` ends with.
std::string urlJoin(std::string_view base, std::string_view path);

}  // namespace settee::http
