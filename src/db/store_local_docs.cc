// The listing of _local documents (GET /{db}/_local_docs): the local_docs table read as allDocs reads
// the docs table. _local documents have no tree, no conflicts and no attachments, and a deleted one
// leaves no row, so a listing is ids, "0-N" revisions and, with include_docs, the stored bodies.
#include "db/json.h"
#include "db/store.h"

namespace settee::db {
namespace {

// {"_id","_rev",...body}: the document as GET /{db}/_local/{id} answers it.
std::string renderLocal(std::string_view id, int64_t rev, std::string_view body) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "_id");
  writeString(w, id);
  writeKey(w, "_rev");
  writeString(w, "0-" + std::to_string(rev));
  w.EndObject();
  std::string out(bufferView(buf));
  if (body.size() > 2) {
    out.pop_back();
    out.push_back(',');
    out.append(body.substr(1));
  }
  return out;
}

}  // namespace

Result<uint64_t> Store::localDocs(const AllDocsOptions& options,
                                  const std::function<bool(const AllDocsRow&)>& row) {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  {
    Statement count(conn_.prepare("SELECT count(*) FROM local_docs"));
    if (!count.step()) return conn_.error("count local documents");
    total = static_cast<uint64_t>(count.int64(0));
  }
  uint64_t skipped = 0, emitted = 0;
  AllDocsRow out;
  // Applies skip and limit; false stops the listing.
  auto emit = [&](std::string_view id, const Statement* found) {
    if (skipped < options.skip) {
      ++skipped;
      return true;
    }
    if (emitted >= options.limit) return false;
    ++emitted;
    out = AllDocsRow{std::string(id), {}, found != nullptr, false, {}};
    if (found) {
      out.rev = "0-" + std::to_string(found->int64(1));
      if (options.includeDocs) out.doc = renderLocal(id, found->int64(1), found->blob(2));
    }
    return row(out);
  };
  if (options.keys) {
    Statement get(conn_.prepare("SELECT id, rev, body FROM local_docs WHERE id = ?"));
    for (const auto& key : *options.keys) {
      get.bind(1, std::string_view(key));
      bool found = get.step();
      if (!found && get.failed()) return conn_.error("read local document");
      bool more = emit(key, found ? &get : nullptr);
      get.reset();
      if (!more) break;
    }
    return total;
  }
  // As in allDocs: a missing bound is bound as a BLOB, which SQLite orders above every TEXT id, and ""
  // lies below all of them.
  static const char* kSql[2][2] = {
      {"SELECT id, rev, body FROM local_docs WHERE id >= ?1 AND id < ?2 ORDER BY id",
       "SELECT id, rev, body FROM local_docs WHERE id >= ?1 AND id <= ?2 ORDER BY id"},
      {"SELECT id, rev, body FROM local_docs WHERE id <= ?1 AND id > ?2 ORDER BY id DESC",
       "SELECT id, rev, body FROM local_docs WHERE id <= ?1 AND id >= ?2 ORDER BY id DESC"}};
  Statement scan(conn_.prepare(kSql[options.descending][options.inclusiveEnd]));
  auto bindBound = [&](int i, const std::optional<std::string>& key, bool high) {
    if (key)
      scan.bind(i, std::string_view(*key));
    else if (high)
      scan.bindBlob(i, std::string_view("", 0));
    else
      scan.bind(i, std::string_view(""));
  };
  bindBound(1, options.startKey, options.descending);
  bindBound(2, options.endKey, !options.descending);
  while (scan.step()) {
    if (!emit(scan.text(0), &scan)) return total;
  }
  if (scan.failed()) return conn_.error("read local_docs");
  return total;
}

}  // namespace settee::db
