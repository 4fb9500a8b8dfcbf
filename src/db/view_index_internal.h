// view_index_internal.h — what the files of ViewIndex (view_index.cc: open, schema, sizes;
// view_update.cc; view_scan.cc; view_index_reduce.cc) share: the Impl, the read connections, and the
// range bounds of a scan.
//
// Connections: one writer, used only under updateMu (updates are serialised), and a pool of readers
// (WAL lets each read a committed snapshot while the writer writes). A reader is used by one thread at
// a time: it is taken from the pool for one scan or reduce and given back after. Neither connection
// takes SQLite's exclusive lock, since two connections of this process share the file.
//
// Schema (format 2):
//   meta(key, value): signature, format, update_seq, active (bytes the rows hold).
//   rows(view, ckey, id, n, key, value), PRIMARY KEY(view, ckey, id, n), WITHOUT ROWID: a view's rows
//     in view order — ckey is the collation key of the key (collate_key.h), id the document id (raw
//     byte order, as CouchDB's couch_ejson_compare:less_json_ids orders ids), n the emit order. Rows
//     are clustered by that key, so a range scan reads consecutive pages and needs no second lookup.
//   rows_by_id(id): the rows of a document, which its next update replaces.
//   counts(view, n): each view's row count, kept by every update, so total_rows costs no count.
//   fences(fence, view, ckey, doc, n, cnt), UNIQUE(view, ckey, doc, n): counted positions over each
//     view's rows, so an offset costs no full count (view_fences.cc).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "db/storage/sqlite.h"
#include "db/view_index.h"

namespace settee::db {

inline constexpr int kViewFormat = 2;

// One end of a range, on (ckey, id, n): every bound CouchDB's options make is written as an inclusive
// comparison with sentinels. An id bound as a BLOB sorts after every (TEXT) id; "" as TEXT before
// every id; n is -1 before any emit and INT64_MAX after.
struct RowBound {
  std::string ckey;
  std::string id;
  bool idIsBlob = false;
  int64_t n = -1;
};

// The inclusive range [lower, upper] of `scan` (in ascending order, whatever its direction);
// bad_request when a key is not JSON.
struct RowRange {
  RowBound lower;
  RowBound upper;
};
Result<RowRange> rangeOf(const ViewScan& scan);

// Binds `bound` at parameters first..first+2.
void bindBound(Statement& st, int first, const RowBound& bound);

// ---- fences (view_fences.cc) ----

// Gives each of `views` views its first fence (below every row), unless it has it.
Status initFences(Connection& conn, size_t views);
// The rows an update adds to and removes from each segment, applied (with the splits they call for)
// in the update's transaction.
class FenceCounts {
 public:
  Status add(Connection& conn, int64_t view, std::string_view ckey, std::string_view id, int64_t n,
             int64_t delta);
  Status apply(Connection& conn);

 private:
  std::map<int64_t, int64_t> deltas_;  // fence rowid -> rows added (negative: removed)
};
// Every view's fences with the rows before each, as of one committed state (meta "generation", which
// each commit of rows advances).
struct FenceTable {
  struct Fence {
    std::string ckey;
    std::string doc;
    int64_t n = 0;
    uint64_t before = 0;  // rows of the view before this fence
  };
  uint64_t generation = 0;
  std::vector<std::vector<Fence>> views;  // by view, in (ckey, doc, n) order
};
// The latest FenceTable read, shared by the scans of the state it describes.
struct FenceCache {
  std::mutex mu;
  std::shared_ptr<const FenceTable> table;
};
// The rows of `view` before `bound` (inclusive: at or before it), in `conn`'s read transaction.
Result<uint64_t> rowsBefore(Connection& conn, FenceCache& cache, int64_t view, const RowBound& bound,
                            bool inclusive);
// Advances the commit generation (in the caller's write transaction).
Status bumpGeneration(Connection& conn);

struct ViewIndex::Impl {
  std::string file;
  ViewGroupSpec spec;
  std::mutex updateMu;  // held by update(); guards writer
  std::unique_ptr<Connection> writer = std::make_unique<Connection>();
  std::atomic<bool> updating{false};
  std::atomic<uint64_t> updateSeq{0};

  std::mutex poolMu;
  std::vector<std::unique_ptr<Connection>> readers;
  FenceCache fences;

  // A reader for one scan: from the pool, or newly opened.
  Result<std::unique_ptr<Connection>> takeReader();
  void giveBack(std::unique_ptr<Connection> reader);
  // The page cache the writer and the idle readers hold (waits for a running update).
  size_t cacheBytes();
};

// The bytes of page cache `conn` holds.
size_t cacheUsed(Connection& conn);
// Gives back the page cache of `conn` (every page not in use: all of them outside a transaction) and,
// when that was much, the heap memory it leaves free, so an index idle between updates costs no cache.
void releaseCache(Connection& conn);

// A reader taken from the pool for a scope, in one read transaction so every statement of the scope
// (the count, the total, the rows) sees the same snapshot.
class ReadScope {
 public:
  explicit ReadScope(ViewIndex::Impl& impl);
  ~ReadScope();
  ReadScope(const ReadScope&) = delete;
  ReadScope& operator=(const ReadScope&) = delete;
  const Status& status() const { return status_; }
  Connection& conn() { return *conn_; }

 private:
  ViewIndex::Impl& impl_;
  std::unique_ptr<Connection> conn_;
  Status status_;
  bool open_ = false;
};

}  // namespace settee::db
