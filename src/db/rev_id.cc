#include "db/rev_id.h"

#include <cctype>
#include <charconv>

namespace settee::db {

bool validRevHash(std::string_view hash) {
  if (hash.empty() || hash.size() > 128) return false;
  for (char c : hash) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!ok) return false;
  }
  return true;
}

std::optional<RevId> RevId::parse(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 19) return std::nullopt;
  uint64_t gen = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + dash, gen);
  if (ec != std::errc() || end != text.data() + dash || gen == 0 || text[0] == '+') return std::nullopt;
  std::string_view hash = text.substr(dash + 1);
  if (!hash.empty() && !validRevHash(hash)) return std::nullopt;
  if (!couchSyntax(text)) return std::nullopt;  // 32 characters that are not hex, which CouchDB refuses
  return RevId{gen, std::string(hash)};
}

bool RevId::couchSyntax(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0) return false;
  for (char c : text.substr(0, dash)) {
    if (c < '0' || c > '9') return false;
  }
  std::string_view hash = text.substr(dash + 1);
  if (hash.size() != 32) return true;
  for (char c : hash) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace settee::db
