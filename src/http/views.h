// http/views.h — a node's map/reduce views as the HTTP layer serves them: the registry of open view
// indexes, and the JavaScript (through the node's QueryServerPool) that the db layer's ViewIndex calls
// back into.
//
// Contract:
// - One ViewRegistry per node, shared by every loop's Services; thread-safe. Every call may block on
//   SQLite or a query server: call it from libuv's thread pool, never from a loop thread.
// - An index is keyed by (database, view group signature), as CouchDB keys its view files, so design
//   documents with the same views share one index, and editing a design document opens a new one.
// - An entry belongs to one open Database object: when the database is deleted (DataDir drops its
//   object), the entry is stale and is dropped the next time it is met, its file with it, so a database
//   created again under the same name never sees the rows of the old one.
// - At most `capacity` indexes are held open; the least recently used one is closed (when no query
//   still holds it) to make room, so a node serving many design documents keeps a bounded number of
//   SQLite connections. An index closed while a query still holds it is found again by the next lookup,
//   so there is never more than one ViewIndex per file (db/view_index.h asks for that).
// - update=lazy work runs on one thread of the registry's own after the answer; the destructor stops it
//   between batches and joins it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "db/view_index.h"
#include "settee/database.h"
#include "settee/status.h"

namespace settee::http {

class DesignFunctions;

// CouchDB's answer for views in a language the node runs no query server for: 500
// {"error":"unknown_query_language","reason":<language>}. Ok for "javascript".
Status checkViewLanguage(const db::ViewGroupSpec& spec);

// The version of the ICU collator that orders view keys, as CouchDB's _info lists it ("153.120": the
// collator's version numbers, trailing zeros dropped).
std::string collatorVersion();

// The map functions of `spec` run by the pool (MapSpec: the map sources and views.lib).
db::Mapper makeMapper(std::shared_ptr<DesignFunctions> design, const db::ViewGroupSpec& spec);
// JavaScript reduce and rereduce of one reduce source, run by the pool.
db::Reducer makeReducer(std::shared_ptr<DesignFunctions> design);

class ViewRegistry {
 public:
  // Most indexes held open at once. Each holds SQLite connections and, once it has been updated, its
  // writer's page cache (up to 64 MiB, db/view_index.cc): an edge node keeps few open.
  static constexpr size_t kDefaultCapacity = 8;

  // `data` and `design` outlive the registry (the CouchServer owns all three).
  ViewRegistry(DataDir& data, std::shared_ptr<DesignFunctions> design, size_t capacity = kDefaultCapacity);
  ~ViewRegistry();
  ViewRegistry(const ViewRegistry&) = delete;
  ViewRegistry& operator=(const ViewRegistry&) = delete;

  // The index of `spec` over `db`, opened (and its file created) on first use.
  Result<std::shared_ptr<db::ViewIndex>> index(const std::shared_ptr<Database>& db,
                                               const db::ViewGroupSpec& spec);
  // Brings `index` up to date with `db` (CouchDB's update=true); returns the update_seq reached.
  Result<uint64_t> update(Database& db, db::ViewIndex& index);
  // Queues an update of `index` for after the answer (update=lazy). An index already queued is not
  // queued twice.
  void updateLater(const std::shared_ptr<Database>& db, const std::shared_ptr<db::ViewIndex>& index);
  // POST /{db}/_view_cleanup: closes the indexes of `db` whose signature is not in `keep` and deletes
  // every file of its view directory that no signature in `keep` names.
  Status cleanup(const std::shared_ptr<Database>& db, const std::set<std::string>& keep);
  // Clients waiting on an update of `index` now (_info's waiting_clients).
  uint64_t waiting(const db::ViewIndex& index) const;

 private:
  struct Entry {
    std::string dbName;
    std::string signature;
    std::weak_ptr<Database> db;
    std::shared_ptr<db::ViewIndex> index;
    std::shared_ptr<std::atomic<uint64_t>> waiting = std::make_shared<std::atomic<uint64_t>>(0);
  };
  // An entry closed to make room whose index a query or an update may still hold: found again by the
  // next lookup while it lives, so a process never has two ViewIndex objects on one file.
  struct Closed {
    std::string dbName;
    std::string signature;
    std::weak_ptr<Database> db;
    std::weak_ptr<db::ViewIndex> index;
    std::shared_ptr<std::atomic<uint64_t>> waiting;
  };
  struct LazyJob {
    std::weak_ptr<Database> db;
    std::weak_ptr<db::ViewIndex> index;
  };
  // Drops entries whose database is gone and closed entries no one holds; mutex_ held.
  void pruneLocked();
  // Closes the least recently used entries beyond the capacity; mutex_ held.
  void evictLocked();
  void lazyLoop();

  DataDir& data_;
  std::shared_ptr<DesignFunctions> design_;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::list<Closed> closed_;
  // update=lazy jobs and the thread that runs them (started with the first job).
  std::deque<LazyJob> lazy_;
  std::condition_variable lazyWake_;
  std::thread lazyThread_;
  std::atomic<bool> stopping_{false};  // read by running updates between their batches
};

}  // namespace settee::http
