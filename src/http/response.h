// http/response.h — one HTTP response, as a plain value, and the helpers that build common ones.
//
// Contract: a Response owns its strings and is built by a handler on any thread; it is handed to
// `Responder::send` on the loop thread, which serialises it. The server owns the framing headers:
// `Content-Length` and `Transfer-Encoding` set here are ignored and recomputed; `Server`, `Date`,
// `Cache-Control: must-revalidate` and `Content-Type: application/json` are added unless set here.
// `Connection: close` set here makes the server close the connection once this response is written.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace settee::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  // Replaces every header called `name` (case-insensitively) with one `name: value`.
  void setHeader(std::string_view name, std::string value);
  // The first header called `name` (case-insensitively), or nullptr; valid until `headers` changes.
  const std::string* header(std::string_view name) const;

  // A response with `Content-Type: application/json` and `body`, which must already be JSON.
  static Response json(int status, std::string body);
  // CouchDB's error shape, `{"error": error, "reason": reason}`, escaped by a JSON writer.
  static Response error(int status, std::string_view error, std::string_view reason);
};

// Replaces every header called `name` in `headers` (case-insensitively) with one `name: value`.
void setHeader(Headers& headers, std::string_view name, std::string value);
// The first header called `name` in `headers` (case-insensitively), or nullptr.
const std::string* findHeader(const Headers& headers, std::string_view name);

// The standard reason phrase for `status` ("Not Found"), or "Unknown" for codes without one.
const char* reasonPhrase(int status);

// `{"error": error, "reason": reason}` written by RapidJSON, so quotes and control characters are escaped.
std::string errorJson(std::string_view error, std::string_view reason);

}  // namespace settee::http
