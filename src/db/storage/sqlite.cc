#include "db/storage/sqlite.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace settee::db {
namespace {

// Database files are readable by their owner only, whatever the umask: documents and `_users` hashes
// are in them. SQLite creates a file with 0644 minus the umask, so the main file is made here first
// (an empty file is a valid new database), with an explicit chmod because the umask could also take
// bits from 0600. SQLite gives the -wal, -shm and -journal files it creates the main file's mode.
// Files left by an older version are narrowed too.
Status ownerOnly(const std::string& path, bool create) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0) {
    if (errno == ENOENT && !create) return notFound("Database does not exist.");
    return {ErrorCode::Internal, "open " + path + ": " + std::strerror(errno)};
  }
  int rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) return {ErrorCode::Internal, "chmod " + path + ": " + std::strerror(err)};
  for (const char* suffix : {"-wal", "-shm", "-journal"}) (void)::chmod((path + suffix).c_str(), 0600);
  return Status::ok();
}

}  // namespace

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  if (db_) sqlite3_close(db_);
}

Status Connection::open(const std::string& path, bool create, bool syncFull, const std::string& vfs,
                        bool exclusive) {
  if (Status st = ownerOnly(path, create); !st) return st;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, vfs.empty() ? nullptr : vfs.c_str()) != SQLITE_OK) {
    Status st = error("open " + path);
    sqlite3_close(db_);
    db_ = nullptr;
    return create ? st : notFound("Database does not exist.");
  }
  sqlite3_busy_timeout(db_, 10000);
  // WAL: readers never block the writer; synchronous=NORMAL in WAL survives a process crash with
  // every committed transaction, FULL also survives power loss.
  // One process owns a database file (as CouchDB owns its files): exclusive locking takes the file
  // lock once instead of per transaction, and keeps the WAL index in heap memory, not a shared file.
  // Unless the opener shares the file with other processes (DatabaseOptions::exclusive).
  if (exclusive) {
    if (Status st = exec("PRAGMA locking_mode=EXCLUSIVE"); !st) return st;
  }
  if (Status st = exec("PRAGMA journal_mode=WAL"); !st) return st;
  if (Status st = exec(syncFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !st) return st;
  // Bounded memory: a 8 MiB page cache whatever the database size.
  if (Status st = exec("PRAGMA cache_size=-8192; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=OFF"); !st)
    return st;
  // Checkpoints less often, the WAL bounded all the same (see kWalCheckpointPages).
  sqlite3_wal_autocheckpoint(db_, kWalCheckpointPages);
  const std::string limit = "PRAGMA journal_size_limit=" + std::to_string(kWalKeptBytes);
  return exec(limit.c_str());
}

Status Connection::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string reason = msg ? msg : "sqlite error";
    sqlite3_free(msg);
    return {ErrorCode::Internal, reason};
  }
  return Status::ok();
}

sqlite3_stmt* Connection::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    // A statement of ours that does not prepare is a programming error; fail loudly in tests.
    throw std::runtime_error(std::string("SQL prepare failed: ") + sqlite3_errmsg(db_) + " in " + sql);
  }
  cache_.emplace(sql, stmt);
  return stmt;
}

Status Connection::error(std::string_view what) const {
  return {ErrorCode::Internal, std::string(what) + ": " + lastError()};
}

// A failed BEGIN leaves no transaction of ours to roll back (when it failed because one was already open,
// that one is not ours to end), so the destructor then does nothing.
Transaction::Transaction(Connection& c) : conn_(c) {
  if (Status st = conn_.exec("BEGIN IMMEDIATE"); !st) {
    begun_ = Status(ErrorCode::Internal, "begin transaction: " + st.reason());
    done_ = true;
  }
}

Transaction::~Transaction() {
  if (!done_) (void)conn_.exec("ROLLBACK");
}

Status Transaction::commit() {
  if (!begun_) return begun_;
  done_ = true;
  Status st = conn_.exec("COMMIT");
  if (!st) (void)conn_.exec("ROLLBACK");
  return st;
}

}  // namespace settee::db
