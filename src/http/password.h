// http/password.h — a stored password hash as CouchDB 3.4 writes it, and the check of a password against it.
//
// Schemes understood (all of CouchDB's, old and new):
// - PBKDF2 with a named PRF: CouchDB's `pbkdf2_prf` values "sha" (SHA-1, the only one before 3.4 and the
//   meaning of an absent field), "sha224", "sha256", "sha384", "sha512". New hashes use SHA-256 and
//   600,000 iterations, CouchDB 3.4's defaults. The salt is used as the text it is stored as (CouchDB
//   hashes the hex characters, not the bytes they spell).
// - "simple": hex(SHA-1(password ++ salt)), CouchDB 1.x's `password_sha` and the config's `-hashed-`.
// Where they live: a `_users` document (password_scheme, pbkdf2_prf, salt, iterations, derived_key, or
// password_sha) and an [admins] config value ("-pbkdf2:sha256-<key>,<salt>,<iterations>" as 3.4 writes
// it, "-pbkdf2-<key>,<salt>,<iterations>" for SHA-1, "-hashed-<key>,<salt>").
// Plain values, safe to copy and to share between threads; verify() is pure and costs the hash's work.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace settee::http {

struct PasswordHash {
  static constexpr const char* kDefaultPrf = "sha256";
  static constexpr uint32_t kDefaultIterations = 600'000;
  // A stored hash asking for more work than this is refused rather than run: it would hold a worker
  // thread for seconds on every attempt.
  static constexpr uint64_t kMaxIterations = 10'000'000;

  enum class Scheme { Pbkdf2, Simple };
  Scheme scheme = Scheme::Pbkdf2;
  std::string prf = kDefaultPrf;  // CouchDB's name for the PBKDF2 PRF ("sha" is SHA-1)
  std::string salt;
  uint32_t iterations = kDefaultIterations;
  std::string derivedKey;  // lowercase hex

  // A fresh hash of `password`: a random 16-byte salt (as 32 hex characters) and today's defaults.
  static PasswordHash make(std::string_view password);
  // The hash in an [admins] value; nullopt when the value is a plain-text password. A value that looks
  // hashed but does not parse gives a hash that no password matches (fail closed).
  static std::optional<PasswordHash> fromAdminConfig(std::string_view value);
  // The hash held by a `_users` document; nullopt when it holds none this code understands.
  static std::optional<PasswordHash> fromUserDoc(simdjson::dom::element doc);
  // A hash that matches no password and costs what a default one does: checked in place of a user that
  // does not exist, so that an unknown name answers as slowly as a wrong password.
  static const PasswordHash& dummy();

  // Does `password` match? The derived keys are compared in constant time.
  bool verify(std::string_view password) const;
  // Is this what make() would produce today? Anything else is rewritten on the next good login.
  bool current() const;
  // What tells two stored hashes apart (a changed password changes it), for caches to compare.
  std::string fingerprint() const;
};

// `doc` (a `_users` document) with `hash` in place of whatever password fields it had (`password`
// included), as CouchDB 3.4 writes them: the hash fields first, then the others in their order.
std::string userDocWithHash(simdjson::dom::element doc, const PasswordHash& hash);

// PBKDF2 of `password` with `prf` (CouchDB's name) into `keyBytes` bytes, as lowercase hex; empty when
// the PRF is unknown or the parameters are out of range.
std::string pbkdf2Hex(std::string_view prf, std::string_view password, std::string_view salt,
                      uint64_t iterations, size_t keyBytes);

}  // namespace settee::http
