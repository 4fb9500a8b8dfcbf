#include "http/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>

#include "db/crypto.h"
#include "db/json.h"

namespace settee::http {
namespace {

constexpr uint32_t kIterations = 10;  // CouchDB's default for pbkdf2
constexpr int64_t kSessionSeconds = 600;

std::string hex(const unsigned char* p, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

std::string randomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  return hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

std::string hmacHex(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return hex(out, len);
}

// Comparison whose time does not depend on where the strings differ.
bool sameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
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

Auth::Auth(const ServerConfig& config, DataDir& data, std::string secret) : data_(data), secret_(std::move(secret)) {
  for (const auto& [name, password] : config.admins) {
    Admin admin;
    if (password.rfind("-pbkdf2-", 0) == 0) {
      // -pbkdf2-<derived key>,<salt>,<iterations>
      std::string rest = password.substr(8);
      size_t c1 = rest.find(','), c2 = rest.find(',', c1 + 1);
      if (c1 != std::string::npos && c2 != std::string::npos) {
        admin.derivedKey = rest.substr(0, c1);
        admin.salt = rest.substr(c1 + 1, c2 - c1 - 1);
        admin.iterations = static_cast<uint32_t>(std::stoul(rest.substr(c2 + 1)));
      }
    } else {
      admin.salt = randomHex(16);
      admin.iterations = kIterations;
      admin.derivedKey = pbkdf2Hex(password, admin.salt, admin.iterations);
    }
    admins_[name] = std::move(admin);
  }
}

std::string Auth::pbkdf2Hex(std::string_view password, std::string_view salt, uint32_t iterations) {
  unsigned char key[20];
  PKCS5_PBKDF2_HMAC_SHA1(password.data(), static_cast<int>(password.size()),
                         reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                         static_cast<int>(iterations), sizeof key, key);
  return hex(key, sizeof key);
}

Result<UserCtx> Auth::checkUser(std::string_view name, std::string_view password) {
  auto users = data_.open("_users");
  if (!users) return Status(ErrorCode::Unauthorized, "Name or password is incorrect.");
  auto doc = (*users)->get("org.couchdb.user:" + std::string(name));
  if (!doc) return Status(ErrorCode::Unauthorized, "Name or password is incorrect.");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(*doc).get(root)) return Status(ErrorCode::Unauthorized, "Name or password is incorrect.");
  std::string_view key, salt;
  uint64_t iterations = kIterations;
  if (root["derived_key"].get(key) || root["salt"].get(salt))
    return Status(ErrorCode::Unauthorized, "Name or password is incorrect.");
  if (root["iterations"].get(iterations)) iterations = kIterations;
  if (iterations == 0 || iterations > 10'000'000 || !sameSecret(pbkdf2Hex(password, salt, static_cast<uint32_t>(iterations)), key))
    return Status(ErrorCode::Unauthorized, "Name or password is incorrect.");
  UserCtx user{std::string(name), {}};
  simdjson::dom::array roles;
  if (!root["roles"].get(roles)) {
    for (auto r : roles) {
      std::string_view s;
      if (!r.get(s)) user.roles.emplace_back(s);
    }
  }
  return user;
}

Result<UserCtx> Auth::login(std::string_view name, std::string_view password) {
  auto it = admins_.find(std::string(name));
  if (it != admins_.end()) {
    if (!sameSecret(pbkdf2Hex(password, it->second.salt, it->second.iterations), it->second.derivedKey))
      return Status(ErrorCode::Unauthorized, "Name or password is incorrect.");
    return UserCtx{std::string(name), {"_admin"}};
  }
  return checkUser(name, password);
}

std::string Auth::sessionCookie(const std::string& name) {
  std::string payload = name + ":" + std::to_string(nowSeconds() + kSessionSeconds);
  return db::base64Encode(payload + ":" + hmacHex(secret_, payload));
}

Result<std::optional<UserCtx>> Auth::authenticate(const Request& req) {
  if (const std::string* auth = req.header("Authorization"); auth && auth->rfind("Basic ", 0) == 0) {
    auto decoded = db::base64Decode(trimWhitespace(std::string_view(*auth).substr(6)));
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) return Status(ErrorCode::Unauthorized, "Malformed Basic credentials");
    auto user = login(decoded->substr(0, colon), decoded->substr(colon + 1));
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
      if (!sameSecret(hmacHex(secret_, payload), decoded->substr(last + 1)))
        return Status(ErrorCode::Unauthorized, "Bad session cookie");
      int64_t expiry = std::atoll(decoded->substr(mid + 1, last - mid - 1).c_str());
      if (expiry < nowSeconds()) return Status(ErrorCode::Unauthorized, "Session expired");
      std::string name = decoded->substr(0, mid);
      if (admins_.count(name)) return std::optional<UserCtx>(UserCtx{name, {"_admin"}});
      UserCtx user{name, {}};
      if (auto users = data_.open("_users")) {
        if (auto doc = (*users)->get("org.couchdb.user:" + name)) {
          simdjson::dom::parser parser;
          simdjson::dom::element root;
          simdjson::dom::array roles;
          if (!parser.parse(*doc).get(root) && !root["roles"].get(roles)) {
            for (auto r : roles) {
              std::string_view s;
              if (!r.get(s)) user.roles.emplace_back(s);
            }
          }
          return std::optional<UserCtx>(std::move(user));
        }
      }
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
    return Status(ErrorCode::Unauthorized,
                  systemDb ? "You are not a server admin." : "You are not authorized to access this db.");
  };
  if (access == Access::ServerAdmin || !db) return refuse("You are not a server admin.");
  std::string security = db->security();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(security).get(root)) return refuse("Bad security object");
  bool adminsEmpty = true, membersEmpty = true;
  if (listed(root, "admins", user, adminsEmpty)) return Status::ok();
  if (access == Access::DbAdmin) return refuse("You are not a db or server admin.");
  if (listed(root, "members", user, membersEmpty) || membersEmpty) return Status::ok();
  return refuse("You are not allowed to access this db.");
}

bool Auth::knownCredentials(const Request&) { return false; }

std::string Auth::hashUserDoc(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view password;
  if (parser.parse(json.data(), json.size()).get(root) || root["password"].get(password)) return std::string(json);
  std::string salt = randomHex(16);
  std::string key = pbkdf2Hex(password, salt, kIterations);
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  w.StartObject();
  for (auto field : simdjson::dom::object(root)) {
    if (field.key == "password" || field.key == "derived_key" || field.key == "salt" || field.key == "iterations" ||
        field.key == "password_scheme")
      continue;
    db::writeKey(w, field.key);
    db::writeElement(w, field.value);
  }
  db::writeKey(w, "password_scheme");
  db::writeString(w, "pbkdf2");
  db::writeKey(w, "iterations");
  w.Uint(kIterations);
  db::writeKey(w, "derived_key");
  db::writeString(w, key);
  db::writeKey(w, "salt");
  db::writeString(w, salt);
  w.EndObject();
  return std::string(db::bufferView(buf));
}

}  // namespace settee::http
