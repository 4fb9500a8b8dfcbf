#include "db/rev_id.h"

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
  if (!validRevHash(hash)) return std::nullopt;
  return RevId{gen, std::string(hash)};
}

}  // namespace settee::db
