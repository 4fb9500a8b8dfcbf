// view_scan.cc — ViewIndex::scan: a range of a view's rows in either direction, with total_rows and
// CouchDB's offset.
#include <simdjson.h>

#include <algorithm>
#include <climits>

#include "db/collate_key.h"
#include "db/view_index_internal.h"

namespace settee::db {
namespace {

// Bound as zero-length TEXT or BLOB (never NULL, which a null pointer would bind and which compares
// as neither).
constexpr const char kEmpty[] = "";

Result<std::string> collationKeyOf(const std::string& json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element value;
  if (parser.parse(json.data(), json.size(), true).get(value)) return badRequest("Invalid JSON key: " + json);
  std::string key;
  appendCollationKey(value, key);
  return key;
}

// The first row at or after (key, docid) — the start of an ascending scan, or the end of a descending
// one whose end is inclusive.
RowBound atOrAfter(std::string ckey, const std::optional<std::string>& docId) {
  RowBound b;
  b.ckey = std::move(ckey);
  if (docId) b.id = *docId;
  b.n = -1;
  return b;
}
// The first row after every row of (key, docid) — an exclusive lower end.
RowBound after(std::string ckey, const std::optional<std::string>& docId) {
  RowBound b;
  b.ckey = std::move(ckey);
  if (docId) {
    b.id = *docId;
    b.n = INT64_MAX;
  } else {
    b.idIsBlob = true;  // after every id of this key
    b.n = 0;
  }
  return b;
}
// The last row at or before (key, docid) — an inclusive upper end: the same edge as after().
RowBound atOrBefore(std::string ckey, const std::optional<std::string>& docId) {
  return after(std::move(ckey), docId);
}
// The last row before (key, docid) — an exclusive upper end: the same edge as atOrAfter().
RowBound before(std::string ckey, const std::optional<std::string>& docId) {
  return atOrAfter(std::move(ckey), docId);
}

}  // namespace

Result<RowRange> rangeOf(const ViewScan& scan) {
  std::optional<std::string> startKey = scan.key ? scan.key : scan.startKey;
  std::optional<std::string> endKey = scan.key ? scan.key : scan.endKey;
  std::optional<std::string> startCkey, endCkey;
  if (startKey) {
    auto k = collationKeyOf(*startKey);
    if (!k) return k.status();
    startCkey = std::move(*k);
  }
  if (endKey) {
    auto k = collationKeyOf(*endKey);
    if (!k) return k.status();
    endCkey = std::move(*k);
  }
  RowRange range;
  // No bound: every collation key starts with a type byte from 1 to 7, so "" is below all and "\xff"
  // above all.
  range.lower.ckey.clear();
  range.upper.ckey = std::string(1, kAfterAll);
  // The start bound is always inclusive; the end follows inclusive_end. In a descending scan the start
  // is the upper end and the end the lower one.
  if (!scan.descending) {
    if (startCkey) range.lower = atOrAfter(*startCkey, scan.startKeyDocId);
    if (endCkey)
      range.upper =
          scan.inclusiveEnd ? atOrBefore(*endCkey, scan.endKeyDocId) : before(*endCkey, scan.endKeyDocId);
  } else {
    if (startCkey) range.upper = atOrBefore(*startCkey, scan.startKeyDocId);
    if (endCkey)
      range.lower =
          scan.inclusiveEnd ? atOrAfter(*endCkey, scan.endKeyDocId) : after(*endCkey, scan.endKeyDocId);
  }
  return range;
}

void bindBound(Statement& st, int first, const RowBound& bound) {
  st.bindBlob(first, bound.ckey.empty() ? std::string_view(kEmpty, 0) : std::string_view(bound.ckey));
  std::string_view id = bound.id.empty() ? std::string_view(kEmpty, 0) : std::string_view(bound.id);
  if (bound.idIsBlob)
    st.bindBlob(first + 1, id);
  else
    st.bind(first + 1, id);
  st.bind(first + 2, bound.n);
}

Result<uint64_t> ViewIndex::scan(size_t view, const ViewScan& scan,
                                 const std::function<bool(const ViewRow&)>& row, uint64_t* offset) {
  if (view >= impl_->spec.views.size()) return notFound("missing_named_view");
  auto range = rangeOf(scan);
  if (!range) return range.status();
  ReadScope scope(*impl_);
  if (!scope.status()) return scope.status();
  Connection& conn = scope.conn();
  const int64_t v = static_cast<int64_t>(view);

  Statement total(conn.prepare("SELECT n FROM counts WHERE view = ?1"));
  total.bind(1, v);
  uint64_t totalRows = 0;
  if (total.step())
    totalRows = static_cast<uint64_t>(total.int64(0));
  else if (total.failed())
    return conn.error("read view row count");

  // Rows before the first one of the range, in the scan's direction (view_fences.cc counts them).
  uint64_t before = 0;
  if (offset) {
    auto counted = scan.descending ? rowsBefore(conn, impl_->fences, v, range->upper, true)
                                   : rowsBefore(conn, impl_->fences, v, range->lower, false);
    if (!counted) return counted.status();
    before = scan.descending ? totalRows - std::min(totalRows, *counted) : *counted;
  }

  Statement rows(conn.prepare(
      scan.descending ? "SELECT id, key, value FROM rows WHERE view = ?1 AND (ckey, id, n) >= (?2, ?3, ?4)"
                        " AND (ckey, id, n) <= (?5, ?6, ?7) ORDER BY ckey DESC, id DESC, n DESC"
                      : "SELECT id, key, value FROM rows WHERE view = ?1 AND (ckey, id, n) >= (?2, ?3, ?4)"
                        " AND (ckey, id, n) <= (?5, ?6, ?7) ORDER BY ckey, id, n"));
  rows.bind(1, v);
  bindBound(rows, 2, range->lower);
  bindBound(rows, 5, range->upper);
  uint64_t skipped = 0, yielded = 0;
  while (yielded < scan.limit && rows.step()) {
    if (skipped < scan.skip) {
      ++skipped;
      continue;
    }
    ++yielded;
    if (!row(ViewRow{rows.text(0), rows.text(1), rows.text(2)})) break;
  }
  if (rows.failed()) return conn.error("read view rows");
  if (offset) *offset = before + skipped;
  return totalRows;
}

}  // namespace settee::db
