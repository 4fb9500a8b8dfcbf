// Conflict policies (settee/conflict.h): the text forms, and decide() — pure, see conflict_policy.h.
#include "db/conflict_policy.h"

#include <simdjson.h>

#include <memory>
#include <optional>
#include <set>

#include "db/json.h"

namespace settee {

namespace {

Status badPolicy(std::string_view text, std::string_view why) {
  return {ErrorCode::BadRequest, "bad conflict policy \"" + std::string(text) + "\": " + std::string(why) +
                                     " (expected keep, lww:FIELD, merge or merge:lww:FIELD)"};
}

// A field an app names for last-write-wins: a top-level member of the body. `_` members are CouchDB's
// (`_rev` would compare revision ids as text) and nested paths are not looked into.
Status checkField(std::string_view text, std::string_view field) {
  if (field.empty()) return badPolicy(text, "the field name is empty");
  if (field.front() == '_') return badPolicy(text, "the field must be a body member, not a `_` member");
  return Status::ok();
}

}  // namespace

Result<ConflictPolicy> ConflictPolicy::parse(std::string_view text) {
  constexpr std::string_view kLww = "lww:", kMergeLww = "merge:lww:";
  if (text == "keep") return ConflictPolicy::keep();
  if (text == "merge" || text == "merge:keep") return ConflictPolicy::merge();
  if (text.substr(0, kLww.size()) == kLww) {
    std::string_view field = text.substr(kLww.size());
    if (Status st = checkField(text, field); !st) return st;
    return ConflictPolicy::lastWriteWins(std::string(field));
  }
  if (text.substr(0, kMergeLww.size()) == kMergeLww) {
    std::string_view field = text.substr(kMergeLww.size());
    if (Status st = checkField(text, field); !st) return st;
    return ConflictPolicy::merge(BothChanged::LastWriteWins, std::string(field));
  }
  if (text == "custom") return badPolicy(text, "a custom resolver is given in code, not as text");
  return badPolicy(text, "unknown policy");
}

std::string ConflictPolicy::describe() const {
  switch (kind) {
    case Kind::Keep:
      return "keep";
    case Kind::LastWriteWins:
      return "lww:" + field;
    case Kind::Merge:
      return bothChanged == BothChanged::LastWriteWins ? "merge:lww:" + field : "merge";
    case Kind::Custom:
      return "custom";
  }
  return "keep";
}

namespace db {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

bool isNumber(element_type t) {
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

// -1, 0, 1. Integers compare exactly (an int64 and a uint64 too); a double involved compares as doubles.
int compareNumbers(element a, element b) {
  auto sign = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  element_type ta = a.type(), tb = b.type();
  if (ta == element_type::INT64 && tb == element_type::INT64)
    return sign(a.get_int64().value_unsafe(), b.get_int64().value_unsafe());
  if (ta == element_type::UINT64 && tb == element_type::UINT64)
    return sign(a.get_uint64().value_unsafe(), b.get_uint64().value_unsafe());
  if (ta == element_type::INT64 && tb == element_type::UINT64) return -1;  // simdjson: uint64 only past int64
  if (ta == element_type::UINT64 && tb == element_type::INT64) return 1;
  auto asDouble = [](element e) {
    switch (e.type()) {
      case element_type::INT64:
        return static_cast<double>(e.get_int64().value_unsafe());
      case element_type::UINT64:
        return static_cast<double>(e.get_uint64().value_unsafe());
      default:
        return e.get_double().value_unsafe();
    }
  };
  return sign(asDouble(a), asDouble(b));
}

bool jsonEqual(element a, element b);

bool optEqual(const std::optional<element>& a, const std::optional<element>& b) {
  if (!a || !b) return !a && !b;
  return jsonEqual(*a, *b);
}

std::optional<element> member(simdjson::dom::object obj, std::string_view key) {
  element value;
  if (obj.at_key(key).get(value)) return std::nullopt;
  return value;
}

bool jsonEqual(element a, element b) {
  element_type ta = a.type(), tb = b.type();
  if (isNumber(ta) && isNumber(tb)) return compareNumbers(a, b) == 0;
  if (ta != tb) return false;
  switch (ta) {
    case element_type::STRING:
      return a.get_string().value_unsafe() == b.get_string().value_unsafe();
    case element_type::BOOL:
      return a.get_bool().value_unsafe() == b.get_bool().value_unsafe();
    case element_type::NULL_VALUE:
      return true;
    case element_type::ARRAY: {
      simdjson::dom::array x(a), y(b);
      if (x.size() != y.size()) return false;
      auto i = x.begin(), j = y.begin();
      for (; i != x.end(); ++i, ++j)
        if (!jsonEqual(*i, *j)) return false;
      return true;
    }
    case element_type::OBJECT: {
      simdjson::dom::object x(a), y(b);
      if (x.size() != y.size()) return false;
      for (auto field : x) {
        auto other = member(y, field.key);
        if (!other || !jsonEqual(field.value, *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// The last-write-wins rank of a leaf's field value (conflict_policy.h): missing < string < number.
int compareLww(const std::optional<element>& a, const std::optional<element>& b) {
  auto rank = [](const std::optional<element>& e) {
    if (!e) return 0;
    if (e->type() == element_type::STRING) return 1;
    return isNumber(e->type()) ? 2 : 0;
  };
  int ra = rank(a), rb = rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 1) {
    int c = a->get_string().value_unsafe().compare(b->get_string().value_unsafe());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (ra == 2) return compareNumbers(*a, *b);
  return 0;
}

// Members that are the document's metadata, not its content: never merged.
bool metadataMember(std::string_view key) {
  static const std::set<std::string_view> kMeta = {
      "_id",        "_rev",        "_revisions", "_conflicts", "_deleted", "_revs_info", "_deleted_conflicts",
      "_local_seq", "_attachments"};
  return kMeta.count(key) > 0;
}

// The leaves and the ancestor parsed, each with its own parser (a DOM element lives as long as its parser).
struct Parsed {
  std::vector<std::unique_ptr<simdjson::dom::parser>> parsers;
  std::vector<simdjson::dom::object> leaves;
  std::optional<simdjson::dom::object> ancestor;

  Status add(std::string_view json, std::string_view what, simdjson::dom::object& out) {
    parsers.push_back(std::make_unique<simdjson::dom::parser>());
    element root;
    if (parsers.back()->parse(json.data(), json.size()).get(root) || root.type() != element_type::OBJECT)
      return {ErrorCode::BadRequest, "conflict input: " + std::string(what) + " is not a JSON object"};
    out = simdjson::dom::object(root);
    return Status::ok();
  }
};

Result<Parsed> parseInput(const ConflictInput& input, bool withAncestor) {
  Parsed p;
  p.leaves.resize(input.leaves.size());
  for (size_t i = 0; i < input.leaves.size(); ++i)
    if (Status st = p.add(input.leaves[i].json, "leaf " + input.leaves[i].rev, p.leaves[i]); !st) return st;
  if (withAncestor && input.ancestorJson) {
    simdjson::dom::object anc;
    if (Status st = p.add(*input.ancestorJson, "the ancestor", anc); !st) return st;
    p.ancestor = anc;
  }
  return p;
}

// The index of the leaf whose `field` is greatest among `candidates` (in CouchDB's order): the first
// one on a tie.
size_t lwwPick(const Parsed& p, const std::string& field, const std::vector<size_t>& candidates) {
  size_t best = candidates.front();
  for (size_t i : candidates) {
    if (compareLww(member(p.leaves[i], field), member(p.leaves[best], field)) > 0) best = i;
  }
  return best;
}

Result<ConflictDecision> decideLww(const ConflictPolicy& policy, const ConflictInput& input) {
  auto parsed = parseInput(input, false);
  if (!parsed) return parsed.status();
  std::vector<size_t> all(input.leaves.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return ConflictDecision::choose(input.leaves[lwwPick(*parsed, policy.field, all)].rev);
}

Result<ConflictDecision> decideMerge(const ConflictPolicy& policy, const ConflictInput& input) {
  auto parsedOr = parseInput(input, true);
  if (!parsedOr) return parsedOr.status();
  const Parsed& p = *parsedOr;
  const size_t n = p.leaves.size();

  // Every content member, in the fixed output order (conflict_policy.h).
  std::vector<std::string_view> keys;
  std::set<std::string_view> seen;
  for (const auto& leaf : p.leaves) {
    for (auto field : leaf) {
      if (!metadataMember(field.key) && seen.insert(field.key).second) keys.push_back(field.key);
    }
  }

  std::vector<std::pair<std::string_view, element>> chosenMembers;
  for (std::string_view key : keys) {
    std::vector<std::optional<element>> values(n);
    for (size_t i = 0; i < n; ++i) values[i] = member(p.leaves[i], key);
    std::optional<element> base;
    if (p.ancestor) base = member(*p.ancestor, key);
    // The leaves that changed the member: those differing from the ancestor, or, without the
    // ancestor's body, every leaf as soon as they disagree.
    std::vector<size_t> changers;
    for (size_t i = 0; i < n; ++i) {
      if (p.ancestor ? !optEqual(values[i], base) : !optEqual(values[i], values[0])) changers.push_back(i);
    }
    if (!p.ancestor && !changers.empty()) {
      changers.clear();
      for (size_t i = 0; i < n; ++i) changers.push_back(i);
    }
    std::optional<element> chosen;
    if (changers.empty()) {
      chosen = values[0];  // unchanged everywhere (or, without an ancestor, the same everywhere)
    } else {
      bool agree = true;
      for (size_t i : changers) agree = agree && optEqual(values[i], values[changers.front()]);
      if (agree) {
        chosen = values[changers.front()];
      } else if (policy.bothChanged == ConflictPolicy::BothChanged::Keep) {
        return ConflictDecision::keepConflict();
      } else {
        chosen = values[lwwPick(p, policy.field, changers)];
      }
    }
    if (chosen) chosenMembers.emplace_back(key, *chosen);
  }

  // Same content as the winner (member for member, in its order): nothing to write on it, only the
  // losers to delete.
  size_t winnerMembers = 0;
  for (auto field : p.leaves[0]) winnerMembers += metadataMember(field.key) ? 0 : 1;
  bool sameAsWinner = winnerMembers == chosenMembers.size();
  for (size_t i = 0; sameAsWinner && i < chosenMembers.size(); ++i) {
    auto w = member(p.leaves[0], chosenMembers[i].first);
    sameAsWinner = w && jsonEqual(*w, chosenMembers[i].second);
  }
  if (sameAsWinner) return ConflictDecision::choose(input.leaves[0].rev);

  JsonBuffer merged;
  JsonWriter mw(merged);
  mw.StartObject();
  for (const auto& [key, value] : chosenMembers) {
    writeKey(mw, key);
    writeElement(mw, value);
  }
  // The winner's attachments (stubs of revisions in its own ancestry), which the new revision extends.
  if (auto atts = member(p.leaves[0], "_attachments")) {
    writeKey(mw, "_attachments");
    writeElement(mw, *atts);
  }
  mw.EndObject();
  return ConflictDecision::merged(std::string(bufferView(merged)), input.leaves[0].rev);
}

}  // namespace

Result<ConflictDecision> decide(const ConflictPolicy& policy, const ConflictInput& input) {
  if (input.leaves.size() < 2) return ConflictDecision::keepConflict();  // no conflict to resolve
  switch (policy.kind) {
    case ConflictPolicy::Kind::Keep:
      return ConflictDecision::keepConflict();
    case ConflictPolicy::Kind::LastWriteWins:
      return decideLww(policy, input);
    case ConflictPolicy::Kind::Merge:
      return decideMerge(policy, input);
    case ConflictPolicy::Kind::Custom:
      break;
  }
  if (!policy.resolver) return Status(ErrorCode::BadRequest, "custom conflict policy without a resolver");
  ConflictDecision decision;
  try {
    decision = policy.resolver(input);
  } catch (const std::exception& e) {
    return Status(ErrorCode::Internal, std::string("conflict resolver failed: ") + e.what());
  } catch (...) {
    return Status(ErrorCode::Internal, "conflict resolver failed");
  }
  if (decision.keep) return ConflictDecision::keepConflict();
  if (decision.winnerRev.empty()) decision.winnerRev = input.leaves[0].rev;
  bool isLeaf = false;
  for (const auto& leaf : input.leaves) isLeaf = isLeaf || leaf.rev == decision.winnerRev;
  if (!isLeaf)
    return Status(ErrorCode::BadRequest, "conflict resolver chose " + decision.winnerRev +
                                             ", which is not a live leaf of " + input.id);
  return decision;
}

}  // namespace db
}  // namespace settee
