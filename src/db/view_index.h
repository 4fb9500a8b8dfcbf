// view_index.h — the index of a design document's map/reduce views (CouchDB's "view group"), kept in a
// SQLite file of its own and brought up to date from the database's changes feed when asked.
//
// The db layer knows nothing of JavaScript: the caller hands update() a Mapper (the HTTP layer runs the
// query server pool behind it) and reduce() a Reducer for JavaScript reduce functions; built-in reduces
// (`_sum`, `_count`, `_stats`, `_approx_count_distinct`) run here in C++ (view_reduce.h).
//
// Semantics are CouchDB 3.4's ("Views", "Views Collation", "/db/_design/ddoc/_view/view"):
// - One file per view group signature (viewSignature: a digest of the language, every view's map and
//   reduce source, views.lib and options), so editing a design document starts a new index and leaves
//   the old file for _view_cleanup; two design documents with the same views share nothing but the
//   digest.
// - Rows are ordered by key in CouchDB's view collation (collate_key.h), then by document id in raw
//   byte order (as CouchDB's couch_ejson_compare:less_json_ids compares ids), then by emit order.
// - Each document's rows come from its winning revision; deleted documents and design documents emit
//   nothing (a design document is mapped only when options.include_design is true). A document whose
//   map throws emits nothing for that function; the rest of the batch goes on.
// - update() reads the changes after the index's update_seq in batches, maps each batch, and replaces
//   the rows of its documents; whole batches are committed together with the new update_seq (every
//   20,000 documents or 2 seconds, and when the update ends, stops or its map fails), so a kill -9
//   mid-update leaves a consistent index that resumes from its last commit. After a purge (the
//   database's purge_seq moved) the index is built again from empty.
//
// Contract:
// - Keep one ViewIndex per file in a process (updates are serialised by the object, and building from
//   empty assumes no other writer). A ViewIndex is thread-safe: update() calls are serialised (a second
//   caller waits, then finds the work done); scans and reduces read committed rows and may run while an
//   update writes (each takes a reader connection of its own from a small pool: WAL gives it a snapshot, one
//   transaction long).
// - Scans stream: rows go to the callback one at a time; memory does not grow with the index.
// - Errors are Status values: a Mapper or Reducer error is passed through as it is; a corrupt file is
//   internal_server_error; update() stops cleanly (between batches) when `stop` returns true.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "settee/database.h"
#include "settee/status.h"

