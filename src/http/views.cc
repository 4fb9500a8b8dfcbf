// The registry of open view indexes, and the query server calls behind a view's Mapper and Reducer.
#include "http/views.h"

#include <unicode/ucol.h>

#include <algorithm>
#include <filesystem>

#include "http/design_functions.h"

namespace settee::http {
namespace fs = std::filesystem;

namespace {

// The files SQLite may keep beside an index file (WAL mode, or a rollback journal).
constexpr const char* kCompanions[] = {"", "-wal", "-shm", "-journal"};

void removeIndexFiles(const std::string& file) {
  std::error_code ec;
  for (const char* suffix : kCompanions) fs::remove(file + suffix, ec);
}

}  // namespace

Status checkViewLanguage(const db::ViewGroupSpec& spec) {
  if (spec.language == "javascript") return Status::ok();
  // CouchDB's query server lookup throws {unknown_query_language, Lang}, which chttpd answers with its
  // generic 500 of the tuple.
  return Status(ErrorCode::Internal, spec.language, "unknown_query_language");
}

std::string collatorVersion() {
  UErrorCode status = U_ZERO_ERROR;
  UCollator* collator = ucol_open("", &status);
  if (U_FAILURE(status)) return "";
  UVersionInfo version;
  ucol_getVersion(collator, version);
  ucol_close(collator);
  size_t parts = U_MAX_VERSION_LENGTH;
  while (parts > 1 && version[parts - 1] == 0) --parts;
  std::string out;
  for (size_t i = 0; i < parts; ++i) {
    if (i) out += '.';
    out += std::to_string(version[i]);
  }
  return out;
}

db::Mapper makeMapper(std::shared_ptr<DesignFunctions> design, const db::ViewGroupSpec& spec) {
  js::MapSpec map;
  map.sources.reserve(spec.views.size());
  for (const auto& view : spec.views) map.sources.push_back(view.map);
  map.lib = spec.lib;
  return [design = std::move(design), map = std::move(map)](const std::vector<std::string_view>& docs)
             -> Result<std::vector<std::vector<std::vector<db::ViewEmit>>>> {
    auto mapped = design->pool().mapDocs(map, docs);
    if (!mapped) return mapped.status();
    std::vector<std::vector<std::vector<db::ViewEmit>>> out(mapped->size());
    for (size_t d = 0; d < mapped->size(); ++d) {
      auto& byView = (*mapped)[d];
      out[d].resize(byView.size());
      for (size_t v = 0; v < byView.size(); ++v) {
        out[d][v].reserve(byView[v].size());
        for (auto& emitted : byView[v])
          out[d][v].push_back({std::move(emitted.key), std::move(emitted.value)});
      }
    }
    return out;
  };
}

db::Reducer makeReducer(std::shared_ptr<DesignFunctions> design) {
  return [design = std::move(design)](std::string_view source,
                                      const db::ReduceInput& input) -> Result<std::string> {
    const std::vector<std::string> sources{std::string(source)};
    Result<std::vector<std::string>> reduced = Status::ok();
    if (input.rereduce) {
      reduced = design->pool().rereduce(sources, input.values);
    } else {
      std::vector<js::ReduceRow> rows;
      rows.reserve(input.rows.size());
      for (const auto& row : input.rows) rows.push_back({row.key, row.id, row.value});
      reduced = design->pool().reduce(sources, rows);
    }
    if (!reduced) return reduced.status();
    if (reduced->empty()) return Status(ErrorCode::Internal, "the query server answered no reduction");
    return std::move(reduced->front());
  };
}

ViewRegistry::ViewRegistry(DataDir& data, std::shared_ptr<DesignFunctions> design, size_t capacity)
    : data_(data), design_(std::move(design)), capacity_(capacity ? capacity : 1) {}

ViewRegistry::~ViewRegistry() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    lazy_.clear();
  }
  lazyWake_.notify_all();
  if (lazyThread_.joinable()) lazyThread_.join();
}

void ViewRegistry::pruneLocked() {
  entries_.remove_if([](const Entry& e) { return e.db.expired(); });
  closed_.remove_if([](const Closed& c) { return c.index.expired() || c.db.expired(); });
}

void ViewRegistry::evictLocked() {
  while (entries_.size() > capacity_) {
    Entry& last = entries_.back();
    closed_.push_back({last.dbName, last.signature, last.db, last.index, last.waiting});
    entries_.pop_back();  // a query holding the index keeps it open until done
  }
}

