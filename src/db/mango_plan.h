// mango_plan.h — the query planner: which index answers a Mango query, over which key range, in which
// direction, and how every other index fared (what _explain shows). CouchDB 3.4's rules
// (mango_idx_view is_usable / can_use_sort, mango_cursor_view composite_indexes / choose_best_index,
// mango_cursor extract_candidate_indexes):
// - A json index is usable when the selector requires each of its fields to exist (sort fields, `_id`
//   and `_rev` aside) and the sort is a prefix of its fields once the fields the selector fixes with $eq
//   are passed over. A partial index is a candidate only when use_index names it.
// - The special `_all_docs` index is usable without a sort, or for a sort on `_id` alone when the
//   selector constrains `_id`. A usable json index is always preferred to it.
// - Among usable json indexes: the one whose leading fields cover the most of the selector's indexable
//   conditions ($eq $gt $gte $lt $lte $exists at the top level), then the one with fewer fields, then
//   (ddoc, name) order.
// - use_index restricts the choice to the indexes it names when one of them is usable; otherwise the
//   query falls back with a warning, or fails when allow_fallback is false.
// - No usable index at all (only possible with a sort) is no_usable_index.
//
// Contract: planFind is a pure function of the query and the index definitions; a FindPlan is a value.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "db/mango_find.h"
#include "db/mango_index.h"

namespace settee::db {

// The values one field may take, as the selector's top-level conditions bound it.
struct FieldRange {
  std::optional<MangoValue> low;  // nullopt: unbounded below
  bool lowInclusive = false;
  std::optional<MangoValue> high;  // nullopt: unbounded above
  bool highInclusive = false;
  // `high` is a $beginsWith bound (prefix + U+10FFFF, CouchDB's end_key): ICU sorts U+FFFF after U+10FFFF,
  // so the index scan reads to a wider bound of its own (mango_plan.cc, keyRange).
  bool highIsPrefix = false;
  bool empty = false;  // no value satisfies every condition
  bool isEq() const;
};

// How one index other than the chosen one fared (an `index_candidates` entry of _explain).
struct IndexCandidate {
  std::optional<IndexSpec> index;  // nullopt: the special `_all_docs` index
  bool usable = false;
  std::string reason;  // field_mismatch, sort_order_mismatch, is_partial, excluded_by_user, ...
  int ranking = 0;
  bool covering = false;  // json indexes only (null for the special one)
};

struct FindPlan {
  std::optional<IndexSpec> index;  // the json index chosen; nullopt: the special `_all_docs` index
  std::vector<FieldRange> prefix;  // the ranges of its leading fields the selector bounds, in order
  bool descending = false;         // the sort asks for descending order
  bool nothing = false;            // the selector's conditions exclude every document: read nothing
  bool covering = false;           // `fields` and the selector need nothing but the index's values

  IndexScan scan;  // json index: the key range (scan.after is left to the executor)

  // `_all_docs`: the `_id` range (ids bound as strings; raw id order, as _all_docs reads).
  std::optional<std::string> startId;
  bool startInclusive = true;
  std::optional<std::string> endId;
  bool endInclusive = true;

  // json index: per column, the selector's top-level conditions on that field alone, so an index row
  // can be rejected from its values before its document is read.
  std::vector<std::pair<size_t, Selector>> prefilter;

  std::vector<IndexCandidate> candidates;  // every other index, in _explain's order
  std::string useIndexWarning;             // the use_index the query could not honour, in CouchDB's words
};

// Plans `query` over the json indexes the database defines (Store::indexes()).
Result<FindPlan> planFind(const FindQuery& query, const std::vector<IndexSpec>& indexes);

// The fields of a json index, as CouchDB's mango_idx:columns lists them.
std::vector<std::string> indexColumns(const IndexSpec& index);

}  // namespace settee::db
