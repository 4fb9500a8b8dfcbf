// settee/query.h — Mango queries and their indexes, as an app asks for them (Database::find and kin).
//
// One implementation serves two doors: `POST /{db}/_find` parses its body into a selector and FindOptions
// and calls the same code an app calls through Database::find, so both answer alike. Semantics are
// CouchDB 3.4's ("/db/_find", "/db/_index", "Selector Syntax" at docs.couchdb.org):
// - A selector is a JSON object (see src/db/mango.h for the operators and their quirks).
// - An index is a `json` index: a list of fields kept, in CouchDB's collation order, in the database's
//   SQLite file and updated in the same transaction as every write, so a query never sees a stale index
//   (update=false aside). Its definition lives in a design document with "language": "query", so it
//   replicates like any design document and is built wherever it arrives.
// - A query is served by the best index for its selector and sort (CouchDB's choice), or by a scan of
//   every document when none serves and no sort is asked for; a sort no index serves is no_usable_index.
//
// Contract: these are plain values, safe to copy and to keep.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace settee {

// One field of a sort or an index, with its direction. A field path splits on `.` (`\.` is a dot).
struct SortField {
  std::string field;
  bool descending = false;
};

struct FindOptions {
  std::vector<std::string> fields;  // project each document to these paths; empty: whole documents
  std::vector<SortField> sort;      // every field the same direction (CouchDB's rule)
  uint64_t limit = 25;              // CouchDB's default
  uint64_t skip = 0;
  std::string bookmark;             // from a previous page's FindSummary::bookmark; empty: the first page
  // [] any index; [ddoc] an index of that design document; [ddoc, name] that index. A ddoc may be given
  // with or without "_design/".
  std::vector<std::string> useIndex;
  bool allowFallback = true;     // false: an index use_index names that cannot serve is an error
  bool conflicts = false;        // add `_conflicts` to each document
  bool update = true;            // false: read the index as it is, without bringing it up to date
  bool stable = false;           // accepted; one node is always stable
  bool executionStats = false;   // fill FindSummary::stats (always counted; this says to report it)
  uint32_t r = 1;                // accepted; one node has one copy
};

struct FindStats {
  uint64_t totalKeysExamined = 0;
  uint64_t totalDocsExamined = 0;
  uint64_t resultsReturned = 0;
  double executionTimeMs = 0;
};

// What a query answers besides its documents.
struct FindSummary {
  std::string bookmark;  // opaque; give it back as FindOptions::bookmark for the next page
  std::string warning;   // CouchDB's warnings, "\n"-joined; empty when none
  FindStats stats;
  std::string index;     // "_all_docs" or "<ddoc>/<name>": the index that served the query
};

// A json index to create (POST /{db}/_index).
struct IndexDefinition {
  std::vector<SortField> fields;
  std::string partialFilterSelector;  // a selector as JSON; empty for none
  std::string ddoc;                   // design document id, with or without "_design/"; empty: chosen
  std::string name;                   // empty: chosen (a hash of the definition, as CouchDB)
};

struct IndexInfo {
  std::string ddoc;  // "_design/..."; empty for the special `_all_docs` index
  std::string name;
  std::string type;  // "json" or "special"
  std::vector<SortField> fields;
  std::string partialFilterSelector;  // as JSON; empty for none
};

struct IndexCreated {
  std::string id;    // the design document's id
  std::string name;
  bool created = false;  // false: an index with this definition and name already existed
};

// A registered live query (Database::liveQuery). Destroying it unregisters the query: no callback runs
// after the destructor returned.
class LiveQuery {
 public:
  virtual ~LiveQuery() = default;
};

// The result a live query delivers: its documents as JSON, in result order.
struct LiveResult {
  std::vector<std::string> docs;
  uint64_t updateSeq = 0;  // the database's update_seq the result reflects
};

}  // namespace settee
