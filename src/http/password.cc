#include "http/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>

#include "db/json.h"

namespace settee::http {
namespace {

std::string hex(const unsigned char* p, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

const EVP_MD* digestFor(std::string_view prf) {
  if (prf == "sha") return EVP_sha1();
  if (prf == "sha224") return EVP_sha224();
  if (prf == "sha256") return EVP_sha256();
  if (prf == "sha384") return EVP_sha384();
  if (prf == "sha512") return EVP_sha512();
  return nullptr;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool parseIterations(std::string_view text, uint32_t& out) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n == 0 || n > PasswordHash::kMaxIterations)
    return false;
  out = static_cast<uint32_t>(n);
  return true;
}

// A hash whose derived key can never be produced (it is not hex): what a malformed stored hash becomes.
PasswordHash unusable() {
  PasswordHash h;
  h.salt = "unusable";
  h.derivedKey = "-";
  return h;
}

}  // namespace

std::string pbkdf2Hex(std::string_view prf, std::string_view password, std::string_view salt,
                      uint64_t iterations, size_t keyBytes) {
  const EVP_MD* md = digestFor(prf);
  unsigned char key[64];
  if (!md || iterations == 0 || iterations > PasswordHash::kMaxIterations || keyBytes == 0 ||
      keyBytes > sizeof key)
    return {};
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), md, static_cast<int>(keyBytes), key) != 1)
    return {};
  return hex(key, keyBytes);
}

std::string userDocWithHash(simdjson::dom::element doc, const PasswordHash& hash) {
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  w.StartObject();
  if (hash.scheme == PasswordHash::Scheme::Simple) {
    db::writeKey(w, "password_scheme");
    db::writeString(w, "simple");
    db::writeKey(w, "salt");
    db::writeString(w, hash.salt);
    db::writeKey(w, "password_sha");
    db::writeString(w, hash.derivedKey);
  } else {
    db::writeKey(w, "password_scheme");
    db::writeString(w, "pbkdf2");
    db::writeKey(w, "pbkdf2_prf");
    db::writeString(w, hash.prf);
    db::writeKey(w, "salt");
    db::writeString(w, hash.salt);
    db::writeKey(w, "iterations");
    w.Uint(hash.iterations);
    db::writeKey(w, "derived_key");
    db::writeString(w, hash.derivedKey);
  }
  simdjson::dom::object fields;
  if (!doc.get(fields)) {
    for (auto field : fields) {
      if (field.key == "password" || field.key == "password_scheme" || field.key == "pbkdf2_prf" ||
          field.key == "salt" || field.key == "iterations" || field.key == "derived_key" ||
          field.key == "password_sha")
        continue;
      db::writeKey(w, field.key);
      db::writeElement(w, field.value);
    }
  }
  w.EndObject();
  return std::string(db::bufferView(buf));
}

PasswordHash PasswordHash::make(std::string_view password) {
  unsigned char raw[16];
  RAND_bytes(raw, sizeof raw);
  PasswordHash h;
  h.salt = hex(raw, sizeof raw);
  h.derivedKey =
      pbkdf2Hex(h.prf, password, h.salt, h.iterations, static_cast<size_t>(EVP_MD_size(EVP_sha256())));
  return h;
}

std::optional<PasswordHash> PasswordHash::fromAdminConfig(std::string_view value) {
  PasswordHash h;
  std::string_view rest;
  if (value.starts_with("-hashed-")) {
    h.scheme = Scheme::Simple;
    h.prf = "sha";
    rest = value.substr(8);
    size_t comma = rest.find(',');
    if (comma == std::string_view::npos) return unusable();
    h.derivedKey = lower(rest.substr(0, comma));
    h.salt = std::string(rest.substr(comma + 1));
    return h;
  }
  if (value.starts_with("-pbkdf2-")) {
    h.prf = "sha";
    rest = value.substr(8);
  } else if (value.starts_with("-pbkdf2:")) {
    size_t dash = value.find('-', 8);
    if (dash == std::string_view::npos) return unusable();
    h.prf = std::string(value.substr(8, dash - 8));
    rest = value.substr(dash + 1);
  } else {
    return std::nullopt;
  }
  size_t c1 = rest.find(','), c2 = rest.rfind(',');
  if (c1 == std::string_view::npos || c2 == c1 || !digestFor(h.prf) ||
      !parseIterations(rest.substr(c2 + 1), h.iterations))
    return unusable();
  h.derivedKey = lower(rest.substr(0, c1));
  h.salt = std::string(rest.substr(c1 + 1, c2 - c1 - 1));
  return h;
}

std::optional<PasswordHash> PasswordHash::fromUserDoc(simdjson::dom::element doc) {
  PasswordHash h;
  std::string_view scheme, key, salt, prf;
  if (doc["password_scheme"].get(scheme)) scheme = doc["derived_key"].error() ? "simple" : "pbkdf2";
  if (doc["salt"].get(salt)) return std::nullopt;
  h.salt = std::string(salt);
  if (scheme == "simple") {
    if (doc["password_sha"].get(key)) return std::nullopt;
    h.scheme = Scheme::Simple;
    h.prf = "sha";
    h.derivedKey = lower(key);
    return h;
  }
  if (scheme != "pbkdf2" || doc["derived_key"].get(key)) return std::nullopt;
  // Before 3.4 CouchDB wrote no pbkdf2_prf: those hashes are SHA-1.
  h.prf = doc["pbkdf2_prf"].get(prf) ? "sha" : std::string(prf);
  uint64_t iterations = 0;
  if (doc["iterations"].get(iterations) || iterations == 0 || iterations > kMaxIterations ||
      !digestFor(h.prf))
    return unusable();
  h.iterations = static_cast<uint32_t>(iterations);
  h.derivedKey = lower(key);
  return h;
}

const PasswordHash& PasswordHash::dummy() {
  static const PasswordHash h = [] {
    PasswordHash d;
    d.salt = "00000000000000000000000000000000";
    d.derivedKey = std::string(64, '-');  // not hex: no password derives it
    return d;
  }();
  return h;
}

bool PasswordHash::verify(std::string_view password) const {
  std::string derived;
  if (scheme == Scheme::Simple) {
    std::string input(password);
    input += salt;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    OPENSSL_cleanse(input.data(), input.size());
    derived = hex(digest, sizeof digest);
  } else {
    // The key is as long as the stored one (CouchDB stores the PRF's output size), so the work done does
    // not depend on anything the caller controls.
    derived = pbkdf2Hex(prf, password, salt, iterations, std::max<size_t>(derivedKey.size() / 2, 1));
  }
  return !derived.empty() && derived.size() == derivedKey.size() &&
         CRYPTO_memcmp(derived.data(), derivedKey.data(), derived.size()) == 0;
}

bool PasswordHash::current() const {
  return scheme == Scheme::Pbkdf2 && prf == kDefaultPrf && iterations >= kDefaultIterations;
}

std::string PasswordHash::fingerprint() const {
  return prf + ":" + std::to_string(iterations) + ":" + salt + ":" + derivedKey;
}

}  // namespace settee::http
