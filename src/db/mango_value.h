// mango_value.h — an owned JSON value for Mango operands, and CouchDB's collation between JSON values.
//
// Contract: a MangoValue owns every byte it holds (strings, array items, object members), so a compiled
// selector can keep its operands long after the simdjson document they were read from is gone. It is a
// plain value: copy it, keep it, read it from any thread.
//
// collate() orders a value from a parsed document against an operand the way CouchDB's view collation
// does, which is what Mango's comparison operators use:
//   null < false < true < numbers < strings < arrays < objects
// - Numbers compare by value whatever their JSON spelling (1 == 1.0); integers compare exactly, a mix of an
//   integer and a fraction compares as doubles.
// - Strings compare by ICU's root collation (UCA, tertiary strength), as CouchDB's views and Mango do:
//   "a" < "A" < "b", accents after their base letter (collateStrings in collate_key.h, whose sort keys
//   order a json index the same way). Strings ICU calls equal (canonically equivalent spellings) are equal.
// - Arrays compare element by element, then the shorter one first.
// - Objects compare member by member in document order (key first, then value), then the smaller first.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace settee::db {

// A JSON number as it was written: an integer keeps its exact value, anything else is a double.
struct MangoNumber {
  enum class Rep : uint8_t { Int, Uint, Double };
  Rep rep = Rep::Int;
  int64_t i = 0;   // when rep == Int
  uint64_t u = 0;  // when rep == Uint (only for integers above INT64_MAX, as simdjson reports them)
  double d = 0;    // when rep == Double
};

struct MangoValue {
  // In collation order, so comparing two kinds is comparing their ranks.
  enum class Kind : uint8_t { Null, False, True, Number, String, Array, Object };

  Kind kind = Kind::Null;
  MangoNumber number;              // Number
  std::string string;              // String
  std::vector<MangoValue> items;   // Array
  std::vector<std::string> keys;   // Object, in document order (duplicates kept as written)
  std::vector<MangoValue> values;  // Object, values[i] belongs to keys[i]

  // A deep copy of `e`; `e` need only live for the duration of the call.
  static MangoValue copyOf(simdjson::dom::element e);
};

// Negative, zero or positive as `a` collates before, equal to or after `b`.
int collate(simdjson::dom::element a, const MangoValue& b);
// The same for a bare string (an object key, as $keyMapMatch sees it) against `b`.
int collate(std::string_view a, const MangoValue& b);
// The same between two owned values (a planner comparing the bounds of a range).
int collate(const MangoValue& a, const MangoValue& b);
// A number as a double (what an index key holds; exact below 2^53).
double asDouble(const MangoNumber& n);

}  // namespace settee::db
