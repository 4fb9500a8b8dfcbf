// view_update.cc — ViewIndex::update: the changes after update_seq, mapped and written batch by batch.
#include <simdjson.h>

#include "db/collate_key.h"
#include "db/database_internal.h"
#include "db/view_index_internal.h"

namespace settee::db {
namespace {

// One document of a batch: what the changes feed said of it and, when it is to be mapped, its body.
struct Changed {
  std::string id;
  bool mapped = false;  // false: deleted (or a design document left out): its rows go, none come
  std::string body;
};

// Clears the `updating` flag however update() returns.
struct UpdatingFlag {
  explicit UpdatingFlag(std::atomic<bool>& flag) : flag_(flag) { flag_ = true; }
  ~UpdatingFlag() { flag_ = false; }
  std::atomic<bool>& flag_;
};

Status setMeta(Connection& conn, std::string_view key, std::string_view value) {
  Statement put(conn.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"));
  put.bind(1, key).bind(2, value);
  if (!put.exec()) return conn.error("write view index meta");
  return Status::ok();
}

Result<int64_t> metaInt(Connection& conn, const char* key) {
  Statement st(conn.prepare("SELECT value FROM meta WHERE key = ?1"));
  st.bind(1, std::string_view(key));
  if (st.step()) return static_cast<int64_t>(std::strtoll(std::string(st.text(0)).c_str(), nullptr, 10));
  if (st.failed()) return conn.error("read view index meta");
  return int64_t{0};
}

// Replaces the rows of every document of the batch by what the map emitted, and moves update_seq to
// `seq`, in one transaction. emits[k] belongs to the k-th mapped document of `batch`.
Status writeBatch(Connection& conn, size_t viewCount, const std::vector<Changed>& batch,
                  const std::vector<std::vector<std::vector<ViewEmit>>>& emits, uint64_t seq) {
  Transaction tx(conn);
  if (!tx.begun()) return tx.begun();
  std::vector<int64_t> delta(viewCount, 0);
  auto active = metaInt(conn, "active");
  if (!active) return active.status();
  int64_t bytes = *active;
  Statement del(
      conn.prepare("DELETE FROM rows WHERE id = ?1 RETURNING view, length(ckey) + length(id) + "
                   "length(key) + length(value), ckey, n"));
  FenceCounts fences;
  Statement ins(
      conn.prepare("INSERT INTO rows(view, ckey, id, n, key, value) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  thread_local simdjson::dom::parser parser;
  std::string ckey;
  size_t mapped = 0;
  for (const Changed& doc : batch) {
    del.bind(1, std::string_view(doc.id));
    while (del.step()) {
      int64_t view = del.int64(0);
      if (view >= 0 && static_cast<size_t>(view) < viewCount) --delta[static_cast<size_t>(view)];
      bytes -= del.int64(1);
      if (Status st = fences.add(conn, view, del.blob(2), doc.id, del.int64(3), -1); !st) return st;
    }
    if (del.failed()) return conn.error("delete view rows");
    del.reset();
    if (!doc.mapped) continue;
    const auto& perView = emits[mapped++];
    for (size_t v = 0; v < perView.size(); ++v) {
      int64_t n = 0;
      for (const ViewEmit& emit : perView[v]) {
        simdjson::dom::element key;
        if (parser.parse(emit.key.data(), emit.key.size(), true).get(key))
          return badRequest("A map function emitted a key that is not JSON: " + emit.key);
        ckey.clear();
        appendCollationKey(key, ckey);
        ins.bind(1, static_cast<int64_t>(v))
            .bindBlob(2, ckey)
            .bind(3, std::string_view(doc.id))
            .bind(4, n++)
            .bind(5, std::string_view(emit.key))
            .bind(6, std::string_view(emit.value.empty() ? std::string_view("null")
                                                         : std::string_view(emit.value)));
        if (!ins.exec()) return conn.error("insert view row");
        ins.reset();
        if (Status st = fences.add(conn, static_cast<int64_t>(v), ckey, doc.id, n - 1, 1); !st) return st;
        ++delta[v];
        bytes += static_cast<int64_t>(ckey.size() + doc.id.size() + emit.key.size() +
                                      (emit.value.empty() ? 4 : emit.value.size()));
      }
    }
  }
  Statement count(conn.prepare("UPDATE counts SET n = n + ?1 WHERE view = ?2"));
  for (size_t v = 0; v < viewCount; ++v) {
    if (delta[v] == 0) continue;
    count.bind(1, delta[v]).bind(2, static_cast<int64_t>(v));
    if (!count.exec()) return conn.error("update view counts");
    count.reset();
  }
  if (Status st = fences.apply(conn); !st) return st;
  if (Status st = setMeta(conn, "active", std::to_string(bytes)); !st) return st;
  if (Status st = setMeta(conn, "update_seq", std::to_string(seq)); !st) return st;
  return tx.commit();
}

// Empties the index (the database it followed is gone and a new one has the name).
Status clearRows(Connection& conn, size_t viewCount) {
  Transaction tx(conn);
  if (!tx.begun()) return tx.begun();
  if (Status st = conn.exec("DELETE FROM rows; UPDATE counts SET n = 0; DELETE FROM fences"); !st) return st;
  if (Status st = initFences(conn, viewCount); !st) return st;
  if (Status st = setMeta(conn, "active", "0"); !st) return st;
  if (Status st = setMeta(conn, "update_seq", "0"); !st) return st;
  return tx.commit();
}

}  // namespace

Result<uint64_t> ViewIndex::update(Database& db, const Mapper& map, const std::function<bool()>& stop,
                                   size_t batch) {
  std::lock_guard lock(impl_->updateMu);
  UpdatingFlag flag(impl_->updating);
  Connection& conn = *impl_->writer;
  const ViewGroupSpec& spec = impl_->spec;
  if (batch == 0) batch = 1;
  // Every change committed before the call: the update ends there even while writes go on.
  const uint64_t target = storeOf(db).updateSeq();
  uint64_t since = impl_->updateSeq.load();
  if (since > target) {
    // The index is ahead of its database: the database was deleted and made again under the name.
    if (Status st = clearRows(conn, spec.views.size()); !st) return st;
    since = 0;
    impl_->updateSeq = 0;
  }
  if (spec.views.empty()) {
    if (since < target) {
      if (Status st = setMeta(conn, "update_seq", std::to_string(target)); !st) return st;
      impl_->updateSeq = target;
    }
    return impl_->updateSeq.load();
  }
  ReadOptions read;
  read.localSeq = spec.localSeq;
  // Map functions see a document's conflicts, as CouchDB's (a view of conflicted documents is the
  // documented way to find them).
  read.conflicts = true;
  std::vector<Changed> changed;
  std::vector<std::string_view> docs;
  while (since < target) {
    if (stop && stop()) break;
    changed.clear();
    ChangesOptions options;
    options.since = since;
    options.limit = batch;
    uint64_t last = since;
    // Only the ids are taken inside the feed's callback: it runs under the store's lock, and reading
    // the documents means calling the store again.
    auto fed = db.changes(options, [&](const Change& c) {
      Changed& doc = changed.emplace_back();
      doc.id = c.id;
      doc.mapped = !c.deleted && (spec.includeDesign || !c.id.starts_with("_design/"));
      last = c.seq;
      return true;
    });
    if (!fed) return fed.status();
    if (changed.empty()) break;
    docs.clear();
    for (Changed& doc : changed) {
      if (!doc.mapped) continue;
      auto body = db.get(doc.id, read);
      if (!body) {
        // Deleted (or purged) since the feed was read: its rows go; its next change maps it again.
        if (body.status().code() == ErrorCode::NotFound) {
          doc.mapped = false;
          continue;
        }
        return body.status();
      }
      doc.body = std::move(*body);
    }
    for (const Changed& doc : changed)
      if (doc.mapped) docs.push_back(doc.body);
    std::vector<std::vector<std::vector<ViewEmit>>> emits;
    if (!docs.empty()) {
      auto mapped = map(docs);
      if (!mapped) return mapped.status();
      emits = std::move(*mapped);
      if (emits.size() != docs.size())
        return Status(ErrorCode::Internal, "the map answered for " + std::to_string(emits.size()) + " of " +
                                               std::to_string(docs.size()) + " documents");
      for (const auto& perView : emits)
        if (perView.size() != spec.views.size())
          return Status(ErrorCode::Internal, "the map answered for " + std::to_string(perView.size()) +
                                                 " of " + std::to_string(spec.views.size()) + " views");
    }
    if (Status st = writeBatch(conn, spec.views.size(), changed, emits, last); !st) return st;
    since = last;
    impl_->updateSeq = last;
  }
  return since;
}

}  // namespace settee::db
