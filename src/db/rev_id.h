// rev_id.h — a CouchDB revision id, `N-hash`.
//
// N is the generation (the depth of the revision in its document's tree, from 1; `_local` documents use
// 0-N and never come here), hash is an opaque token: Settee generates 32 lowercase hex characters, peers
// may send other alphanumeric tokens and we keep them as sent. Plain value type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace settee::db {

struct RevId {
  uint64_t gen = 0;
  std::string hash;

  // Parses "N-hash" with N >= 1 and a non-empty hash of [0-9A-Za-z]; nullopt otherwise.
  static std::optional<RevId> parse(std::string_view text);
  std::string str() const { return std::to_string(gen) + "-" + hash; }
  bool operator==(const RevId&) const = default;
};

// Order used to pick a winner among leaves of equal liveness: generation, then hash as bytes.
inline bool revLess(uint64_t genA, std::string_view hashA, uint64_t genB, std::string_view hashB) {
  return genA != genB ? genA < genB : hashA < hashB;
}

// True when `hash` is a valid revision token (non-empty, alphanumeric, at most 128 characters).
bool validRevHash(std::string_view hash);

}  // namespace settee::db
