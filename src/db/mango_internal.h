// mango_internal.h — the compiled form of a Mango selector, shared by its compiler (mango.cc) and its
// matcher (mango_match.cc), and read by the planner's view of a selector (mango_analysis.cc). Not part of any
// public surface: include only from those files.
//
// A tree is built once by the compiler and is immutable afterwards; it owns every operand, so it holds no
// pointer into any JSON document. Reading it from several threads at once is safe.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <re2/re2.h>

#include <string>
#include <vector>

#include "db/mango_value.h"

namespace settee::db {

namespace detail {

enum class CondOp : uint8_t {
  Eq,
  Ne,
  Gt,
  Gte,
  Lt,
  Lte,
  Exists,
  Type,
  In,
  Nin,
  Size,
  Mod,
  Regex,
  BeginsWith,
  All,
  ElemMatch,
  AllMatch,
  KeyMapMatch,
};

// The six names $type accepts; a boolean is one type whatever its value.
enum class JsonType : uint8_t { Null, Boolean, Number, String, Array, Object };

// One node of a compiled selector. Negations are already pushed down to the leaves, so matching needs no
// $not or $nor node: only constants, conjunctions, disjunctions and conditions on a field.
struct MangoNode {
  enum class Kind : uint8_t { Const, And, Or, Field };
  Kind kind = Kind::Const;

  bool constant = true;             // Const
  std::vector<MangoNode> children;  // And, Or; for $elemMatch/$allMatch/$keyMapMatch the sub-selector

  std::vector<std::string> path;  // Field; empty means the value itself (inside $elemMatch and kin)
  CondOp op = CondOp::Eq;
  // A negation no operator can absorb ($not $regex...): the result is inverted, but only once the field
  // has been found, so a missing field still fails as in CouchDB.
  bool invert = false;
  MangoValue operand;                       // Eq .. Lte
  std::vector<MangoValue> operands;         // In, Nin, All
  bool exists = true;                       // Exists
  JsonType type = JsonType::Null;           // Type
  std::string prefix;                       // BeginsWith
  int64_t size = 0;                         // Size
  int64_t divisor = 1;                      // Mod
  int64_t remainder = 0;                    // Mod
  std::shared_ptr<const re2::RE2> regex;  // Regex; shared so copies of a tree stay cheap
};

// True when `value` (a document, or an element below $elemMatch and kin) satisfies `node`. `value` is
// read only during the call.
bool matchNode(const MangoNode& node, simdjson::dom::element value);

}  // namespace detail

}  // namespace settee::db