namespace settee::db {

// One view of a design document.
struct ViewDef {
  std::string name;
  std::string map;     // the map function's source
  std::string reduce;  // the reduce source: "" none, "_sum"/"_count"/"_stats"/"_approx_count_distinct", or JS
};

// What a design document defines for views.
struct ViewGroupSpec {
  std::string ddocId;          // "_design/x"
  std::string language;        // "javascript" when absent
  std::vector<ViewDef> views;  // in name order
  std::string lib;             // views.lib as JSON text, "" when absent
  bool includeDesign = false;  // options.include_design
  bool localSeq = false;       // options.local_seq: documents are mapped with _local_seq
  std::string signature;       // viewSignature() of the above: hex, names the index file
};

// Reads the views of a design document (its whole JSON body). A design document without views gives an
// empty spec, and so does one of language "query" (Mango's json indexes, whose maps are objects); a
// malformed one is bad_request named invalid_design_doc with CouchDB's reason (couch_mrview's
// validate_ddoc_fields): "`views` field must have object type", "`views.x.map` field must have string
// type", "View `x` must contain map function", "`_foo` is not a supported reduce function.".
Result<ViewGroupSpec> parseViewGroup(std::string_view ddocId, std::string_view ddocJson);
// The hex MD5 of what the index's rows depend on: the language, each view's name, map and reduce (in
// name order), views.lib and the options. Stable across runs and builds.
std::string viewSignature(const ViewGroupSpec& spec);

// One emit of a map function: key and value as minified JSON.
struct ViewEmit {
  std::string key;
  std::string value;
};
// Maps a batch of documents (JSON, as CouchDB passes them to map functions) through every view of the
// group: result[doc][view] is what that view's map emitted for that doc, in emit order.
using Mapper = std::function<Result<std::vector<std::vector<std::vector<ViewEmit>>>>(
    const std::vector<std::string_view>& docs)>;

// One row of a view.
struct ViewRow {
  std::string_view id;     // the emitting document's id
  std::string_view key;    // JSON
  std::string_view value;  // JSON
};

// Which rows a scan yields (CouchDB's query options, already parsed; JSON values as text).
struct ViewScan {
  std::optional<std::string> startKey;
  std::optional<std::string> startKeyDocId;
  std::optional<std::string> endKey;
  std::optional<std::string> endKeyDocId;
  bool inclusiveEnd = true;
  bool descending = false;         // the range bounds are then given high to low, as CouchDB takes them
  std::optional<std::string> key;  // exact key (overrides start/end)
  uint64_t skip = 0;
  uint64_t limit = UINT64_MAX;
};

// A JavaScript reduce: reduces `rows` (rereduce=false) or earlier `values` (rereduce=true) with the
// reduce source `source`, answering one JSON value.
struct ReduceInput {
  std::vector<ViewRow> rows;             // rereduce == false
  std::vector<std::string_view> values;  // rereduce == true
  bool rereduce = false;
};
using Reducer = std::function<Result<std::string>(std::string_view source, const ReduceInput& input)>;

// How reduce() groups.
struct ViewGrouping {
  bool group = false;                  // group=true: one row per distinct key (collation-equal keys)
  std::optional<uint32_t> groupLevel;  // group_level=N: array keys grouped by their first N elements
};

// One reduced row: key is "null" when not grouping.
struct ReducedRow {
  std::string_view key;
  std::string_view value;
};

// Where an index's file lives: one directory per database (beside its file), one file per signature.
std::string viewFileFor(const std::string& viewDir, const std::string& signature);

class ViewIndex {
 public:
  // Opens (creating when absent) the index of `spec` in `file`. A file made for another signature is
  // replaced. The index starts at update_seq 0 when new.
  static Result<std::unique_ptr<ViewIndex>> open(const std::string& file, ViewGroupSpec spec);
  ~ViewIndex();
  ViewIndex(const ViewIndex&) = delete;
  ViewIndex& operator=(const ViewIndex&) = delete;

  const ViewGroupSpec& spec() const;
  // The database sequence the rows reflect.
  uint64_t updateSeq() const;
  // Brings the rows up to date with every change of `db` committed before the call; returns the
  // update_seq reached. `batch` documents are mapped per Mapper call.
  Result<uint64_t> update(Database& db, const Mapper& map, const std::function<bool()>& stop = {},
                          size_t batch = 500);
  // The rows of view `view` (index into spec().views) in `scan`; `row` returns false to stop. Returns
  // the view's total_rows (kept in a counter: free). `offset` (when given) receives CouchDB's offset:
  // rows before the range in the scan's direction plus those skipped (total_rows past the end). SQLite
  // counts those rows one by one, so ask for it only when it is answered. An out-of-range `view` is
  // not_found "missing_named_view"; a key that is not JSON bad_request.
  Result<uint64_t> scan(size_t view, const ViewScan& scan, const std::function<bool(const ViewRow&)>& row,
                        uint64_t* offset = nullptr);
  // The reduction of view `view`'s rows in `scan` (skip/limit apply to the reduced rows), grouped as
  // asked (group_level=0 is no grouping; a key that is not an array groups as itself at any level);
  // JS reduce sources go to `reducer`, 1,000 rows at a time, their results rereduced 1,000 at a time.
  // No rows in the range: no reduced row, even ungrouped (CouchDB answers {"rows":[]}). A view without
  // reduce is bad_request query_parse_error "Reduce is invalid for map-only views.".
  Status reduce(size_t view, const ViewScan& scan, const ViewGrouping& grouping, const Reducer& reducer,
                const std::function<bool(const ReducedRow&)>& row);
  // For _info: the file's size on disk and the bytes its rows hold.
  struct Sizes {
    uint64_t file = 0;
    uint64_t active = 0;
  };
  Result<Sizes> sizes();
  // Whether an update() is running now (_info's updater_running).
  bool updating() const;
  // The SQLite page cache the index's connections hold now (waits for a running update). Bounded:
  // the writer's cache is released when an update that wrote rows ends, and each idle reader (at most
  // four) keeps at most 2 MiB.
  size_t cacheBytes() const;

  // The state behind the index, defined in view_index_internal.h for the files that implement it.
  struct Impl;

 private:
  explicit ViewIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace settee::db
