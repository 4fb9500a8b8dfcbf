#include "db/mango.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "db/mango_internal.h"

namespace settee::db {
namespace {

using detail::CondOp;
using detail::JsonType;
using detail::MangoNode;
using simdjson::dom::element;
using simdjson::dom::element_type;
using Path = std::vector<std::string>;

MangoNode constantNode(bool value) {
  MangoNode n;
  n.kind = MangoNode::Kind::Const;
  n.constant = value;
  return n;
}

MangoNode combine(MangoNode::Kind kind, std::vector<MangoNode> children) {
  if (children.size() == 1) return std::move(children.front());
  MangoNode n;
  n.kind = kind;
  n.children = std::move(children);
  return n;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Splits "a.b\.c" into {"a", "b.c"}. A backslash not followed by a dot stays as written, as in CouchDB.
Result<Path> splitField(std::string_view field) {
  Path parts(1);
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c == '\\' && i + 1 < field.size() && field[i + 1] == '.') {
      parts.back() += '.';
      ++i;
    } else if (c == '.') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  for (const auto& part : parts) {
    if (part.empty()) return badRequest("invalid field name " + quoted(field) + ": empty path segment");
  }
  return parts;
}

std::optional<int64_t> int64Of(element e) {
  if (e.type() != element_type::INT64) return std::nullopt;
  return e.get_int64().value_unsafe();
}

std::optional<JsonType> typeNamed(std::string_view name) {
  if (name == "null") return JsonType::Null;
  if (name == "boolean") return JsonType::Boolean;
  if (name == "number") return JsonType::Number;
  if (name == "string") return JsonType::String;
  if (name == "array") return JsonType::Array;
  if (name == "object") return JsonType::Object;
  return std::nullopt;
}

// The operator a negation turns a comparison into, when there is one.
std::optional<CondOp> negationOf(CondOp op) {
  switch (op) {
    case CondOp::Eq:
      return CondOp::Ne;
    case CondOp::Ne:
      return CondOp::Eq;
    case CondOp::Gt:
      return CondOp::Lte;
    case CondOp::Gte:
      return CondOp::Lt;
    case CondOp::Lt:
      return CondOp::Gte;
    case CondOp::Lte:
      return CondOp::Gt;
    case CondOp::In:
      return CondOp::Nin;
    case CondOp::Nin:
      return CondOp::In;
    default:
      return std::nullopt;
  }
}

std::optional<CondOp> comparisonNamed(std::string_view op) {
  if (op == "$eq") return CondOp::Eq;
  if (op == "$ne") return CondOp::Ne;
  if (op == "$gt") return CondOp::Gt;
  if (op == "$gte") return CondOp::Gte;
  if (op == "$lt") return CondOp::Lt;
  if (op == "$lte") return CondOp::Lte;
  return std::nullopt;
}

// Patterns come from whoever sends a selector, so they run on RE2: its automata take time linear in the
// subject whatever the pattern ("(a+)+$" cannot backtrack for ever, as it does on a backtracking engine such
// as PCRE or libstdc++'s regex engine), and the memory for one compiled pattern is capped. What RE2 cannot
// promise that for — back-references, lookaround — it refuses at compile time, and so do we.
constexpr size_t kMaxPatternBytes = 4096;
constexpr int64_t kMaxRegexMemory = 1 << 20;  // per compiled pattern; RE2's default is 8 MB

Result<std::shared_ptr<const re2::RE2>> compileRegex(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes)
    return badRequest("$regex: the pattern is longer than " + std::to_string(kMaxPatternBytes) + " bytes");
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxRegexMemory);
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok())
    return badRequest("$regex: invalid regular expression " + quoted(pattern) + ": " + re->error());
  return re;
}

// Compiles selectors. `inElement` is true below $elemMatch, $allMatch and $keyMapMatch, where a condition
// with no field applies to the element itself.
class Compiler {
 public:
  Result<MangoNode> selector(element sel, const Path& path, bool negated, bool inElement) {
    simdjson::dom::object obj;
    if (sel.get(obj) != simdjson::SUCCESS) return badRequest("a selector must be a JSON object");
    if (obj.size() == 0) return constantNode(!negated);
    std::vector<MangoNode> clauses;
    for (auto member : obj) {
      auto c = clause(member.key, member.value, path, negated, inElement);
      if (!c) return c.status();
      clauses.push_back(std::move(*c));
    }
    // An implicit $and; under a negation, De Morgan makes it an $or.
    return combine(negated ? MangoNode::Kind::Or : MangoNode::Kind::And, std::move(clauses));
  }

 private:
  Result<MangoNode> clause(std::string_view key, element value, const Path& path, bool negated,
                           bool inElement) {
    if (key == "$and" || key == "$or" || key == "$nor")
      return combination(key, value, path, negated, inElement);
    if (key == "$not") {
      if (value.type() != element_type::OBJECT) return badRequest("$not expects a selector object");
      return selector(value, path, !negated, inElement);
    }
    if (!key.empty() && key.front() == '$') return condition(key, value, path, negated, inElement);

    auto parts = splitField(key);
    if (!parts) return parts.status();
    Path sub = path;
    sub.insert(sub.end(), parts->begin(), parts->end());
    simdjson::dom::object obj;
    if (value.get(obj) == simdjson::SUCCESS && obj.size() > 0)
      return selector(value, sub, negated, inElement);
    MangoNode n = field(std::move(sub), negated ? CondOp::Ne : CondOp::Eq);
    n.operand = MangoValue::copyOf(value);
    return n;
  }

