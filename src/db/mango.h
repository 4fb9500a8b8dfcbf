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
#include <string_view>

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

 private:
  explicit Selector(std::shared_ptr<const detail::MangoNode> root) : root_(std::move(root)) {}
  std::shared_ptr<const detail::MangoNode> root_;  // never null
};

}  // namespace settee::db
