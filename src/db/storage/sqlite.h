// sqlite.h — RAII over SQLite: a Connection owns the handle and caches prepared statements; a
// Statement is a borrowed, reset-on-scope-exit cursor; a Transaction rolls back unless committed.
// A Transaction whose BEGIN failed says so (begun()): its caller must not write, since every statement
// outside a transaction would commit on its own and a failure midway would leave half a write.
//
// One Connection is used by one thread at a time (the Store serialises calls). Text and blob views
// returned by a Statement are valid until the next step() or reset() of that statement.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "settee/status.h"

namespace settee::db {

class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement() { reset(); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); return *this; }
  Statement& bind(int i, uint64_t v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, bool v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bindNull(int i) { sqlite3_bind_null(stmt_, i); return *this; }

  // True when a row is ready; false when done. Errors are reported by lastError().
  bool step() {
    rc_ = sqlite3_step(stmt_);
    return rc_ == SQLITE_ROW;
  }
  // Runs a statement that returns no rows; false on error.
  bool exec() {
    rc_ = sqlite3_step(stmt_);
    return rc_ == SQLITE_DONE;
  }
  int rc() const { return rc_; }
  bool failed() const { return rc_ != SQLITE_ROW && rc_ != SQLITE_DONE; }

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string_view text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string_view();
  }
  std::string_view blob(int col) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string_view();
  }
  bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_;
  int rc_ = SQLITE_OK;
};

class Connection {
 public:
  // The WAL is copied into the database (checkpointed) once it holds this many pages, after the commit
  // that passed it. SQLite's default is 1,000 pages (4 MB): under a bulk load (a replication, a big
  // _bulk_docs) that is a checkpoint, with its fsync, every few batches, inside the writer's lock (a
  // pull's profile: commit and checkpoints 26-39% of its samples). At 10,000 pages the hot pages (the b-trees' upper levels,
  // rewritten by every batch) are copied once per 40 MB instead of once per 4 MB. Durability does not
  // depend on it: a committed transaction is in the WAL, which survives a crash either way.
  static constexpr int kWalCheckpointPages = 10000;
  // The WAL stays bounded under a continuous load: one connection owns the file (exclusive locking: no
  // other process reads it; the store closes an idle attachment reader, whose snapshot would hold the
  // WAL back, after seconds), so each checkpoint completes and the next commit writes the WAL from its
  // start again; its length is then at most the threshold plus one transaction. A transaction larger
  // than that leaves a longer file, cut back to this size by the checkpoint after it.
  static constexpr int64_t kWalKeptBytes = 64 * 1024 * 1024;

  Connection() = default;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Opens (with `create`, makes) the database at `path`. It and its -wal/-shm/-journal are mode 0600
  // whatever the umask. `vfs` names a registered SQLite VFS; empty is SQLite's default (tests name a
  // faulty one).
  Status open(const std::string& path, bool create, bool syncFull, const std::string& vfs = {},
              bool exclusive = true);
  Status exec(const char* sql);
  // A cached prepared statement for `sql` (a string literal: the cache is keyed by its address).
  sqlite3_stmt* prepare(const char* sql);
  sqlite3* handle() { return db_; }
  std::string lastError() const { return db_ ? sqlite3_errmsg(db_) : "not open"; }
  Status error(std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Connection& c);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // ok when BEGIN succeeded. Check it before the first statement: on failure, return it and write nothing.
  [[nodiscard]] const Status& begun() const { return begun_; }
  // Still open: begun, not committed, and not rolled back by SQLite itself (which it does on some
  // errors — I/O, disk full, out of memory — even in a read).
  bool active() const { return begun_.isOk() && !done_ && !sqlite3_get_autocommit(conn_.handle()); }
  // COMMIT; on failure the transaction is rolled back. A transaction that never began answers begun().
  Status commit();

 private:
  Connection& conn_;
  Status begun_;
  bool done_ = false;
};

}  // namespace settee::db