Result<std::shared_ptr<db::ViewIndex>> ViewRegistry::index(const std::shared_ptr<Database>& db,
                                                           const db::ViewGroupSpec& spec) {
  const std::string& name = db->name();
  const std::string file = db::viewFileFor(data_.viewDirFor(name), spec.signature);
  // Opening runs under the lock: it is rare (once per index and process), and two callers opening the
  // same file at once would race to create it.
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->dbName != name || it->signature != spec.signature) continue;
    auto owner = it->db.lock();
    if (owner.get() == db.get()) {
      entries_.splice(entries_.begin(), entries_, it);  // most recently used
      return entries_.front().index;
    }
    // Made for a database of this name that has since been deleted: its rows are not this one's.
    entries_.erase(it);
    removeIndexFiles(file);
    break;
  }
  pruneLocked();
  for (auto it = closed_.begin(); it != closed_.end(); ++it) {
    if (it->dbName != name || it->signature != spec.signature) continue;
    auto held = it->index.lock();
    const bool same = it->db.lock().get() == db.get();
    Entry back{name, spec.signature, db, held, it->waiting};
    closed_.erase(it);
    if (!held || !same) break;
    entries_.push_front(std::move(back));  // still in use: the same object again
    evictLocked();
    return held;
  }
  std::error_code ec;
  fs::create_directories(fs::path(file).parent_path(), ec);
  auto opened = db::ViewIndex::open(file, spec);
  if (!opened) return opened.status();
  std::shared_ptr<db::ViewIndex> index(std::move(*opened));
  entries_.push_front({name, spec.signature, db, index});
  evictLocked();
  return index;
}

Result<uint64_t> ViewRegistry::update(Database& db, db::ViewIndex& index) {
  std::shared_ptr<std::atomic<uint64_t>> waiting;
  {
    std::lock_guard lock(mutex_);
    for (auto& e : entries_) {
      if (e.index.get() == &index) waiting = e.waiting;
    }
  }
  if (waiting) ++*waiting;
  auto done = index.update(db, makeMapper(design_, index.spec()), [this] { return stopping_.load(); });
  if (waiting) --*waiting;
  return done;
}

uint64_t ViewRegistry::waiting(const db::ViewIndex& index) const {
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    if (e.index.get() == &index) return e.waiting->load();
  }
  return 0;
}

void ViewRegistry::updateLater(const std::shared_ptr<Database>& db,
                               const std::shared_ptr<db::ViewIndex>& index) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  for (const auto& job : lazy_) {
    if (job.index.lock() == index) return;
  }
  lazy_.push_back({db, index});
  if (!lazyThread_.joinable()) lazyThread_ = std::thread([this] { lazyLoop(); });
  lazyWake_.notify_one();
}

void ViewRegistry::lazyLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    lazyWake_.wait(lock, [this] { return stopping_ || !lazy_.empty(); });
    if (stopping_) return;
    LazyJob job = std::move(lazy_.front());
    lazy_.pop_front();
    auto db = job.db.lock();
    auto index = job.index.lock();
    if (!db || !index) continue;
    lock.unlock();
    // A failure here has no client to answer; the next query that updates meets it again.
    (void)update(*db, *index);
    lock.lock();
  }
}

Status ViewRegistry::cleanup(const std::shared_ptr<Database>& db, const std::set<std::string>& keep) {
  const std::string dir = data_.viewDirFor(db->name());
  {
    std::lock_guard lock(mutex_);
    entries_.remove_if([&](const Entry& e) { return e.dbName == db->name() && !keep.count(e.signature); });
    closed_.remove_if([&](const Closed& c) { return c.dbName == db->name() && !keep.count(c.signature); });
  }
  std::set<std::string> kept;
  for (const auto& signature : keep) {
    const std::string file = db::viewFileFor(dir, signature);
    for (const char* suffix : kCompanions) kept.insert(file + suffix);
  }
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return Status::ok();   // no view directory: nothing was ever indexed
  std::vector<fs::path> unused;  // listed first: removing while iterating may skip entries
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && !kept.count(it->path().string())) unused.push_back(it->path());
  }
  if (ec) return Status(ErrorCode::Internal, "cannot list " + dir + ": " + ec.message());
  for (const auto& path : unused) {
    if (!fs::remove(path, ec) && ec)
      return Status(ErrorCode::Internal, "cannot remove " + path.string() + ": " + ec.message());
  }
  return Status::ok();
}

}  // namespace settee::http
