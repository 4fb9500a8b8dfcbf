// mango_analysis.cc — what the query planner reads from a compiled selector (see mango.h): its top-level
// conditions, the fields it names and requires, and its normalised rendering for _explain. Reads the
// compiled tree (mango_internal.h) and never changes it.
#include <algorithm>
#include <set>

#include "db/mango.h"
#include "db/mango_internal.h"

namespace settee::db {
namespace {

using detail::CondOp;
using detail::JsonType;
using detail::MangoNode;

// "a", "b.c" -> "a.b\.c": the name an index definition gives the same path.
std::string fieldName(const std::vector<std::string>& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += '.';
    for (char c : path[i]) {
      if (c == '.') out += '\\';
      out += c;
    }
  }
  return out;
}

// The conditions the top-level implicit $and holds: the root's children, or the root itself. Nested
// conjunctions ({"b": {"$gt": 1, "$lt": 5}} compiles to one) are part of it.
template <class F>
void forEachTop(const MangoNode& root, F&& fn) {
  if (root.kind == MangoNode::Kind::And) {
    for (const auto& c : root.children) forEachTop(c, fn);
  } else {
    fn(root);
  }
}

void collectFields(const MangoNode& n, std::set<std::string>& out) {
  if (n.kind == MangoNode::Kind::Field) {
    if (!n.path.empty()) out.insert(fieldName(n.path));
    return;
  }
  for (const auto& c : n.children) collectFields(c, out);
}

// has_required_fields: removes from `required` what `n` requires to exist.
void removeRequired(const MangoNode& n, std::vector<std::string>& required) {
  switch (n.kind) {
    case MangoNode::Kind::Const:
      return;
    case MangoNode::Kind::And:
      for (const auto& c : n.children) removeRequired(c, required);
      return;
    case MangoNode::Kind::Or: {
      // A field is required only when every branch requires it.
      std::set<std::string> remaining;
      for (const auto& c : n.children) {
        std::vector<std::string> left = required;
        removeRequired(c, left);
        remaining.insert(left.begin(), left.end());
      }
      required.assign(remaining.begin(), remaining.end());
      return;
    }
    case MangoNode::Kind::Field: {
      if (n.path.empty()) return;
      if (n.op == CondOp::Exists && !n.exists && !n.invert) return;
      std::string name = fieldName(n.path);
      required.erase(std::remove(required.begin(), required.end(), name), required.end());
      return;
    }
  }
}

}  // namespace

void writeMangoValue(JsonWriter& w, const MangoValue& v) {
  using Kind = MangoValue::Kind;
  switch (v.kind) {
    case Kind::Null:
      w.Null();
      return;
    case Kind::False:
      w.Bool(false);
      return;
    case Kind::True:
      w.Bool(true);
      return;
    case Kind::Number:
      if (v.number.rep == MangoNumber::Rep::Int) {
        w.Int64(v.number.i);
      } else if (v.number.rep == MangoNumber::Rep::Uint) {
        w.Uint64(v.number.u);
      } else {
        w.Double(v.number.d);
      }
      return;
    case Kind::String:
      writeString(w, v.string);
      return;
    case Kind::Array:
      w.StartArray();
      for (const auto& item : v.items) writeMangoValue(w, item);
      w.EndArray();
      return;
    case Kind::Object:
      w.StartObject();
      for (size_t i = 0; i < v.keys.size(); ++i) {
        writeKey(w, v.keys[i]);
        writeMangoValue(w, v.values[i]);
      }
      w.EndObject();
      return;
  }
}

