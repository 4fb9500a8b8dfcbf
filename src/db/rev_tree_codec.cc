#include "db/rev_tree_codec.h"

namespace settee::db {
namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kDeleted = 1, kHasBody = 2, kPacked = 4;

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool getVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool packable(const std::string& hash) {
  if (hash.size() != 32) return false;
  for (char c : hash) {
    if (hexValue(c) < 0) return false;
  }
  return true;
}

}  // namespace

void encodeRevTree(const RevTree& tree, std::string& out) {
  out.clear();
  out.push_back(static_cast<char>(kVersion));
  putVarint(out, tree.size());
  for (const RevNode& n : tree.nodes()) {
    putVarint(out, n.gen);
    putVarint(out, static_cast<uint64_t>(n.parent + 1));
    bool packed = packable(n.hash);
    out.push_back(static_cast<char>((n.deleted ? kDeleted : 0) | (n.hasBody ? kHasBody : 0) |
                                    (packed ? kPacked : 0)));
    if (packed) {
      for (size_t i = 0; i < 32; i += 2) {
        out.push_back(static_cast<char>(hexValue(n.hash[i]) << 4 | hexValue(n.hash[i + 1])));
      }
    } else {
      putVarint(out, n.hash.size());
      out.append(n.hash);
    }
  }
}

std::optional<RevTree> decodeRevTree(std::string_view in) {
  static const char* kHex = "0123456789abcdef";
  if (in.empty() || static_cast<uint8_t>(in[0]) != kVersion) return std::nullopt;
  in.remove_prefix(1);
  uint64_t count = 0;
  if (!getVarint(in, count) || count > in.size()) return std::nullopt;
  std::vector<RevNode> nodes;
  nodes.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    RevNode n;
    uint64_t parent = 0;
    if (!getVarint(in, n.gen) || !getVarint(in, parent) || in.empty()) return std::nullopt;
    if (parent > i) return std::nullopt;  // a parent always precedes its child
    n.parent = static_cast<int32_t>(parent) - 1;
    auto flags = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    n.deleted = flags & kDeleted;
    n.hasBody = flags & kHasBody;
    if (flags & kPacked) {
      if (in.size() < 16) return std::nullopt;
      n.hash.resize(32);
      for (size_t b = 0; b < 16; ++b) {
        auto byte = static_cast<uint8_t>(in[b]);
        n.hash[2 * b] = kHex[byte >> 4];
        n.hash[2 * b + 1] = kHex[byte & 15];
      }
      in.remove_prefix(16);
    } else {
      uint64_t len = 0;
      if (!getVarint(in, len) || len > in.size()) return std::nullopt;
      n.hash.assign(in.substr(0, len));
      in.remove_prefix(len);
    }
    nodes.push_back(std::move(n));
  }
  if (!in.empty()) return std::nullopt;
  return RevTree::fromNodes(std::move(nodes));
}

}  // namespace settee::db
