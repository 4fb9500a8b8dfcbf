// rev_tree_codec.h — a RevTree as a compact BLOB for the `docs.tree` column.
//
// Layout: a version byte (1), a varint node count, then per node: varint generation, varint
// (parent index + 1), a flags byte (1 deleted, 2 body stored, 4 hash packed), and the hash — 16 raw
// bytes when it is 32 lowercase hex characters (what Settee and CouchDB generate), else a varint
// length and the bytes. decode() rejects anything malformed instead of trusting the bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "db/rev_tree.h"

namespace settee::db {

void encodeRevTree(const RevTree& tree, std::string& out);
std::optional<RevTree> decodeRevTree(std::string_view blob);

}  // namespace settee::db
