// http/handlers/view_internal.h — internal to the view family (view_*.cc): the options of one view query
// as CouchDB's parameters name them, how a query string, a POST body or an entry of `queries` become
// them, and the answer itself, produced a page at a time.
//
// Parsing is pure (any thread); a parsed query copies what it keeps, no simdjson value outlives its
// document. A ViewAnswer reads the index and the database only from its page() calls (thread pool, one
// at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/view_index.h"
#include "http/api.h"
#include "http/views.h"

namespace settee::http::detail {

// What `update` asks of the index before the rows are read.
enum class ViewUpdate { Now, Never, After };

// One view query's options; JSON values as minified text.
struct ViewQuery {
  std::optional<bool> reduce;
  std::optional<std::string> startKey, endKey;
  std::optional<std::string> startKeyDocId, endKeyDocId;
  std::optional<std::vector<std::string>> keys;
  bool inclusiveEnd = true;
  bool descending = false;
  uint64_t limit = UINT64_MAX;
  uint64_t skip = 0;
  std::optional<bool> group;
  std::optional<uint64_t> groupLevel;
  bool includeDocs = false;
  std::optional<bool> conflicts;
  bool attachments = false;      // with include_docs: bodies inline as base64
  bool attEncodingInfo = false;  // with include_docs
  ViewUpdate update = ViewUpdate::Now;
  bool updateSeq = false;
  bool sorted = true;   // rows are always sorted; accepted as CouchDB accepts it
  bool stable = false;  // a single node answers from one index whatever it says
};

// The query options of GET /{db}/_design/{ddoc}/_view/{view} (query string, keys as JSON there) or of
// POST (the body's members, then the query string's over them, as CouchDB 3.4 merges them).
Result<ViewQuery> parseViewRequest(const Request& req, bool post);
// POST .../_view/{view}/queries: each entry's members over the query string's options.
Result<std::vector<ViewQuery>> parseViewQueries(const Request& req);

// What a query runs on: the design document's view group, which view, its index.
struct ViewTarget {
  std::shared_ptr<Database> db;
  std::shared_ptr<ViewRegistry> registry;
  std::shared_ptr<DesignFunctions> design;
  db::ViewGroupSpec spec;
  size_t view = 0;  // into spec.views
  std::shared_ptr<db::ViewIndex> index;
};

// Reads the design document `ddoc` (its name without "_design/") of `db` and finds view `name` in it:
// 404 not_found "missing" / "deleted" without the design document, "missing_named_view" without the
// view; 500 unknown_query_language for another language. Opens the index (not brought up to date).
Result<ViewTarget> openViewTarget(Services& svc, const std::shared_ptr<Database>& db, const std::string& ddoc,
                                  const std::string& name);

// CouchDB's validate_args for `q` on `target`'s view (the combinations it refuses, as query_parse_error)
// and its key range check.
Status validateViewQuery(const ViewQuery& q, const ViewTarget& target);

// One query's answer: {"total_rows","offset","update_seq"?,"rows":[...]} for map rows, {"rows":[...]}
// for reduced ones, with CouchDB's line breaks between rows; a page at a time. Rows are read from the
// index in pages of at most a few hundred, each one scan that resumes after the last row sent, so a
// million-row answer costs a page of memory. Pages are not one snapshot: an update between two pages
// shows in the later one.
class ViewAnswer {
 public:
  ViewAnswer(std::shared_ptr<ViewTarget> target, ViewQuery query);
  ~ViewAnswer();
  // Appends the next piece to `out`; `done` once the object is closed. The first call updates the index
  // as `update` asks.
  Status page(std::string& out, bool& done);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace settee::http::detail
