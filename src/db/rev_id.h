// rev_id.h — a CouchDB revision id, `N-hash`.
//
// N is the generation (the depth of the revision in its document's tree, from 1; `_local` documents use
// 0-N and never come here), hash is an opaque token: Settee generates 32 lowercase hex characters, peers
// may send other alphanumeric tokens and we keep them as sent. The hash may be empty, as CouchDB allows:
// `"_rev":"1-"` with new_edits=false stores revision `1-`. Plain value type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace settee::db {

struct RevId {
  uint64_t gen = 0;
  std::string hash;

  // Parses "N-hash" with N >= 1 and a hash of [0-9A-Za-z] (empty, or up to 128; hex digits when 32
  // long, as CouchDB demands); nullopt otherwise.
  static std::optional<RevId> parse(std::string_view text);
  // True when CouchDB's couch_doc:parse_rev takes `text`: digits, a dash, then anything (hex digits when
  // it is 32 characters long). Such a revision that parse() refuses (generation 0, other characters) is
  // one no tree here can hold: an edit naming it conflicts, where CouchDB answers the same.
  static bool couchSyntax(std::string_view text);
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
