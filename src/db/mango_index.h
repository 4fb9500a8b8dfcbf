// mango_index.h — json indexes: their definitions as design documents hold them, and the shape of a scan.
//
// Where CouchDB keeps an index (../shared/transcripts/couchdb-mango.txt #8): a design document with
// "language": "query" whose `views` member holds one view per index:
//   "type-ts": {"map": {"fields": {"type": "asc", "ts": "asc"}, "partial_filter_selector": {}},
//               "reduce": "_count", "options": {"def": {"fields": ["type", "ts"]}}}
// A design document is the single source of truth: whatever writes it (POST /_index, a PUT, a
// replication from CouchDB or PouchDB) defines its indexes, and the store keeps their rows in step.
//
// Rows: one per live, non-design document that has every indexed field (and matches the partial filter
// selector when there is one), keyed by the concatenated collation keys (collate_key.h) of its field
// values, in index field order, then the document id. The winner revision is what is indexed; a deleted
// winner has no row. Rows change in the same transaction as the write that changes the winner.
//
// Contract: plain values; safe to copy and to read from several threads.
#pragma once

#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/mango.h"
#include "settee/query.h"
#include "settee/status.h"

namespace settee::db {

struct IndexSpec {
  std::string ddoc;  // "_design/..."
  std::string name;
  std::vector<SortField> fields;             // as defined (directions kept for listings; rows are ascending)
  std::string partialJson;                   // the partial_filter_selector as JSON; empty for none
  std::shared_ptr<const Selector> partial;   // compiled partialJson; null for none
};

// The json indexes a design document's body defines: none unless "language" is "query"; a view whose
// definition cannot be read is skipped, as CouchDB skips it.
std::vector<IndexSpec> indexesOfDesignDoc(std::string_view ddocId, simdjson::dom::element body);

// A range of index keys (collation keys of the indexed fields' values, concatenated in field order). An
// absent bound is open. A bound that is a prefix (fewer fields than the index) covers, when inclusive,
// every key that extends it: the planner appends kAfterAll to an inclusive upper prefix.
struct KeyRange {
  std::optional<std::string> lower;
  bool lowerInclusive = true;
  std::optional<std::string> upper;
  bool upperInclusive = true;
};

struct IndexScan {
  KeyRange range;
  bool descending = false;
  // Resume strictly after this (key, document id) in scan order: a bookmark's position.
  std::optional<std::pair<std::string, std::string>> after;
};

// One index row as a scan delivers it.
struct IndexEntry {
  std::string_view key;     // the row's collation key
  std::string_view docId;
  std::string_view values;  // JSON array of the indexed fields' values, in index field order
};

}  // namespace settee::db
