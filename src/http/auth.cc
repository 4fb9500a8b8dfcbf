#include "http/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>

#include "db/crypto.h"
#include "db/json.h"

namespace settee::http {
namespace {

std::string hmacHex(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return db::hexEncode(std::string_view(reinterpret_cast<const char*>(out), len));
}

// Comparison whose time does not depend on where the strings differ (their lengths are not secret).
bool sameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool inList(simdjson::dom::element obj, const char* key, const std::string& value) {
  simdjson::dom::array arr;
  if (obj[key].get(arr)) return false;
  for (auto v : arr) {
    std::string_view s;
    if (!v.get(s) && s == value) return true;
  }
  return false;
}

// Does `user` appear in the names or roles of security[section]? `empty` tells whether the section
// names nobody at all.
bool listed(simdjson::dom::element security, const char* section, const UserCtx& user, bool& empty) {
  simdjson::dom::element part;
  empty = true;
  if (security[section].get(part)) return false;
  simdjson::dom::array names, roles;
  if (!part["names"].get(names) && names.size() > 0) empty = false;
  if (!part["roles"].get(roles) && roles.size() > 0) empty = false;
  if (!user.name.empty() && inList(part, "names", user.name)) return true;
  for (const auto& r : user.roles) {
    if (inList(part, "roles", r)) return true;
  }
  return false;
}

}  // namespace

Auth::Auth(const ServerConfig& config, DataDir& data, std::string secret)
    : data_(data), secret_(std::move(secret)), cacheKey_(db::randomHex(32)) {
  configure(config);
}

void Auth::configure(const ServerConfig& config) {
  auto admins = std::make_shared<Admins>();
  for (const auto& [name, password] : config.admins) {
    auto hash = PasswordHash::fromAdminConfig(password);
    admins->emplace(name, hash ? std::move(*hash) : PasswordHash::make(password));
  }
  sessionSeconds_.store(static_cast<int64_t>(config.sessionTimeout));
  std::lock_guard lock(mu_);
  admins_ = std::move(admins);
}

std::shared_ptr<const Auth::Admins> Auth::admins() const {
  std::lock_guard lock(mu_);
  return admins_;
}

bool Auth::adminParty() const { return admins()->empty(); }

std::string Auth::sessionCookie(const std::string& name) {
  std::string payload = name + ":" + std::to_string(nowSeconds() + sessionSeconds_.load());
  auto who = sessionUser(name);
  return db::base64Encode(payload + ":" + hmacHex(secret_ + (who ? who->salt : ""), payload));
}

Result<std::optional<UserCtx>> Auth::authenticate(const Request& req) {
  if (const std::string* auth = req.header("Authorization"); auth && auth->rfind("Basic ", 0) == 0) {
    auto decoded = db::base64Decode(trimWhitespace(std::string_view(*auth).substr(6)));
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) return Status(ErrorCode::Unauthorized, "Malformed Basic credentials");
    auto user = login(decoded->substr(0, colon), decoded->substr(colon + 1), req.peer);
    if (!user) return user.status();
    return std::optional<UserCtx>(std::move(*user));
  }
  if (const std::string* cookie = req.header("Cookie")) {
    size_t at = cookie->find("AuthSession=");
    if (at != std::string::npos) {
      std::string value = cookie->substr(at + 12, cookie->find(';', at) - at - 12);
      if (value.empty()) return std::optional<UserCtx>();
      auto decoded = db::base64Decode(value);
      size_t last = decoded ? decoded->rfind(':') : std::string::npos;
      size_t mid = last != std::string::npos && last > 0 ? decoded->rfind(':', last - 1) : std::string::npos;
      if (mid == std::string::npos) return Status(ErrorCode::Unauthorized, "Malformed AuthSession cookie");
      std::string payload = decoded->substr(0, last);
      std::string name = decoded->substr(0, mid);
      // The signature covers the user's salt, as CouchDB's does: a changed password ends its sessions.
      // (The user's document is cached: a cookie-authenticated client reads _users only after it changed.)
      auto who = sessionUser(name);
      if (who && !sameSecret(hmacHex(secret_ + who->salt, payload), decoded->substr(last + 1)))
        return Status(ErrorCode::Unauthorized, "Bad session cookie");
      int64_t expiry = std::atoll(decoded->substr(mid + 1, last - mid - 1).c_str());
      if (expiry < nowSeconds()) return Status(ErrorCode::Unauthorized, "Session expired");
      if (who) return std::optional<UserCtx>(std::move(who->user));
      return Status(ErrorCode::Unauthorized, "Session user no longer exists");
    }
  }
  return std::optional<UserCtx>();
}

Status Auth::authorize(const UserCtx& user, Database* db, Access access) {
  if (access == Access::Public || user.isAdmin()) return Status::ok();
  if (access == Access::Authenticated) {
    if (!user.name.empty()) return Status::ok();
    return Status(ErrorCode::Unauthorized, "You are not an authenticated user");
  }
  // CouchDB asks an anonymous caller for credentials (401) and tells a known one no (403). Its system
  // databases answer as server-admin routes do.
  const bool systemDb = db && (db->name() == "_users" || db->name() == "_replicator");
  auto refuse = [&](std::string reason) {
    if (!user.name.empty()) return Status(ErrorCode::Forbidden, std::move(reason));
    return Status(ErrorCode::Unauthorized, systemDb || access == Access::ServerAdmin
                                               ? "You are not a server admin."
                                               : "You are not authorized to access this db.");
  };
  if (access == Access::ServerAdmin || !db) return refuse("You are not a server admin.");
  // A security object that cannot be read refuses: taking the failure for "{}" would open the database.
  auto security = db->security();
  if (!security) return security.status();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(*security).get(root)) return refuse("Bad security object");
  bool adminsEmpty = true, membersEmpty = true;
  if (listed(root, "admins", user, adminsEmpty)) return Status::ok();
  if (access == Access::DbAdmin) return refuse("You are not a db or server admin.");
  if (listed(root, "members", user, membersEmpty) || membersEmpty) return Status::ok();
  return refuse("You are not allowed to access this db.");
}

bool Auth::knownCredentials(const Request& req) {
  const std::string* auth = req.header("Authorization");
  if (!auth || auth->rfind("Basic ", 0) != 0) return true;  // nothing to hash
  auto decoded = db::base64Decode(trimWhitespace(std::string_view(*auth).substr(6)));
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) return true;  // refused without hashing
  const std::string name = decoded->substr(0, colon);
  // An HMAC, not a PBKDF2: cheap enough for the loop thread. Whether the stored hash is still the one
  // these credentials were checked against is left to the real check, which then hashes if need be.
  const std::string mac = passwordMac(name, std::string_view(*decoded).substr(colon + 1));
  std::lock_guard lock(mu_);
  const Verified* known = verified_.find(name);
  return known && known->mac.size() == mac.size() && CRYPTO_memcmp(known->mac.data(), mac.data(), mac.size()) == 0;
}

std::string Auth::hashUserDoc(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view password;
  if (parser.parse(json.data(), json.size()).get(root) || root["password"].get(password))
    return std::string(json);
  return userDocWithHash(root, PasswordHash::make(password));
}

}  // namespace settee::http
