#include "db/mango_value.h"

#include "db/collate_key.h"

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using Kind = MangoValue::Kind;

// The array or object `e` holds, by value: binding simdjson's value_unsafe() reference in a range-for
// would dangle once the temporary result it points into is destroyed. Callers check the type first.
simdjson::dom::array arrayOf(simdjson::dom::element e) { return e.get_array().value_unsafe(); }
simdjson::dom::object objectOf(simdjson::dom::element e) { return e.get_object().value_unsafe(); }

int sign(int c) { return (c > 0) - (c < 0); }

template <class T>
int threeWay(const T& a, const T& b) {
  return (b < a) - (a < b);
}

Kind kindOf(element e) {
  switch (e.type()) {
    case element_type::NULL_VALUE:
      return Kind::Null;
    case element_type::BOOL:
      return e.get_bool().value_unsafe() ? Kind::True : Kind::False;
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return Kind::Number;
    case element_type::STRING:
      return Kind::String;
    case element_type::ARRAY:
      return Kind::Array;
    case element_type::OBJECT:
      return Kind::Object;
  }
  return Kind::Null;
}

MangoNumber numberOf(element e) {
  MangoNumber n;
  switch (e.type()) {
    case element_type::INT64:
      n.rep = MangoNumber::Rep::Int;
      n.i = e.get_int64().value_unsafe();
      break;
    case element_type::UINT64:
      n.rep = MangoNumber::Rep::Uint;
      n.u = e.get_uint64().value_unsafe();
      break;
    default:
      n.rep = MangoNumber::Rep::Double;
      n.d = e.get_double().value_unsafe();
      break;
  }
  return n;
}

int compareNumbers(const MangoNumber& a, const MangoNumber& b) {
  using Rep = MangoNumber::Rep;
  if (a.rep != Rep::Double && b.rep != Rep::Double) {
    // Exact integer comparison: doubles would merge neighbours above 2^53.
    if (a.rep == Rep::Int && b.rep == Rep::Int) return threeWay(a.i, b.i);
    if (a.rep == Rep::Uint && b.rep == Rep::Uint) return threeWay(a.u, b.u);
    if (a.rep == Rep::Int) return a.i < 0 ? -1 : threeWay(static_cast<uint64_t>(a.i), b.u);
    return b.i < 0 ? 1 : threeWay(a.u, static_cast<uint64_t>(b.i));
  }
  return threeWay(asDouble(a), asDouble(b));
}

// ICU's root collation, as CouchDB compares strings (collate_key.h), so the matcher agrees with the order
// of an index's keys. Byte-equal strings, the common case of $eq, skip ICU.
int compareStrings(std::string_view a, std::string_view b) { return a == b ? 0 : sign(collateStrings(a, b)); }

}  // namespace

MangoValue MangoValue::copyOf(element e) {
  MangoValue v;
  v.kind = kindOf(e);
  switch (v.kind) {
    case Kind::Number:
      v.number = numberOf(e);
      break;
    case Kind::String:
      v.string = std::string(e.get_string().value_unsafe());
      break;
    case Kind::Array:
      for (element item : arrayOf(e)) v.items.push_back(copyOf(item));
      break;
    case Kind::Object:
      for (auto field : objectOf(e)) {
        v.keys.emplace_back(field.key);
        v.values.push_back(copyOf(field.value));
      }
      break;
    default:
      break;
  }
  return v;
}

int collate(element a, const MangoValue& b) {
  Kind ka = kindOf(a);
  if (ka != b.kind) return threeWay(static_cast<int>(ka), static_cast<int>(b.kind));
  switch (ka) {
    case Kind::Number:
      return compareNumbers(numberOf(a), b.number);
    case Kind::String:
      return compareStrings(a.get_string().value_unsafe(), b.string);
    case Kind::Array: {
      size_t i = 0;
      for (element item : arrayOf(a)) {
        if (i == b.items.size()) return 1;
        if (int c = collate(item, b.items[i]); c != 0) return c;
        ++i;
      }
      return i == b.items.size() ? 0 : -1;
    }
    case Kind::Object: {
      size_t i = 0;
      for (auto field : objectOf(a)) {
        if (i == b.keys.size()) return 1;
        if (int c = compareStrings(field.key, b.keys[i]); c != 0) return c;
        if (int c = collate(field.value, b.values[i]); c != 0) return c;
        ++i;
      }
      return i == b.keys.size() ? 0 : -1;
    }
    default:
      return 0;  // null, false, true: the kind is the whole value
  }
}

int collate(std::string_view a, const MangoValue& b) {
  if (b.kind != Kind::String) return threeWay(static_cast<int>(Kind::String), static_cast<int>(b.kind));
  return compareStrings(a, b.string);
}

double asDouble(const MangoNumber& n) {
  switch (n.rep) {
    case MangoNumber::Rep::Int:
      return static_cast<double>(n.i);
    case MangoNumber::Rep::Uint:
      return static_cast<double>(n.u);
    case MangoNumber::Rep::Double:
      return n.d;
  }
  return 0;
}

int collate(const MangoValue& a, const MangoValue& b) {
  if (a.kind != b.kind) return threeWay(static_cast<int>(a.kind), static_cast<int>(b.kind));
  switch (a.kind) {
    case Kind::Number:
      return compareNumbers(a.number, b.number);
    case Kind::String:
      return compareStrings(a.string, b.string);
    case Kind::Array:
      for (size_t i = 0; i < a.items.size() && i < b.items.size(); ++i) {
        if (int c = collate(a.items[i], b.items[i])) return c;
      }
      return threeWay(a.items.size(), b.items.size());
    case Kind::Object:
      for (size_t i = 0; i < a.keys.size() && i < b.keys.size(); ++i) {
        if (int c = compareStrings(a.keys[i], b.keys[i])) return c;
        if (int c = collate(a.values[i], b.values[i])) return c;
      }
      return threeWay(a.keys.size(), b.keys.size());
    default:
      return 0;  // null, false, true: the kind is the whole value
  }
}

}  // namespace settee::db
