#include "http/absolute_url.h"

namespace settee::http {

std::string absoluteUrl(const Request& req, std::string_view path) {
  const std::string* host = req.header("X-Forwarded-Host");
  if (!host) host = req.header("Host");
  if (!host || host->empty()) return std::string(path);
  std::string scheme = "http";
  if (const std::string* ssl = req.header("X-Forwarded-Ssl"); ssl && *ssl == "on") {
    scheme = "https";
  } else if (const std::string* proto = req.header("X-Forwarded-Proto"); proto && !proto->empty()) {
    scheme = *proto;
  }
  std::string url;
  url.reserve(scheme.size() + 3 + host->size() + path.size());
  url.append(scheme).append("://").append(*host).append(path);
  return url;
}

}  // namespace settee::http
