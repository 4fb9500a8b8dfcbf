// Matching a compiled selector against a document: see mango.h for the semantics.
#include <optional>
#include <string>
#include <string_view>

#include "db/mango_internal.h"

namespace settee::db::detail {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using Path = std::vector<std::string>;

// The array or object `e` holds, by value: binding simdjson's value_unsafe() reference in a range-for
// would dangle once the temporary result it points into is destroyed. Callers check the type first.
simdjson::dom::array arrayOf(simdjson::dom::element e) { return e.get_array().value_unsafe(); }
simdjson::dom::object objectOf(simdjson::dom::element e) { return e.get_object().value_unsafe(); }

bool isInteger(element e) { return e.type() == element_type::INT64 || e.type() == element_type::UINT64; }

// What a condition looks at: a value from the document, or an object key ($keyMapMatch), which behaves as a
// string value.
struct Subject {
  element value;
  std::string_view key;
  bool isKey = false;
};

std::optional<std::string_view> stringOf(const Subject& s) {
  if (s.isKey) return s.key;
  std::string_view str;
  if (s.value.get(str) != simdjson::SUCCESS) return std::nullopt;
  return str;
}

int collate(const Subject& s, const MangoValue& v) {
  return s.isKey ? db::collate(s.key, v) : db::collate(s.value, v);
}

JsonType typeOf(const Subject& s) {
  if (s.isKey) return JsonType::String;
  switch (s.value.type()) {
    case element_type::NULL_VALUE:
      return JsonType::Null;
    case element_type::BOOL:
      return JsonType::Boolean;
    case element_type::STRING:
      return JsonType::String;
    case element_type::ARRAY:
      return JsonType::Array;
    case element_type::OBJECT:
      return JsonType::Object;
    default:
      return JsonType::Number;
  }
}

enum class Lookup { Found, Missing, BadPath };

// Follows `path` from `from`. Missing is an object without the member; BadPath is a path through a scalar,
// or through an array by something other than an index in range (CouchDB's not_found and bad_path).
Lookup lookup(const Subject& from, const Path& path, Subject& out) {
  out = from;
  if (path.empty()) return Lookup::Found;
  if (from.isKey) return Lookup::BadPath;
  element at = from.value;
  for (const std::string& segment : path) {
    if (at.type() == element_type::OBJECT) {
      if (objectOf(at).at_key(segment).get(at) != simdjson::SUCCESS) return Lookup::Missing;
    } else if (at.type() == element_type::ARRAY) {
      if (segment.empty() || segment.size() > 18 ||
          segment.find_first_not_of("0123456789") != std::string::npos) {
        return Lookup::BadPath;
      }
      if (arrayOf(at).at(std::stoull(segment)).get(at) != simdjson::SUCCESS) {
        return Lookup::BadPath;
      }
    } else {
      return Lookup::BadPath;
    }
  }
  out.value = at;
  return Lookup::Found;
}

bool matchSubject(const MangoNode& n, const Subject& s);

bool anyEqual(const std::vector<MangoValue>& candidates, element e) {
  for (const auto& c : candidates) {
    if (collate(e, c) == 0) return true;
  }
  return false;
}

// $in: the value is one of the operands; an array value qualifies when one of its elements is.
bool matchIn(const MangoNode& n, const Subject& s) {
  if (!s.isKey && s.value.type() == element_type::ARRAY) {
    for (element item : arrayOf(s.value)) {
      if (anyEqual(n.operands, item)) return true;
    }
    return false;
  }
  for (const auto& c : n.operands) {
    if (collate(s, c) == 0) return true;
  }
  return false;
}

bool matchMod(const MangoNode& n, const Subject& s) {
  if (s.isKey || !isInteger(s.value)) return false;
  // C++'s % truncates like Erlang's rem, so the remainder takes the dividend's sign as in CouchDB.
  if (s.value.type() == element_type::UINT64) {
    uint64_t d = n.divisor < 0 ? 0 - static_cast<uint64_t>(n.divisor) : static_cast<uint64_t>(n.divisor);
    uint64_t r = s.value.get_uint64().value_unsafe() % d;
    return n.remainder >= 0 && r == static_cast<uint64_t>(n.remainder);
  }
  int64_t v = s.value.get_int64().value_unsafe();
  if (n.divisor == -1) return n.remainder == 0;  // INT64_MIN % -1 overflows
  return v % n.divisor == n.remainder;
}

bool matchRegex(const MangoNode& n, const Subject& s) {
  auto str = stringOf(s);
  if (!str) return false;
  // Unanchored search, as PCRE's; RE2 answers in time linear in the string's length.
  return re2::RE2::PartialMatch(re2::StringPiece(str->data(), str->size()), *n.regex);
}

bool matchAll(const MangoNode& n, const Subject& s) {
  if (n.operands.empty() || s.isKey || s.value.type() != element_type::ARRAY) return false;
  auto array = arrayOf(s.value);
  // CouchDB also accepts {"$all": [[...]]} as "the array is exactly this one".
  if (n.operands.size() == 1 && n.operands[0].kind == MangoValue::Kind::Array &&
      collate(s.value, n.operands[0]) == 0) {
    return true;
  }
  for (const auto& wanted : n.operands) {
    bool found = false;
    for (element item : array) {
      if (collate(item, wanted) == 0) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

bool matchElements(const MangoNode& n, const Subject& s) {
  if (s.isKey) return false;
  const MangoNode& sub = n.children.front();
  if (n.op == CondOp::KeyMapMatch) {
    if (s.value.type() != element_type::OBJECT) return false;
    for (auto member : objectOf(s.value)) {
      if (matchSubject(sub, Subject{element(), member.key, true})) return true;
    }
    return false;
  }
  if (s.value.type() != element_type::ARRAY) return false;
  auto array = arrayOf(s.value);
  if (n.op == CondOp::ElemMatch) {
    for (element item : array) {
      if (matchSubject(sub, Subject{item, {}, false})) return true;
    }
    return false;
  }
  if (array.size() == 0) return false;  // $allMatch wants at least one element
  for (element item : array) {
    if (!matchSubject(sub, Subject{item, {}, false})) return false;
  }
  return true;
}

bool evalCondition(const MangoNode& n, const Subject& s) {
  switch (n.op) {
    case CondOp::Eq:
      return collate(s, n.operand) == 0;
    case CondOp::Ne:
      return collate(s, n.operand) != 0;
    case CondOp::Gt:
      return collate(s, n.operand) > 0;
    case CondOp::Gte:
      return collate(s, n.operand) >= 0;
    case CondOp::Lt:
      return collate(s, n.operand) < 0;
    case CondOp::Lte:
      return collate(s, n.operand) <= 0;
    case CondOp::Exists:
      return n.exists;
    case CondOp::Type:
      return typeOf(s) == n.type;
    case CondOp::In:
      return matchIn(n, s);
    case CondOp::Nin:
      return !matchIn(n, s);
    case CondOp::Size:
      return !s.isKey && s.value.type() == element_type::ARRAY &&
             arrayOf(s.value).size() == static_cast<size_t>(n.size);
    case CondOp::Mod:
      return matchMod(n, s);
    case CondOp::Regex:
      return matchRegex(n, s);
    case CondOp::BeginsWith: {
      auto str = stringOf(s);
      return str && str->substr(0, n.prefix.size()) == n.prefix;
    }
    case CondOp::All:
      return matchAll(n, s);
    case CondOp::ElemMatch:
    case CondOp::AllMatch:
    case CondOp::KeyMapMatch:
      return matchElements(n, s);
  }
  return false;
}

bool matchSubject(const MangoNode& n, const Subject& s) {
  switch (n.kind) {
    case MangoNode::Kind::Const:
      return n.constant;
    case MangoNode::Kind::And:
      for (const auto& c : n.children) {
        if (!matchSubject(c, s)) return false;
      }
      return true;
    case MangoNode::Kind::Or:
      for (const auto& c : n.children) {
        if (matchSubject(c, s)) return true;
      }
      return false;
    case MangoNode::Kind::Field: {
      Subject target;
      switch (lookup(s, n.path, target)) {
        case Lookup::Missing:
          return n.op == CondOp::Exists && !n.exists && !n.invert;
        case Lookup::BadPath:
          return false;
        case Lookup::Found:
          return evalCondition(n, target) != n.invert;
      }
      return false;
    }
  }
  return false;
}

}  // namespace

bool matchNode(const MangoNode& node, element value) { return matchSubject(node, Subject{value, {}, false}); }

}  // namespace settee::db::detail
