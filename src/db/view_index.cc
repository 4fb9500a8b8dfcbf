// view_index.cc — opening a view index file, its schema, its readers and sizes (view_index.h).
#include "db/view_index.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <filesystem>

#include "db/view_index_internal.h"

namespace settee::db {
namespace fs = std::filesystem;

namespace {

// At most this many idle readers are kept: enough for the concurrent queries of a node, few enough
// that idle ones cost little (each holds its own page cache).
constexpr size_t kMaxIdleReaders = 4;

// The writer's page cache, held only while an update runs (update() releases it when done, so the
// indexes a node keeps open cost no cache between updates). A build inserts rows at every key position
// of the index, so the cache is what keeps the b-tree's inner pages from being read again for every
// batch: the inner levels of an index of several million rows take a few MiB; the rest holds the
// leaves a commit interval dirties, which SQLite spills to the WAL when it is full.
constexpr const char* kWriterCache = "PRAGMA cache_size=-16384";

// A reader's page cache: a lookup reads one root-to-leaf path and a scan streams leaves it reads once,
// so a small cache keeps the inner pages a query needs; every idle reader of every open index holds
// one, so it stays small.
constexpr const char* kReaderCache = "PRAGMA cache_size=-2048";

// A release of at least this much cache also trims the heap (releaseCache).
constexpr size_t kTrimAfter = 4 << 20;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS rows(view INTEGER NOT NULL, ckey BLOB NOT NULL, id NOT NULL,"
    " n INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY(view, ckey, id, n)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rows_by_id ON rows(id);"
    "CREATE TABLE IF NOT EXISTS counts(view INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS fences(fence INTEGER PRIMARY KEY, view INTEGER NOT NULL, ckey BLOB NOT NULL,"
    " doc NOT NULL, n INTEGER NOT NULL, cnt INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS fences_at ON fences(view, ckey, doc, n);";

void removeIndexFiles(const std::string& file) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(file + suffix, ec);
}

Result<std::string> metaText(Connection& conn, const char* key) {
  Statement st(conn.prepare("SELECT value FROM meta WHERE key = ?1"));
  st.bind(1, std::string_view(key));
  if (st.step()) return std::string(st.text(0));
  if (st.failed()) return conn.error("read view index meta");
  return std::string();
}

// Opens the writer on `file` and makes its schema, writing the meta of a new file; `stale` says the file
// was made for another signature or format.
Status openWriter(Connection& conn, const std::string& file, const ViewGroupSpec& spec, bool& stale) {
  stale = false;
  if (Status st = conn.open(file, true, false, {}, false); !st) return st;
  if (Status st = conn.exec(kWriterCache); !st) return st;
  if (Status st = conn.exec(kSchema); !st) return st;
  auto sig = metaText(conn, "signature");
  if (!sig) return sig.status();
  auto format = metaText(conn, "format");
  if (!format) return format.status();
  if (!sig->empty()) {
    stale = *sig != spec.signature || *format != std::to_string(kViewFormat);
    return Status::ok();
  }
  Transaction tx(conn);
  if (!tx.begun()) return tx.begun();
  Statement put(conn.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"));
  const std::string formatText = std::to_string(kViewFormat);
  const std::pair<std::string_view, std::string_view> meta[] = {
      {"signature", spec.signature}, {"format", formatText}, {"update_seq", "0"}, {"active", "0"}};
  for (const auto& [key, value] : meta) {
    put.bind(1, key).bind(2, value);
    if (!put.exec()) return conn.error("write view index meta");
    put.reset();
  }
  Statement count(conn.prepare("INSERT OR REPLACE INTO counts(view, n) VALUES(?1, 0)"));
  for (size_t v = 0; v < spec.views.size(); ++v) {
    count.bind(1, static_cast<int64_t>(v));
    if (!count.exec()) return conn.error("write view counts");
    count.reset();
  }
  if (Status st = initFences(conn, spec.views.size()); !st) return st;
  return tx.commit();
}

}  // namespace

Result<std::unique_ptr<Connection>> ViewIndex::Impl::takeReader() {
  {
    std::lock_guard lock(poolMu);
    if (!readers.empty()) {
      auto conn = std::move(readers.back());
      readers.pop_back();
      return conn;
    }
  }
  auto conn = std::make_unique<Connection>();
  if (Status st = conn->open(file, false, false, {}, false); !st) return st;
  if (Status st = conn->exec(kReaderCache); !st) return st;
  return conn;
}

void ViewIndex::Impl::giveBack(std::unique_ptr<Connection> reader) {
  std::lock_guard lock(poolMu);
  if (readers.size() < kMaxIdleReaders) readers.push_back(std::move(reader));
}

size_t ViewIndex::Impl::cacheBytes() {
  size_t total = 0;
  {
    std::lock_guard lock(updateMu);
    total += cacheUsed(*writer);
  }
  std::lock_guard lock(poolMu);
  for (auto& reader : readers) total += cacheUsed(*reader);
  return total;
}

size_t cacheUsed(Connection& conn) {
  int used = 0, highwater = 0;
  if (sqlite3_db_status(conn.handle(), SQLITE_DBSTATUS_CACHE_USED, &used, &highwater, 0) != SQLITE_OK)
    return 0;
  return used > 0 ? static_cast<size_t>(used) : 0;
}

void releaseCache(Connection& conn) {
  const size_t used = cacheUsed(conn);
  sqlite3_db_release_memory(conn.handle());
#ifdef __GLIBC__
  // glibc keeps freed pages in the arena of the thread that freed them, where the next update (likely
  // on another thread) does not find them: give them to the system. Only after a large release, as the
  // trim walks the whole heap.
  if (used >= kTrimAfter) malloc_trim(0);
#endif
}

ReadScope::ReadScope(ViewIndex::Impl& impl) : impl_(impl) {
  auto conn = impl_.takeReader();
  if (!conn) {
    status_ = conn.status();
    return;
  }
  conn_ = std::move(*conn);
  status_ = conn_->exec("BEGIN");
  open_ = status_.isOk();
}

ReadScope::~ReadScope() {
  if (!conn_) return;
  if (open_) (void)conn_->exec("COMMIT");
  if (status_) impl_.giveBack(std::move(conn_));
}

ViewIndex::ViewIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ViewIndex::~ViewIndex() = default;

Result<std::unique_ptr<ViewIndex>> ViewIndex::open(const std::string& file, ViewGroupSpec spec) {
  std::error_code ec;
  fs::path dir = fs::path(file).parent_path();
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Status(ErrorCode::Internal, "cannot create " + dir.string() + ": " + ec.message());
  }
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  impl->spec = std::move(spec);
  bool stale = false;
  if (Status st = openWriter(*impl->writer, file, impl->spec, stale); !st) return st;
  if (stale) {
    // A file of another signature (or format) holds rows of other functions: start over.
    impl->writer = std::make_unique<Connection>();
    removeIndexFiles(file);
    if (Status st = openWriter(*impl->writer, file, impl->spec, stale); !st) return st;
  }
  auto seq = metaText(*impl->writer, "update_seq");
  if (!seq) return seq.status();
  impl->updateSeq = std::strtoull(seq->c_str(), nullptr, 10);
  return std::unique_ptr<ViewIndex>(new ViewIndex(std::move(impl)));
}

const ViewGroupSpec& ViewIndex::spec() const { return impl_->spec; }
uint64_t ViewIndex::updateSeq() const { return impl_->updateSeq.load(); }
bool ViewIndex::updating() const { return impl_->updating.load(); }
size_t ViewIndex::cacheBytes() const { return impl_->cacheBytes(); }

Result<ViewIndex::Sizes> ViewIndex::sizes() {
  ReadScope scope(*impl_);
  if (!scope.status()) return scope.status();
  Sizes sizes;
  std::error_code ec;
  for (const char* suffix : {"", "-wal"}) {
    auto n = fs::file_size(impl_->file + suffix, ec);
    if (!ec) sizes.file += n;
  }
  auto active = metaText(scope.conn(), "active");
  if (!active) return active.status();
  sizes.active = std::strtoull(active->c_str(), nullptr, 10);
  return sizes;
}

}  // namespace settee::db
