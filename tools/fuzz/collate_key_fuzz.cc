// Index keys (db/collate_key.h): every value a document holds becomes a key whose bytewise order must be
// the order Mango's matcher uses (db::collate in db/mango_value.h); were they to disagree, an index range
// would skip documents the selector matches, or the other way round.
// Input: a JSON value on the first line, another on the rest.
// Properties: a key is deterministic, and the same from a parsed value as from its owned copy
// (MangoValue); for two values, the sign of memcmp of their keys is the sign of collate(a, b), and
// collate is antisymmetric.
//
// Numbers are keyed as doubles (as JavaScript and PouchDB see them) while the matcher compares two
// integers exactly, so integers beyond 2^53 that differ only past a double's precision get equal keys:
// pairs holding such integers are left out of the order property (a known limit, named in collate_key.h).
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <string>

#include "db/collate_key.h"
#include "db/mango_value.h"
#include "fuzz_util.h"

using namespace settee;
using simdjson::dom::element;
using simdjson::dom::element_type;

namespace {

int sign(int x) { return (x > 0) - (x < 0); }

int compareKeys(const std::string& a, const std::string& b) {
  int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) return sign(c);
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

std::string keyOf(element e) {
  std::string out;
  db::appendCollationKey(e, out);
  return out;
}

// True when `e` holds an integer a double cannot represent exactly.
bool hasWideInteger(element e) {
  constexpr double kExact = 9007199254740992.0;  // 2^53
  switch (e.type()) {
    case element_type::INT64:
      return std::fabs(static_cast<double>(e.get_int64().value_unsafe())) > kExact;
    case element_type::UINT64:
      return static_cast<double>(e.get_uint64().value_unsafe()) > kExact;
    case element_type::ARRAY: {
      // Kept in a variable: a range-for over value_unsafe() of a temporary result would outlive it.
      simdjson::dom::array items = e.get_array().value_unsafe();
      for (element item : items) {
        if (hasWideInteger(item)) return true;
      }
      return false;
    }
    case element_type::OBJECT: {
      simdjson::dom::object members = e.get_object().value_unsafe();
      for (auto member : members) {
        if (hasWideInteger(member.value)) return true;
      }
      return false;
    }
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [first, rest] = fuzz::splitLine(fuzz::asText(data, size));
  simdjson::dom::parser pa, pb;
  element a, b;
  const bool haveA = !pa.parse(first.data(), first.size()).get(a);
  const bool haveB = !pb.parse(rest.data(), rest.size()).get(b);

  for (auto [have, e] : {std::pair{haveA, a}, std::pair{haveB, b}}) {
    if (!have) continue;
    const std::string key = keyOf(e);
    FUZZ_CHECK(!key.empty());
    FUZZ_CHECK(keyOf(e) == key);
    std::string owned;
    db::appendCollationKey(db::MangoValue::copyOf(e), owned);
    FUZZ_CHECK(owned == key);
    FUZZ_CHECK(db::collate(e, db::MangoValue::copyOf(e)) == 0);
  }
  if (!haveA || !haveB || hasWideInteger(a) || hasWideInteger(b)) return 0;

  const int byCollate = sign(db::collate(a, db::MangoValue::copyOf(b)));
  FUZZ_CHECK(sign(db::collate(b, db::MangoValue::copyOf(a))) == -byCollate);
  FUZZ_CHECK(compareKeys(keyOf(a), keyOf(b)) == byCollate);
  return 0;
}
