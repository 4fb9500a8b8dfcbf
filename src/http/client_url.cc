#include "http/client_url.h"

#include <uv.h>

#include <cctype>
#include <charconv>

#include "http/request.h"

namespace settee::http {

namespace {

bool unreserved(unsigned char c) { return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

std::string percentEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool validHostName(std::string_view host) {
  if (host.empty()) return false;
  for (unsigned char c : host) {
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

std::string authority(const Url& url, std::string_view password) {
  std::string out = url.scheme + "://";
  if (!url.user.empty() || !password.empty()) {
    out += percentEncode(url.user);
    if (!password.empty()) out += ":" + std::string(password);
    out += "@";
  }
  out += url.hostHeader();
  return out;
}

}  // namespace

std::optional<Url> Url::parse(std::string_view text) {
  Url url;
  size_t colon = text.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  url.scheme = lower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  url.port = url.https() ? 443 : 80;
  std::string_view rest = text.substr(colon + 3);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);

  size_t authEnd = rest.find_first_of("/?");
  std::string_view auth = rest.substr(0, authEnd);
  std::string_view target = authEnd == std::string_view::npos ? std::string_view() : rest.substr(authEnd);

  // The last '@' ends the userinfo: a password may contain a raw '@' even though it should not.
  if (size_t at = auth.rfind('@'); at != std::string_view::npos) {
    std::string_view info = auth.substr(0, at);
    auth = auth.substr(at + 1);
    size_t sep = info.find(':');
    auto user = percentDecode(info.substr(0, sep), false);
    auto password = sep == std::string_view::npos ? std::optional<std::string>("")
                                                  : percentDecode(info.substr(sep + 1), false);
    if (!user || !password) return std::nullopt;
    url.user = std::move(*user);
    url.password = std::move(*password);
  }

  std::string_view portText;
  if (!auth.empty() && auth.front() == '[') {
    size_t close = auth.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = lower(auth.substr(1, close - 1));
    std::string_view after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      portText = after.substr(1);
    }
    unsigned char buf[sizeof(struct in6_addr)];
    if (uv_inet_pton(AF_INET6, url.host.c_str(), buf) != 0) return std::nullopt;
  } else {
    size_t sep = auth.find(':');
    url.host = lower(auth.substr(0, sep));
    if (sep != std::string_view::npos) portText = auth.substr(sep + 1);
    if (!validHostName(url.host)) return std::nullopt;
  }
  if (!portText.empty()) {
    int port = 0;
    auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc() || end != portText.data() + portText.size() || port < 1 || port > 65535) {
      return std::nullopt;
    }
    url.port = port;
  } else if (auth.size() > 0 && auth.back() == ':') {
    return std::nullopt;
  }

  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  for (unsigned char c : url.target) {
    if (c <= ' ' || c == 0x7f) return std::nullopt;  // would break the request line
  }
  return url;
}

std::string Url::hostHeader() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!defaultPort()) out += ":" + std::to_string(port);
  return out;
}

std::string Url::toString() const { return authority(*this, percentEncode(password)) + target; }

std::string Url::redacted() const {
  return authority(*this, password.empty() ? std::string_view() : "*****") + target;
}

std::string Url::origin() const {
  std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + name + ":" + std::to_string(port);
}

std::string encodePathSegment(std::string_view segment) { return percentEncode(segment); }

std::string encodeQueryValue(std::string_view value) { return percentEncode(value); }

std::string encodeDocId(std::string_view id) {
  for (std::string_view prefix : {"_design/", "_local/"}) {
    if (id.substr(0, prefix.size()) == prefix)
      return std::string(prefix) + percentEncode(id.substr(prefix.size()));
  }
  return percentEncode(id);
}

std::string buildQuery(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    out += out.empty() ? "?" : "&";
    out += percentEncode(key) + "=" + percentEncode(value);
  }
  return out;
}

std::string urlJoin(std::string_view base, std::string_view path) {
  if (path.empty()) return std::string(base);
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string out(base);
  out += '/';
  out += path;
  return out;
}

}  // namespace settee::http