namespace {

const char* opName(CondOp op) {
  switch (op) {
    case CondOp::Eq:
      return "$eq";
    case CondOp::Ne:
      return "$ne";
    case CondOp::Gt:
      return "$gt";
    case CondOp::Gte:
      return "$gte";
    case CondOp::Lt:
      return "$lt";
    case CondOp::Lte:
      return "$lte";
    case CondOp::Exists:
      return "$exists";
    case CondOp::Type:
      return "$type";
    case CondOp::In:
      return "$in";
    case CondOp::Nin:
      return "$nin";
    case CondOp::Size:
      return "$size";
    case CondOp::Mod:
      return "$mod";
    case CondOp::Regex:
      return "$regex";
    case CondOp::BeginsWith:
      return "$beginsWith";
    case CondOp::All:
      return "$all";
    case CondOp::ElemMatch:
      return "$elemMatch";
    case CondOp::AllMatch:
      return "$allMatch";
    case CondOp::KeyMapMatch:
      return "$keyMapMatch";
  }
  return "$eq";
}

const char* typeName(JsonType t) {
  switch (t) {
    case JsonType::Null:
      return "null";
    case JsonType::Boolean:
      return "boolean";
    case JsonType::Number:
      return "number";
    case JsonType::String:
      return "string";
    case JsonType::Array:
      return "array";
    case JsonType::Object:
      return "object";
  }
  return "null";
}

void writeNode(JsonWriter& w, const MangoNode& n);

// {"$op": operand} for a field condition.
void writeCondition(JsonWriter& w, const MangoNode& n) {
  w.StartObject();
  writeKey(w, opName(n.op));
  switch (n.op) {
    case CondOp::Exists:
      w.Bool(n.exists);
      break;
    case CondOp::Type:
      writeString(w, typeName(n.type));
      break;
    case CondOp::In:
    case CondOp::Nin:
    case CondOp::All:
      w.StartArray();
      for (const auto& v : n.operands) writeMangoValue(w, v);
      w.EndArray();
      break;
    case CondOp::Size:
      w.Int64(n.size);
      break;
    case CondOp::Mod:
      w.StartArray();
      w.Int64(n.divisor);
      w.Int64(n.remainder);
      w.EndArray();
      break;
    case CondOp::Regex:
      writeString(w, n.regex->pattern());
      break;
    case CondOp::BeginsWith:
      writeString(w, n.prefix);
      break;
    case CondOp::ElemMatch:
    case CondOp::AllMatch:
    case CondOp::KeyMapMatch:
      writeNode(w, n.children.front());
      break;
    default:
      writeMangoValue(w, n.operand);
      break;
  }
  w.EndObject();
}

void writeNode(JsonWriter& w, const MangoNode& n) {
  switch (n.kind) {
    case MangoNode::Kind::Const:
      // An always-true selector is the empty one; an always-false one is what CouchDB makes of a negated
      // empty selector.
      w.StartObject();
      if (!n.constant) {
        writeKey(w, "$not");
        w.StartObject();
        w.EndObject();
      }
      w.EndObject();
      return;
    case MangoNode::Kind::And:
    case MangoNode::Kind::Or:
      w.StartObject();
      writeKey(w, n.kind == MangoNode::Kind::And ? "$and" : "$or");
      w.StartArray();
      for (const auto& c : n.children) writeNode(w, c);
      w.EndArray();
      w.EndObject();
      return;
    case MangoNode::Kind::Field: {
      auto body = [&] {
        if (!n.invert) {
          writeCondition(w, n);
          return;
        }
        w.StartObject();
        writeKey(w, "$not");
        writeCondition(w, n);
        w.EndObject();
      };
      if (n.path.empty()) {
        body();
        return;
      }
      w.StartObject();
      writeKey(w, fieldName(n.path));
      body();
      w.EndObject();
      return;
    }
  }
}

}  // namespace

std::vector<Selector::Condition> Selector::topConditions() const {
  std::vector<Condition> out;
  forEachTop(*root_, [&](const MangoNode& n) {
    if (n.kind != MangoNode::Kind::Field || n.path.empty()) return;
    Condition c;
    c.field = fieldName(n.path);
    if (!n.invert) {
      switch (n.op) {
        case CondOp::Eq:
          c.op = Condition::Op::Eq;
          break;
        case CondOp::Gt:
          c.op = Condition::Op::Gt;
          break;
        case CondOp::Gte:
          c.op = Condition::Op::Gte;
          break;
        case CondOp::Lt:
          c.op = Condition::Op::Lt;
          break;
        case CondOp::Lte:
          c.op = Condition::Op::Lte;
          break;
        case CondOp::Exists:
          c.op = Condition::Op::Exists;
          c.exists = n.exists;
          break;
        default:
          break;
      }
    }
    c.value = n.operand;
    out.push_back(std::move(c));
  });
  return out;
}

std::vector<std::string> Selector::fields() const {
  std::set<std::string> names;
  collectFields(*root_, names);
  return {names.begin(), names.end()};
}

std::vector<std::string> Selector::missingRequired(std::vector<std::string> required) const {
  removeRequired(*root_, required);
  return required;
}

bool Selector::isConstantField(std::string_view field) const {
  bool constant = false;
  forEachTop(*root_, [&](const MangoNode& n) {
    if (n.kind == MangoNode::Kind::Field && !n.invert && n.op == CondOp::Eq && fieldName(n.path) == field)
      constant = true;
  });
  return constant;
}

std::optional<Selector> Selector::conditionsOn(std::string_view field) const {
  std::vector<MangoNode> conditions;
  forEachTop(*root_, [&](const MangoNode& n) {
    if (n.kind != MangoNode::Kind::Field || n.path.empty() || fieldName(n.path) != field) return;
    MangoNode copy = n;
    copy.path.clear();  // judged against the field's value itself
    conditions.push_back(std::move(copy));
  });
  if (conditions.empty()) return std::nullopt;
  MangoNode root;
  if (conditions.size() == 1) {
    root = std::move(conditions.front());
  } else {
    root.kind = MangoNode::Kind::And;
    root.children = std::move(conditions);
  }
  return Selector(std::make_shared<const MangoNode>(std::move(root)));
}

void Selector::writeNormalized(JsonWriter& w) const { writeNode(w, *root_); }

}  // namespace settee::db
