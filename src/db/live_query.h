// live_query.h — live queries (Database::liveQuery): a Mango query run again after the writes that may
// change its result, whose new result is delivered only when it differs from the last one delivered.
//
// One LiveQueries per Database, owned by it. It keeps one worker thread, started by the first live query
// and ended when the last handle goes (or when the LiveQueries is destroyed). The Store's change
// listener, which runs on the writer's thread, only wakes the worker: a write never waits for a query.
// On each wake the worker reads the changes since the sequence each query last saw (one changes() scan
// shared by every query) and re-runs a query only when a changed document is in its last result, now
// matches its selector, or is a design document (a new index may change an unsorted order); a purge
// re-runs every query. A query a full scan answers (no sort, whole documents, no conflicts, no bookmark)
// whose rows hold every match is not re-run at all: each changed document is put into or taken out of
// its id-ordered rows, which costs the changed documents, not the database (kept only when no write
// landed while they were read one by one; else the query re-runs, which reads in one snapshot). A
// result equal to the last delivered one (every document's JSON, `_rev` included, in order) is not
// delivered. Writes that arrive while the worker is busy are handled by one
// pass, and passes are at least kMinPassInterval apart, so a burst of writes costs a few re-runs.
//
// Contract:
// - add() runs the query once on the calling thread: an error (a bad selector, a sort no index serves)
//   comes back from it and nothing is registered. That first result is delivered from the worker.
// - Callbacks run on the worker thread, one at a time, never on a writer's thread. They may call the
//   Database (write, register or destroy live queries, their own handle included); they must not throw,
//   nor destroy the Database itself (its destructor waits for the worker the callback runs on).
// - Destroying a handle unregisters its query; when it returns, no callback of that query is running or
//   will run. From inside a callback (the worker thread) it returns at once: the running callback is the
//   caller's own frame, and no later one starts.
// - A handle may outlive its LiveQueries (the Database closed first): it is then inert, and destroying
//   it touches nothing of the closed database.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "db/mango_find.h"
#include "settee/query.h"
#include "settee/status.h"

namespace settee::db {

class Store;

class LiveQueries {
 public:
  // Writes closer together than this are handled by one pass of the worker: a screen cannot show more
  // than ~60 results a second, and a re-run of a large query may cost milliseconds. The first change
  // after a quiet period is handled at once.
  static constexpr std::chrono::milliseconds kMinPassInterval{16};

  // `store` must outlive this object.
  explicit LiveQueries(Store& store);
  // Stops the worker (waiting for a running callback) and leaves every handle inert.
  ~LiveQueries();
  LiveQueries(const LiveQueries&) = delete;
  LiveQueries& operator=(const LiveQueries&) = delete;

  Result<std::unique_ptr<LiveQuery>> add(const FindQuery& query,
                                         std::function<void(const LiveResult&)> onResult);

  struct Core;  // shared with the handles and the worker, which outlive nothing they need

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace settee::db
