// crypto.h — the digests, encodings and random tokens every layer needs: MD5 (revision ids, attachment
// digests), base64 (inline attachments, `md5-<base64>` digests, Basic credentials), hex, and random hex
// tokens (document ids, secrets, session ids). Thin wrappers over OpenSSL; thread-safe. Kept in db, the
// lowest layer, so http and the replicator share one copy of each.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace settee::db {

// Incremental MD5, so revision ids hash their parts without concatenating them first.
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void update(std::string_view bytes);
  std::string finishHex();     // 32 lowercase hex characters
  std::string finishDigest();  // "md5-<base64>", CouchDB's attachment digest
 private:
  void finish(unsigned char out[16]);
  void* ctx_;
};

std::string base64Encode(std::string_view bytes);
// Strict decode (whitespace is not allowed; padding is optional); nullopt on bad input.
std::optional<std::string> base64Decode(std::string_view text);
std::string md5Digest(std::string_view bytes);  // "md5-<base64>"

// Two lowercase hex characters per byte.
std::string hexEncode(std::string_view bytes);
// `bytes` bytes from OpenSSL's CSPRNG as 2*bytes lowercase hex characters: fit for secrets (a cookie
// secret, a session key) as well as for ids. Aborts if the generator cannot be seeded, rather than hand
// out a predictable secret.
std::string randomHex(size_t bytes);

}  // namespace settee::db
