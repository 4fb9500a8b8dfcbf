// store_index_scan.cc — Store::scanIndex: reading a json index's rows in a key range, either direction,
// resuming after a bookmark's position, loading a row's document only when the caller asks (see store.h).
#include <array>

#include "db/store.h"
#include "db/store_index_state.h"

namespace settee::db {

namespace {

// The SQL of every scan shape, built once so the connection's statement cache (keyed by the text's
// address) prepares each shape once: lower bound none / >= / >, upper bound none / <= / <, with or
// without a resume position, ascending or descending.
const char* scanSql(int lower, int upper, bool after, bool descending) {
  static const std::array<std::string, 36> table = [] {
    std::array<std::string, 36> t;
    for (int l = 0; l < 3; ++l)
      for (int u = 0; u < 3; ++u)
        for (int a = 0; a < 2; ++a)
          for (int d = 0; d < 2; ++d) {
            std::string sql = "SELECT key, doc_id, vals FROM mango_rows WHERE idx = ?1";
            if (l) sql += l == 1 ? " AND key >= ?2" : " AND key > ?2";
            if (u) sql += u == 1 ? " AND key <= ?3" : " AND key < ?3";
            if (a) sql += d ? " AND (key, doc_id) < (?4, ?5)" : " AND (key, doc_id) > (?4, ?5)";
            sql += d ? " ORDER BY key DESC, doc_id DESC" : " ORDER BY key, doc_id";
            t[static_cast<size_t>(((l * 3 + u) * 2 + a) * 2 + d)] = std::move(sql);
          }
    return t;
  }();
  return table[static_cast<size_t>(((lower * 3 + upper) * 2 + (after ? 1 : 0)) * 2 + (descending ? 1 : 0))]
      .c_str();
}

}  // namespace

Result<uint64_t> Store::scanIndex(const IndexSpec& index, const IndexScan& scan, const ReadOptions& options,
                                  const IndexRowFn& row) {
  std::lock_guard lock(mu_);
  auto state = indexState();
  if (!state) return state.status();
  const IndexState::Entry* e = (*state)->find(index.ddoc, index.name);
  if (!e) return notFound("missing");
  const KeyRange& r = scan.range;
  const int lower = !r.lower ? 0 : r.lowerInclusive ? 1 : 2;
  const int upper = !r.upper ? 0 : r.upperInclusive ? 1 : 2;
  Statement rows(conn_.prepare(scanSql(lower, upper, scan.after.has_value(), scan.descending)));
  rows.bind(1, e->id);
  if (r.lower) rows.bindBlob(2, *r.lower);
  if (r.upper) rows.bindBlob(3, *r.upper);
  if (scan.after) rows.bindBlob(4, scan.after->first).bind(5, std::string_view(scan.after->second));
  uint64_t visited = 0;
  IndexEntry entry;
  const std::function<Result<std::string>()> load = [&]() -> Result<std::string> {
    auto doc = loadDoc(entry.docId);
    if (!doc) return doc.status();
    if (!doc->exists || doc->tree.deleted()) return notFound(doc->exists ? "deleted" : "missing");
    std::string out;
    if (Status st = renderDoc(entry.docId, doc->tree, doc->tree.winner(), options, out, doc->seq); !st)
      return st;
    return out;
  };
  while (rows.step()) {
    ++visited;
    entry = IndexEntry{rows.blob(0), rows.text(1), rows.text(2)};
    if (!row(entry, load)) break;
  }
  if (rows.failed()) return conn_.error("scan index");
  return visited;
}

}  // namespace settee::db
