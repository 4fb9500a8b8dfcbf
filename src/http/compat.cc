// X-HTTP-Method-Override and JSONP, as CouchDB's chttpd does them.
#include "http/compat.h"

#include <algorithm>

namespace settee::http {
namespace {

bool isJsonType(const std::string* type) {
  if (!type) return true;  // the server's default Content-Type is application/json
  std::string_view t = trimWhitespace(*type);
  constexpr std::string_view kJson = "application/json";
  return t.size() >= kJson.size() && equalsIgnoreCase(t.substr(0, kJson.size()), kJson);
}

}  // namespace

void applyMethodOverride(Request& req) {
  static constexpr std::string_view kMethods[] = {"GET",    "HEAD",  "POST",    "PUT",
                                                  "DELETE", "TRACE", "CONNECT", "COPY"};
  if (req.method != "POST") return;
  const std::string* override = req.header("X-HTTP-Method-Override");
  if (!override) return;
  if (std::find(std::begin(kMethods), std::end(kMethods), *override) == std::end(kMethods)) return;
  req.method = *override;
}

Result<std::string> jsonpCallback(const Request& req, const ServerConfig& config) {
  if (!config.allowJsonp) return std::string();
  auto callback = req.param("callback");
  if (!callback || callback->empty()) return std::string();
  for (char c : *callback) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '[' || c == ']';
    if (!ok) return badRequest("invalid_callback");
  }
  return std::string(*callback);
}

std::string jsonpStart(const std::string& callback) { return "/* CouchDB */" + callback + "("; }

void wrapJsonp(Response& response, const std::string& callback) {
  if (response.body.empty() || !isJsonType(response.header("Content-Type"))) return;
  std::string body = jsonpStart(callback);
  std::string_view json = response.body;
  while (!json.empty() && (json.back() == '\n' || json.back() == '\r')) json.remove_suffix(1);
  body.append(json);
  body.append(kJsonpEnd);
  body.push_back('\n');
  response.body = std::move(body);
  response.setHeader("Content-Type", "application/javascript");
}

bool jsonpStream(Headers& headers) {
  if (!isJsonType(findHeader(headers, "Content-Type"))) return false;
  setHeader(headers, "Content-Type", "application/javascript");
  return true;
}

}  // namespace settee::http
