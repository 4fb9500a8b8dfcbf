// http/handlers/changes_feed.h — internal to the _changes family (changes_*.cc); nothing else includes it.
//
// The family is three parts:
// - changes_handlers.cc turns a request (query and POST body) into ChangesParams, or a 400.
// - changes_rows.cc reads one batch of rows off the loop: scan the store, filter, render each row's JSON.
// - changes_feed.cc is the streaming state machine on the loop thread: it asks for batches one at a time,
//   writes them as chunks, waits for the client to drain, and, for waiting feeds, sleeps on a change
//   listener and two uv timers (heartbeat, timeout) until there is more to send.
//
// Memory is bounded by one batch (kBatchRows rows or about kBatchBytes of rendered JSON) plus what the
// socket has not taken yet (kHighWaterBytes before the feed pauses); the whole feed is never held. With
// include_docs&attachments=true a row whose bodies are large ends its batch, and those bodies are read
// from the store and written a piece at a time before the next batch (BatchResult::tail).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "db/mango.h"
#include "http/api.h"
#include "http/design_functions.h"
#include "http/handlers/document_internal.h"
#include "settee/database.h"

namespace settee::http::changes {

// Rows scanned per off-loop query. CouchDB's replicator reads in batches of 500 too.
inline constexpr size_t kBatchRows = 500;
// A batch also stops once its rendered rows pass this size, so include_docs of large documents stays
// bounded.
inline constexpr size_t kBatchBytes = 1024 * 1024;
// The feed fetches the next batch only while fewer bytes than this wait in the socket's queue; beyond,
// it waits for onDrain.
inline constexpr size_t kHighWaterBytes = 512 * 1024;
// CouchDB's httpd/changes_timeout: the longest a longpoll or continuous feed waits without a change, and
// the ceiling of `timeout` and `heartbeat`.
inline constexpr uint64_t kDefaultTimeoutMs = 60000;
// Heartbeats closer than this would only burn the loop.
inline constexpr uint64_t kMinHeartbeatMs = 10;
// `pending` is counted exactly up to this many rows after last_seq; beyond it the feed reports the upper
// bound update_seq - last_seq, which avoids rescanning a large database on every paged request.
inline constexpr uint64_t kPendingCountCap = 5000;

enum class FeedKind { Normal, Longpoll, Continuous, EventSource };

struct ChangesFilter {
  enum class Kind {
    None,
    DocIds,    // filter=_doc_ids: only the listed ids
    Selector,  // filter=_selector: the winning revision's body matches a Mango selector
    Design,    // filter=_design: only _design/ documents
    Custom,    // filter=ddoc/name: a JavaScript filter function, run by the node's query servers
    View,      // filter=_view&view=ddoc/name: the documents the view's map function emits anything for
  };
  // What running a Custom or View filter needs, taken from the request by the handler: the query
  // servers (null where none are wired, as in the C API: such a filter is then refused) and the parts
  // of CouchDB's req object.
  struct JsContext {
    std::shared_ptr<DesignFunctions> design;
    std::string dbName, method, rawPath, body, peer, userCtx;
    std::vector<std::pair<std::string, std::string>> query, headers;
  };
  Kind kind = Kind::None;
  std::unordered_set<std::string> docIds;
  std::optional<db::Selector> selector;
  std::string ddoc;  // Custom, View: the design document's name (without "_design/") and the function's
  std::string name;
  std::shared_ptr<const JsContext> js;

  // Whether a row with this id may pass (the selector still needs the document).
  bool passesId(std::string_view id) const;
};

struct ChangesParams {
  FeedKind feed = FeedKind::Normal;
  uint64_t since = 0;
  bool sinceNow = false;        // since=now: start at the update_seq read by the first batch
  uint64_t limit = UINT64_MAX;  // rows to send; limit=0 is read as 1, as CouchDB does
  bool descending = false;      // newest first; a descending feed never waits
  bool allLeaves = false;       // style=all_docs
  bool includeDocs = false;
  ReadOptions docOptions;                  // conflicts, attachments, att_encoding_info for include_docs
  std::optional<uint64_t> heartbeatMs;     // waiting feeds: a blank line this often; then no timeout
  uint64_t timeoutMs = kDefaultTimeoutMs;  // waiting feeds without heartbeat: end after this long idle
  ChangesFilter filter;

  bool waits() const { return feed != FeedKind::Normal && !descending; }
};

// What one off-loop read is asked for.
struct BatchRequest {
  uint64_t cursor = 0;              // ascending: rows after this seq; descending: rows below it
  uint64_t remaining = UINT64_MAX;  // rows the limit still allows (> 0)
  bool resolveSinceNow = false;     // first batch of since=now: the cursor becomes update_seq
  std::optional<uint64_t> horizon;  // stop at rows above this seq; unset: read update_seq and use it
  bool checkFilter = false;         // first batch: validate a Custom filter against its design doc
  // The request's time budget is spent: this batch ends the answer (as a reached limit does), with the
  // last_seq it got to, from which the client carries on.
  bool finalBatch = false;
};

struct BatchResult {
  Status status;          // not ok: nothing else is set
  std::string chunk;      // the rendered rows, framed for the feed kind, ready to write
  uint64_t rows = 0;      // rows in `chunk`
  uint64_t cursor = 0;    // the last seq consumed (the feed's last_seq if it ended here)
  uint64_t horizon = 0;   // the horizon used (read from the store when the request had none)
  bool caughtUp = false;  // the scan reached the horizon (or the start, descending)
  bool limitReached = false;
  uint64_t pending = 0;  // with limitReached: rows left after `cursor`
  // The last row's rest when its attachment bodies are streamed: `chunk` ends inside that row, and
  // `tail` holds the bodies (read from the store as it is stepped) and the row's end, framing included.
  std::shared_ptr<detail::PieceReader> tail;
};

// A GET or POST _changes request's parameters (changes_handlers.cc); what the C API's changes cursor
// parses its options with too (src/capi).
Result<ChangesParams> parseChangesRequest(const Request& req);

// Reads one batch. Runs off the loop (it queries SQLite); `firstRow` says whether the normal/longpoll
// separator must be left out of the first row.
BatchResult readBatch(Database& db, const ChangesParams& params, const BatchRequest& request, bool firstRow);

// Streams the feed for `call` (loop thread). Owns itself until it ends or the client goes away.
void startFeed(std::shared_ptr<Call> call, ChangesParams params);

}  // namespace settee::http::changes
