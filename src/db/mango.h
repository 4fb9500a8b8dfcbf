// mango.h — Mango selectors (the `selector` of `_find` and of `_changes?filter=_selector`), compiled once
// and matched against many documents.
//
// Contract: Selector::parse validates a selector and compiles it into a tree that owns copies of every
// operand (see mango_value.h), so the simdjson element given to parse may be freed as soon as parse
// returns. matches() reads `doc` only during the call. A Selector is immutable once built: copies share the
// compiled tree, and any number of threads may call matches() on it at once.
//
// Semantics follow CouchDB 3's Mango (docs.couchdb.org, "Selector Syntax"), including its quirks, because a
// replication filtered by a selector must pick the same documents on either peer:
// - The members of a selector object are an implicit $and; a bare value is an implicit $eq; an object value
//   whose keys are not operators names sub-fields ({"a":{"b":1}} is {"a.b":1}); {"a":{}} is {"a":{"$eq":{}}}.
// - Field paths split on `.`; `\.` is a literal dot. A segment that is a decimal number indexes an array.
// - Combination operators $and, $or, $nor (arrays of selectors) and $not (a selector), at the top level or
//   inside a field. An empty $and, $or or $nor matches everything, as in CouchDB; so does the empty selector.
// - Negations are pushed down to the conditions as CouchDB does ($not $gt becomes $lte, $not $in becomes
// $nin,
//   De Morgan through $and/$or). A consequence: a negated condition, like $ne, never matches a document that
//   lacks the field, so {"$not":{"a":1}} skips documents without `a`.
// - Missing fields: only {"$exists": false} matches one. A path that runs through a scalar or misses an array
//   index matches nothing, not even $exists false (CouchDB's `bad_path`).
// - Conditions: $eq $ne $gt $gte $lt $lte (collation order across types), $exists, $type (null, boolean,
//   number, string, array, object), $in / $nin (against each element when the field is an array), $size,
//   $mod [divisor, remainder] (integers only; remainder has the dividend's sign), $regex, $beginsWith, $all,
//   $elemMatch, $allMatch (a non-empty array whose every element matches), $keyMapMatch (an object one of
//   whose keys matches).
// - $regex uses RE2's syntax where CouchDB uses PCRE: the two agree on the common ground (classes, groups,
//   alternation, counted repetition, inline flags such as `(?i)`); what only a backtracking engine can do
//   (back-references like \1, lookaround) is a bad_request at parse time. Matching takes time linear in the
//   string whatever the pattern, so a hostile pattern cannot pin a thread. Patterns are at most 4 KB. It
//   matches strings only, searching anywhere in them (anchor with ^ and $), over UTF-8 code points.
// - Deliberate differences from CouchDB: an unknown $type name is a bad_request (CouchDB matches nothing);
//   $all compares by collation (1 equals 1.0) where CouchDB uses strict term equality; a condition operator
//   with no field (outside $elemMatch, $allMatch, $keyMapMatch) is a bad_request at any depth.
// Errors are bad_request with a reason naming the operator or field at fault.
#pragma once

#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/json.h"
#include "db/mango_value.h"
#include "settee/status.h"

namespace settee::db {

namespace detail {
struct MangoNode;
}

class Selector {
 public:
  // Compiles `selector`, which must be a JSON object; `selector` need only live for the call.
  static Result<Selector> parse(simdjson::dom::element selector);
  // The same from JSON text; a parse failure is a bad_request.
  static Result<Selector> parseJson(std::string_view json);

  // True when `doc` (normally a document body, an object) satisfies the selector.
  bool matches(simdjson::dom::element doc) const;

  // ---- What the query planner reads (mango_analysis.cc; CouchDB's mango_selector / mango_idx_view) ----
  // Field names are paths joined with `.` (a `.` inside a segment written `\.`), as indexes name them.

  // A condition directly under the selector's top-level implicit $and.
  struct Condition {
    enum class Op : uint8_t { Eq, Gt, Gte, Lt, Lte, Exists, Other };
    std::string field;
    Op op = Op::Other;
    MangoValue value;     // Eq .. Lte
    bool exists = true;   // Exists
  };
  std::vector<Condition> topConditions() const;
  // Every field a condition names, outside $elemMatch and kin, sorted and unique (mango_selector:fields).
  std::vector<std::string> fields() const;
  // The members of `required` the selector does not require to exist: CouchDB's has_required_fields
  // (every condition but {"$exists": false} requires its field; each branch of an $or must).
  std::vector<std::string> missingRequired(std::vector<std::string> required) const;
  // True when the top level fixes `field` with $eq (CouchDB's is_constant_field).
  bool isConstantField(std::string_view field) const;
  // The top-level conditions on `field` as a selector of the field's value alone (match it against the
  // value, not the document); nullopt when there are none.
  std::optional<Selector> conditionsOn(std::string_view field) const;
  // The selector as CouchDB shows it normalised: {"$and":[{"type":{"$eq":"order"}},...]}.
  void writeNormalized(JsonWriter& w) const;

 private:
  explicit Selector(std::shared_ptr<const detail::MangoNode> root) : root_(std::move(root)) {}
  std::shared_ptr<const detail::MangoNode> root_;  // never null
};

// Writes an operand as JSON.
void writeMangoValue(JsonWriter& w, const MangoValue& v);

}  // namespace settee::db
