// view_fences.cc — counted fences over a view's rows, so CouchDB's offset (the rows before a key) costs
// a few thousand rows read whatever the index's size, where SQLite alone would count them one by one.
//
// A fence is a (ckey, id, n) position; the rows from it up to the next fence of the view are its
// segment, and the fence keeps their number. Each view starts with one fence below every row. An update
// adds and subtracts the rows it writes and deletes to the segments they fall in, and splits a segment
// that grew past kMaxSegment at its kSegment-th row, so a segment holds at most kMaxSegment rows
// whatever order the keys arrive in. The rows before a position are then the rows before its fence plus
// those between the fence and it (at most kMaxSegment, counted by SQLite). The rows before each fence
// are summed once per committed state and kept in memory (FenceCache): summing them per query would
// step through a fence row per kSegment rows of the index.
#include <algorithm>
#include <climits>
#include <iterator>

#include "db/view_index_internal.h"

namespace settee::db {
namespace {

constexpr int64_t kSegment = 128;
constexpr int64_t kMaxSegment = 2 * kSegment;
constexpr const char kEmpty[] = "";

// A fence read back from SQLite, to bind it again.
struct FencePos {
  int64_t fence = 0;
  std::string ckey;
  std::string doc;  // an id: TEXT
  int64_t n = 0;
};

void bindPos(Statement& st, int first, const FencePos& f) {
  st.bindBlob(first, f.ckey.empty() ? std::string_view(kEmpty, 0) : std::string_view(f.ckey));
  st.bind(first + 1, f.doc.empty() ? std::string_view(kEmpty, 0) : std::string_view(f.doc));
  st.bind(first + 2, f.n);
}

// SQLite's order of a fence's (ckey, doc, n) against a bound's: BLOBs bytewise, every TEXT id before a
// BLOB one (a bound's "after every id"), TEXT ids bytewise (BINARY collation), then n.
int compareFence(const FenceTable::Fence& f, const RowBound& b) {
  if (int c = f.ckey.compare(b.ckey); c != 0) return c;
  if (b.idIsBlob) return -1;
  if (int c = f.doc.compare(b.id); c != 0) return c;
  return f.n < b.n ? -1 : f.n > b.n ? 1 : 0;
}

Result<uint64_t> commitGeneration(Connection& conn) {
  Statement st(conn.prepare("SELECT value FROM meta WHERE key = 'generation'"));
  if (st.step()) return static_cast<uint64_t>(std::strtoull(std::string(st.text(0)).c_str(), nullptr, 10));
  if (st.failed()) return conn.error("read view index meta");
  return uint64_t{0};
}

// Every fence with the rows before it, read in the caller's snapshot.
Result<std::shared_ptr<const FenceTable>> loadFences(Connection& conn, uint64_t generation) {
  auto table = std::make_shared<FenceTable>();
  table->generation = generation;
  Statement st(conn.prepare("SELECT view, ckey, doc, n, cnt FROM fences ORDER BY view, ckey, doc, n"));
  int64_t view = -1;
  uint64_t before = 0;
  while (st.step()) {
    if (st.int64(0) != view) {
      view = st.int64(0);
      before = 0;
      if (view < 0) return Status(ErrorCode::Internal, "view fence of a negative view");
      if (table->views.size() <= static_cast<size_t>(view))
        table->views.resize(static_cast<size_t>(view) + 1);
    }
    FenceTable::Fence f;
    f.ckey.assign(st.blob(1));
    f.doc.assign(st.text(2));
    f.n = st.int64(3);
    f.before = before;
    before += static_cast<uint64_t>(st.int64(4));
    table->views[static_cast<size_t>(view)].push_back(std::move(f));
  }
  if (st.failed()) return conn.error("read view fences");
  return std::shared_ptr<const FenceTable>(std::move(table));
}

}  // namespace

Status bumpGeneration(Connection& conn) {
  auto generation = commitGeneration(conn);
  if (!generation) return generation.status();
  const std::string next = std::to_string(*generation + 1);
  Statement put(conn.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('generation', ?1)"));
  put.bind(1, std::string_view(next));
  if (!put.exec()) return conn.error("write view index meta");
  return Status::ok();
}

Status initFences(Connection& conn, size_t views) {
  Statement st(
      conn.prepare("INSERT OR IGNORE INTO fences(view, ckey, doc, n, cnt) VALUES(?1, ?2, ?3, -1, 0)"));
  for (size_t v = 0; v < views; ++v) {
    st.bind(1, static_cast<int64_t>(v))
        .bindBlob(2, std::string_view(kEmpty, 0))
        .bind(3, std::string_view(kEmpty, 0));
    if (!st.exec()) return conn.error("write view fences");
    st.reset();
  }
  return Status::ok();
}

Status FenceCounts::add(Connection& conn, int64_t view, std::string_view ckey, std::string_view id, int64_t n,
                        int64_t delta) {
  Statement st(
      conn.prepare("SELECT fence FROM fences WHERE view = ?1 AND (ckey, doc, n) <= (?2, ?3, ?4)"
                   " ORDER BY ckey DESC, doc DESC, n DESC LIMIT 1"));
  st.bind(1, view).bindBlob(2, ckey).bind(3, id).bind(4, n);
  if (!st.step()) {
    if (st.failed()) return conn.error("read view fences");
    return Status(ErrorCode::Internal, "view index without its first fence");
  }
  deltas_[st.int64(0)] += delta;
  return Status::ok();
}

Status FenceCounts::apply(Connection& conn) {
  Statement update(
      conn.prepare("UPDATE fences SET cnt = cnt + ?1 WHERE fence = ?2 RETURNING cnt, view, ckey, doc, n"));
  Statement row(
      conn.prepare("SELECT ckey, id, n FROM rows WHERE view = ?1 AND (ckey, id, n) >= (?2, ?3, ?4)"
                   " ORDER BY ckey, id, n LIMIT 1 OFFSET ?5"));
  Statement insert(conn.prepare("INSERT INTO fences(view, ckey, doc, n, cnt) VALUES(?1, ?2, ?3, ?4, ?5)"));
  Statement shrink(conn.prepare("UPDATE fences SET cnt = ?1 WHERE fence = ?2"));
  for (const auto& [fence, delta] : deltas_) {
    if (delta == 0) continue;
    update.bind(1, delta).bind(2, fence);
    if (!update.step()) return conn.error("update view fences");
    int64_t count = update.int64(0);
    const int64_t view = update.int64(1);
    FencePos at;
    at.fence = fence;
    at.ckey.assign(update.blob(2));
    at.doc.assign(update.text(3));
    at.n = update.int64(4);
    while (update.step()) {
    }
    update.reset();
    // Split the segment at its kSegment-th row until what is left is small enough.
    while (count > kMaxSegment) {
      row.bind(1, view);
      bindPos(row, 2, at);
      row.bind(5, kSegment);
      if (!row.step())
        return row.failed() ? conn.error("split view fence")
                            : Status(ErrorCode::Internal, "view fence count wrong");
      FencePos next;
      next.ckey.assign(row.blob(0));
      next.doc.assign(row.text(1));
      next.n = row.int64(2);
      row.reset();
      shrink.bind(1, kSegment).bind(2, at.fence);
      if (!shrink.exec()) return conn.error("split view fence");
      shrink.reset();
      count -= kSegment;
      insert.bind(1, view);
      bindPos(insert, 2, next);
      insert.bind(5, count);
      if (!insert.exec()) return conn.error("split view fence");
      insert.reset();
      next.fence = sqlite3_last_insert_rowid(conn.handle());
      at = std::move(next);
    }
  }
  deltas_.clear();
  return Status::ok();
}

Result<uint64_t> rowsBefore(Connection& conn, FenceCache& cache, int64_t view, const RowBound& bound,
                            bool inclusive) {
  auto generation = commitGeneration(conn);
  if (!generation) return generation.status();
  std::shared_ptr<const FenceTable> table;
  {
    std::lock_guard lock(cache.mu);
    if (cache.table && cache.table->generation == *generation) table = cache.table;
  }
  if (!table) {
    auto loaded = loadFences(conn, *generation);
    if (!loaded) return loaded.status();
    table = std::move(*loaded);
    std::lock_guard lock(cache.mu);
    if (!cache.table || cache.table->generation < table->generation) cache.table = table;
  }
  if (view < 0 || static_cast<size_t>(view) >= table->views.size() ||
      table->views[static_cast<size_t>(view)].empty())
    return Status(ErrorCode::Internal, "view index without its first fence");
  const auto& fences = table->views[static_cast<size_t>(view)];
  // The last fence at or before the bound (the first one is below every position).
  auto after =
      std::upper_bound(fences.begin(), fences.end(), bound,
                       [](const RowBound& b, const FenceTable::Fence& f) { return compareFence(f, b) > 0; });
  if (after == fences.begin()) return Status(ErrorCode::Internal, "view fence above a bound");
  const FenceTable::Fence& fence = *std::prev(after);
  FencePos at;
  at.ckey = fence.ckey;
  at.doc = fence.doc;
  at.n = fence.n;
  Statement count(conn.prepare(inclusive ? "SELECT count(*) FROM rows WHERE view = ?1 AND (ckey, id, n) >= "
                                           "(?2, ?3, ?4) AND (ckey, id, n) <= (?5, ?6, ?7)"
                                         : "SELECT count(*) FROM rows WHERE view = ?1 AND (ckey, id, n) >= "
                                           "(?2, ?3, ?4) AND (ckey, id, n) < (?5, ?6, ?7)"));
  count.bind(1, view);
  bindPos(count, 2, at);
  bindBound(count, 5, bound);
  if (!count.step()) return conn.error("count view rows");
  return fence.before + static_cast<uint64_t>(count.int64(0));
}

}  // namespace settee::db