  Result<MangoNode> combination(std::string_view op, element value, const Path& path, bool negated,
                                bool inElement) {
    simdjson::dom::array args;
    if (value.get(args) != simdjson::SUCCESS) {
      return badRequest(std::string(op) + " expects an array of selector objects");
    }
    // CouchDB matches everything with an empty list, negated or not.
    if (args.size() == 0) return constantNode(true);
    bool isAnd = op == "$and" || op == "$nor";
    bool childNegated = op == "$nor" ? !negated : negated;
    std::vector<MangoNode> children;
    for (element arg : args) {
      if (arg.type() != element_type::OBJECT) {
        return badRequest(std::string(op) + " expects an array of selector objects");
      }
      auto child = selector(arg, path, childNegated, inElement);
      if (!child) return child.status();
      children.push_back(std::move(*child));
    }
    return combine(isAnd != negated ? MangoNode::Kind::And : MangoNode::Kind::Or, std::move(children));
  }

  static MangoNode field(Path path, CondOp op) {
    MangoNode n;
    n.kind = MangoNode::Kind::Field;
    n.path = std::move(path);
    n.op = op;
    return n;
  }

  Result<MangoNode> condition(std::string_view op, element arg, const Path& path, bool negated,
                              bool inElement) {
    const std::string name(op);
    if (path.empty() && !inElement) {
      return badRequest("operator " + name + " must be applied to a field, as in {\"field\": {\"" + name +
                        "\": ...}}");
    }
    MangoNode n = field(path, CondOp::Eq);
    if (auto cmp = comparisonNamed(op)) {
      n.op = *cmp;
      n.operand = MangoValue::copyOf(arg);
    } else if (op == "$in" || op == "$nin" || op == "$all") {
      simdjson::dom::array items;
      if (arg.get(items) != simdjson::SUCCESS) return badRequest(name + " expects an array");
      n.op = op == "$in" ? CondOp::In : op == "$nin" ? CondOp::Nin : CondOp::All;
      for (element item : items) n.operands.push_back(MangoValue::copyOf(item));
    } else if (op == "$exists") {
      bool wanted = false;
      if (arg.get(wanted) != simdjson::SUCCESS) return badRequest("$exists expects true or false");
      n.op = CondOp::Exists;
      n.exists = negated ? !wanted : wanted;
      return n;
    } else if (op == "$type") {
      std::string_view typeName;
      if (arg.get(typeName) != simdjson::SUCCESS) return badRequest("$type expects a type name string");
      auto type = typeNamed(typeName);
      if (!type) {
        return badRequest("$type: unknown type " + quoted(typeName) +
                          "; expected null, boolean, number, string, array or object");
      }
      n.op = CondOp::Type;
      n.type = *type;
    } else if (op == "$size") {
      auto size = int64Of(arg);
      if (!size || *size < 0) return badRequest("$size expects a non-negative integer");
      n.op = CondOp::Size;
      n.size = *size;
    } else if (op == "$mod") {
      simdjson::dom::array pair;
      std::optional<int64_t> divisor, remainder;
      if (arg.get(pair) == simdjson::SUCCESS && pair.size() == 2) {
        divisor = int64Of(pair.at(0).value_unsafe());
        remainder = int64Of(pair.at(1).value_unsafe());
      }
      if (!divisor || !remainder) return badRequest("$mod expects [divisor, remainder], two integers");
      if (*divisor == 0) return badRequest("$mod: the divisor must not be 0");
      n.op = CondOp::Mod;
      n.divisor = *divisor;
      n.remainder = *remainder;
    } else if (op == "$regex") {
      std::string_view pattern;
      if (arg.get(pattern) != simdjson::SUCCESS) return badRequest("$regex expects a pattern string");
      auto regex = compileRegex(pattern);
      if (!regex) return regex.status();
      n.op = CondOp::Regex;
      n.regex = std::move(*regex);
    } else if (op == "$beginsWith") {
      std::string_view prefix;
      if (arg.get(prefix) != simdjson::SUCCESS) return badRequest("$beginsWith expects a string");
      n.op = CondOp::BeginsWith;
      n.prefix = std::string(prefix);
    } else if (op == "$elemMatch" || op == "$allMatch" || op == "$keyMapMatch") {
      if (arg.type() != element_type::OBJECT) return badRequest(name + " expects a selector object");
      // The sub-selector is compiled on its own: its fields are relative to the element, and an outer
      // negation does not reach into it (CouchDB wraps it instead).
      auto sub = selector(arg, {}, false, true);
      if (!sub) return sub.status();
      n.op = op == "$elemMatch"  ? CondOp::ElemMatch
             : op == "$allMatch" ? CondOp::AllMatch
                                 : CondOp::KeyMapMatch;
      n.children.push_back(std::move(*sub));
    } else if (op == "$text") {
      return badRequest("$text needs a full-text index, which Settee does not have");
    } else {
      // CouchDB's own words for any operator it does not know ($where and the geo operators included).
      return Status(ErrorCode::BadRequest, "Invalid operator: " + name, "invalid_operator");
    }
    if (negated) {
      if (auto flipped = negationOf(n.op)) {
        n.op = *flipped;
      } else {
        n.invert = true;
      }
    }
    return n;
  }
};

}  // namespace

Result<Selector> Selector::parse(element selector) {
  if (selector.type() != element_type::OBJECT) return badRequest("a selector must be a JSON object");
  Compiler compiler;
  auto root = compiler.selector(selector, {}, false, false);
  if (!root) return root.status();
  return Selector(std::make_shared<const MangoNode>(std::move(*root)));
}

Result<Selector> Selector::parseJson(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  if (auto error = parser.parse(json.data(), json.size()).get(doc); error != simdjson::SUCCESS) {
    return badRequest(std::string("invalid selector JSON: ") + simdjson::error_message(error));
  }
  return parse(doc);
}

bool Selector::matches(element doc) const { return detail::matchNode(*root_, doc); }

}  // namespace settee::db
