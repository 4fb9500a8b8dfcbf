// http/auth.h — who is calling, and may they.
//
// Server admins come from the config's [admins] section (plain passwords are hashed with PBKDF2 at
// start-up and only the hash is kept). Users are documents `org.couchdb.user:<name>` in the `_users`
// database, with a PBKDF2 `derived_key`, `salt` and `iterations` (a `password` field is hashed on write).
// Credentials: HTTP Basic on any request, or the `AuthSession` cookie that POST /_session hands out
// (an HMAC-signed "name:expiry", valid 10 minutes, refreshed on use, signed with a per-node secret).
// With no admin configured the node is in "admin party": everyone is an admin (allowed on loopback only;
// the serve command refuses to bind elsewhere without an admin).
// Thread-safe: called from the thread pool.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "http/api.h"

namespace settee::http {

class Auth {
 public:
  Auth(const ServerConfig& config, DataDir& data, std::string secret);
  bool adminParty() const { return admins_.empty(); }

  // The caller named by the request's credentials: nullopt when there are none, unauthorized when they
  // are wrong.
  Result<std::optional<UserCtx>> authenticate(const Request& req);
  // True when the request's Basic credentials were checked recently and need no password hash now; the
  // Api runs requests that may hash a password as slow work. Cheap: no hashing, no database read.
  bool knownCredentials(const Request& req);
  // Checks a name and password (admins first, then _users).
  Result<UserCtx> login(std::string_view name, std::string_view password);
  // The value of the AuthSession cookie for `user`.
  std::string sessionCookie(const std::string& name);
  // May `user` do what `access` asks on `db`? forbidden/unauthorized when not.
  Status authorize(const UserCtx& user, Database* db, Access access);

  // PBKDF2-SHA1 (CouchDB's scheme): hex of the derived key.
  static std::string pbkdf2Hex(std::string_view password, std::string_view salt, uint32_t iterations);
  // A `_users` document body with its `password` replaced by derived_key/salt/iterations; unchanged
  // when it has no password.
  static std::string hashUserDoc(std::string_view json);

 private:
  struct Admin {
    std::string salt;
    uint32_t iterations = 10;
    std::string derivedKey;
  };
  Result<UserCtx> checkUser(std::string_view name, std::string_view password);
  std::map<std::string, Admin> admins_;
  DataDir& data_;
  std::string secret_;
};

}  // namespace settee::http
