// http/auth.h — who is calling, and may they.
//
// Server admins come from the config's [admins] section: a plain password is hashed at start-up (only
// the hash is kept); a hashed value is taken as CouchDB writes it ("-pbkdf2:sha256-<key>,<salt>,<iter>",
// older "-pbkdf2-..." and "-hashed-..." too; see password.h). Users are documents
// `org.couchdb.user:<name>` in the `_users` database. A `password` field written there is replaced by
// CouchDB 3.4's fields: password_scheme "pbkdf2", pbkdf2_prf "sha256", salt, iterations 600000,
// derived_key. Older hashes (SHA-1, "simple", fewer iterations) still log in, and the first good login
// rewrites the document with a new hash (a write conflict just skips that).
// Credentials: HTTP Basic on any request, or the `AuthSession` cookie that POST /_session hands out
// (a "name:expiry" valid 10 minutes, HMAC-signed with a per-node secret and, as CouchDB does, the
// user's salt, so that a changed password ends the user's sessions).
// With no admin configured the node is in "admin party": everyone is an admin (allowed on loopback only;
// the serve command refuses to bind elsewhere without an admin).
//
// Cost and abuse (CouchDB 3.4's model):
// - A password check costs one PBKDF2 of 600,000 iterations; a name that is no user costs the same (a
//   dummy hash is checked), and derived keys are compared in constant time.
// - A good (name, password) is remembered for 10 minutes (at most 1,024 names), keyed by an HMAC of the
//   password under a random per-process key, never the password itself; the entry holds only if the
//   stored hash it was checked against is still the one in force, so a changed password (or user doc,
//   or admin) is checked afresh. The user documents themselves (hash and roles, which cookie requests
//   need too) are cached until `_users` changes (a change listener on it) and at most 60 seconds.
// - Lockout as [chttpd_auth_lockout]: 5 failures for one (name, peer address) refuse further attempts
//   from there, even with the right password, with 403 "Account is temporarily locked..." until 5
//   minutes after the first failure; at most 10,000 pairs are tracked. Basic auth and POST /_session.
//   As in CouchDB, attempts already past the check when the fifth failure lands still run: an attacker
//   gains at most one guess per worker thread beyond the five.
// Thread-safe: called from the thread pool; the PBKDF2 work runs outside any lock.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/api.h"
#include "http/expiring_map.h"
#include "http/password.h"

namespace settee::http {

class Auth {
 public:
  Auth(const ServerConfig& config, DataDir& data, std::string secret);
  ~Auth();
  Auth(const Auth&) = delete;
  Auth& operator=(const Auth&) = delete;
  bool adminParty() const;
  // Takes the admins and the session timeout of a changed configuration (LiveConfig's listener): an
  // admin added, removed or given a new password counts from the next request on.
  void configure(const ServerConfig& config);

  // The caller named by the request's credentials: nullopt when there are none, unauthorized when they
  // are wrong, forbidden when the name is locked out for the request's peer.
  Result<std::optional<UserCtx>> authenticate(const Request& req);
  // True when the request's Basic credentials were checked recently and need no password hash now; the
  // Api runs requests that may hash a password as slow work. Cheap: no hashing, no database read.
  bool knownCredentials(const Request& req);
  // Checks a name and password (admins first, then _users) coming from `peer` (an IP address), with
  // the lockout: unauthorized when wrong, forbidden when locked out.
  Result<UserCtx> login(std::string_view name, std::string_view password, std::string_view peer);
  // The value of the AuthSession cookie for `user`.
  std::string sessionCookie(const std::string& name);
  // May `user` do what `access` asks on `db`? forbidden/unauthorized when not.
  Status authorize(const UserCtx& user, Database* db, Access access);

  // A `_users` document body with its `password` replaced by a fresh hash (password_scheme,
  // pbkdf2_prf, salt, iterations, derived_key); unchanged when it has no password.
  static std::string hashUserDoc(std::string_view json);

 private:
  // CouchDB's [chttpd_auth_lockout] defaults: threshold, max_lifetime, max_objects.
  static constexpr uint32_t kLockoutThreshold = 5;
  static constexpr std::chrono::milliseconds kLockoutLifetime{300'000};
  static constexpr size_t kLockoutPairs = 10'000;
  // Good passwords are remembered as long as a session cookie lasts (CouchDB's auth cache keeps users
  // 10 minutes too); 1,024 names covers the clients of a gateway at a few hundred bytes each.
  static constexpr std::chrono::minutes kVerifiedLifetime{10};
  static constexpr size_t kVerifiedNames = 1024;
  // User documents: the change listener already drops them when _users changes; the lifetime is a
  // backstop, short enough that nothing stale can outlive a minute.
  static constexpr std::chrono::seconds kRecordLifetime{60};
  static constexpr size_t kRecordNames = 1024;

  // What a `_users` document says about logging in.
  struct UserRecord {
    std::optional<PasswordHash> hash;
    std::vector<std::string> roles;
    uint64_t generation = 0;  // usersGeneration_ when read
  };
  // A (name, password) found good against the stored hash with this fingerprint.
  struct Verified {
    std::string mac;  // passwordMac(name, password)
    std::string fingerprint;
  };

  // Who a session cookie for `name` stands for, and the salt its signature covers.
  struct SessionUser {
    UserCtx user;
    std::string salt;
  };

  Result<UserCtx> checkPassword(const std::string& name, std::string_view password);
  std::optional<SessionUser> sessionUser(const std::string& name);
  std::optional<UserRecord> userRecord(const std::string& name);
  // The `_users` database (null when there is none) and the generation its reads belong to.
  std::pair<std::shared_ptr<Database>, uint64_t> usersDb();
  // Rewrites the user's document with a fresh hash of `password` if it still holds `old`; the new hash
  // when written.
  std::optional<PasswordHash> upgrade(const std::string& name, std::string_view password,
                                      const PasswordHash& old);
  std::string passwordMac(std::string_view name, std::string_view password) const;

  using Admins = std::map<std::string, PasswordHash>;
  std::shared_ptr<const Admins> admins() const;

  DataDir& data_;
  std::string secret_;
  std::string cacheKey_;  // random per process: the key of passwordMac

  std::atomic<int64_t> sessionSeconds_{600};  // [chttpd_auth] timeout

  mutable std::mutex mu_;  // guards everything below
  std::shared_ptr<const Admins> admins_ = std::make_shared<const Admins>();
  ExpiringMap<UserRecord> records_{kRecordNames, kRecordLifetime};
  ExpiringMap<Verified> verified_{kVerifiedNames, kVerifiedLifetime};
  // Failures by a digest of (peer, name): a key of fixed size, so 10,000 of them stay small whatever
  // names clients send.
  ExpiringMap<uint32_t> failures_{kLockoutPairs, kLockoutLifetime};
  std::shared_ptr<Database> usersDb_;
  Database::ListenerId usersListener_ = 0;
  // Bumped by any write to `_users` (and when the database is replaced): a cached record of another
  // generation is read again. Shared with the listener, which may run after this Auth is gone.
  std::shared_ptr<std::atomic<uint64_t>> usersGeneration_ = std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace settee::http
