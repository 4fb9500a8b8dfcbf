// view_update.cc — ViewIndex::update: the changes after update_seq, mapped and written batch by batch.
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <optional>

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

// Releases the writer's page cache when update() returns, after an update that wrote rows (one that
// found nothing to do keeps the few pages it read: a query with update=true pays no release).
struct CacheRelease {
  explicit CacheRelease(Connection& conn) : conn_(conn) {}
  ~CacheRelease() {
    if (wrote) releaseCache(conn_);
  }
  Connection& conn_;
  bool wrote = false;
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

// Writes mapped batches into one open transaction, committed (with update_seq) every kCommitDocs
// documents or kCommitAfter: one transaction per map batch would write each touched b-tree page again
// for every few hundred documents, where rows land at random key positions (200,000 documents: 21,000
// docs/s committing every 500, 32,000 every 5,000, 43,000 every 20,000).
class RowWriter {
 public:
  static constexpr size_t kCommitDocs = 20000;
  // A slow map (JavaScript) still commits its progress this often, so a killed update loses little.
  static constexpr std::chrono::seconds kCommitAfter{2};

  bool due() const {
    return pending_ >= kCommitDocs || (tx_ && std::chrono::steady_clock::now() - begun_ >= kCommitAfter);
  }

  // `fresh`: the index had no rows when the update began, so no document has rows to delete (each
  // document appears once in one update: the changes feed holds it at its latest sequence only).
  RowWriter(Connection& conn, size_t viewCount, bool fresh)
      : conn_(conn), viewCount_(viewCount), fresh_(fresh) {}

  size_t pending() const { return pending_; }

  // Replaces the rows of every document of the batch by what the map emitted (emits[k] belongs to the
  // k-th mapped document of `batch`).
  Status write(const std::vector<Changed>& batch,
               const std::vector<std::vector<std::vector<ViewEmit>>>& emits) {
    if (Status st = begin(); !st) return st;
    Statement del(
        conn_.prepare("DELETE FROM rows WHERE id = ?1 RETURNING view, length(ckey) + length(id) + "
                      "length(key) + length(value), ckey, n"));
    size_t mapped = 0;
    for (const Changed& doc : batch) {
      ++pending_;
      if (!fresh_) {
        del.bind(1, std::string_view(doc.id));
        while (del.step()) {
          int64_t view = del.int64(0);
          if (view >= 0 && static_cast<size_t>(view) < viewCount_) --delta_[static_cast<size_t>(view)];
          bytes_ -= del.int64(1);
          if (Status st = fences_.add(conn_, view, del.blob(2), doc.id, del.int64(3), -1); !st) return st;
        }
        if (del.failed()) return conn_.error("delete view rows");
        del.reset();
      }
      if (!doc.mapped) continue;
      const auto& perView = emits[mapped++];
      for (size_t v = 0; v < perView.size(); ++v) {
        int64_t n = 0;
        for (const ViewEmit& emit : perView[v]) {
          simdjson::dom::element key;
          if (parser_.parse(emit.key.data(), emit.key.size(), true).get(key))
            return badRequest("A map function emitted a key that is not JSON: " + emit.key);
          ckey_.clear();
          appendCollationKey(key, ckey_);
          const std::string_view value =
              emit.value.empty() ? std::string_view("null") : std::string_view(emit.value);
          held_.push_back({static_cast<int64_t>(v), ckey_, doc.id, n, emit.key, std::string(value)});
          heldBytes_ += sizeof(HeldRow) + ckey_.size() + doc.id.size() + emit.key.size() + value.size();
          ++n;
          ++delta_[v];
          bytes_ += static_cast<int64_t>(ckey_.size() + doc.id.size() + emit.key.size() + value.size());
        }
      }
    }
    if (heldBytes_ >= kHeldBytes) return insertHeld();
    return Status::ok();
  }

  // Commits what was written, with update_seq `seq`.
  Status commit(uint64_t seq) {
    if (Status st = begin(); !st) return st;
    if (Status st = insertHeld(); !st) return st;
    Statement count(conn_.prepare("UPDATE counts SET n = n + ?1 WHERE view = ?2"));
    for (size_t v = 0; v < viewCount_; ++v) {
      if (delta_[v] == 0) continue;
      count.bind(1, delta_[v]).bind(2, static_cast<int64_t>(v));
      if (!count.exec()) return conn_.error("update view counts");
      count.reset();
    }
    if (Status st = fences_.apply(conn_); !st) return st;
    if (Status st = bumpGeneration(conn_); !st) return st;
    if (Status st = setMeta(conn_, "active", std::to_string(bytes_)); !st) return st;
    if (Status st = setMeta(conn_, "update_seq", std::to_string(seq)); !st) return st;
    Status st = tx_->commit();
    tx_.reset();
    pending_ = 0;
    return st;
  }

 private:
  Status begin() {
    if (tx_) return Status::ok();
    tx_.emplace(conn_);
    if (!tx_->begun()) {
      Status st = tx_->begun();
      tx_.reset();
      return st;
    }
    begun_ = std::chrono::steady_clock::now();
    delta_.assign(viewCount_, 0);
    auto active = metaInt(conn_, "active");
    if (!active) return active.status();
    bytes_ = *active;
    return Status::ok();
  }

  // A row to insert, held until the transaction commits or kHeldBytes are held.
  struct HeldRow {
    int64_t view;
    std::string ckey, id;
    int64_t n;
    std::string key, value;
  };

  // Inserts the held rows in index order, so each leaf page of the rows b-tree is written in one run:
  // SQLite can then spill it from a small cache and never read it again in this transaction, where rows
  // inserted in document order land at random positions all over the index. (A document's old rows
  // are deleted before its new ones are held, and a document comes once per update, so holding the
  // inserts changes nothing else.)
  Status insertHeld() {
    std::sort(held_.begin(), held_.end(), [](const HeldRow& a, const HeldRow& b) {
      if (a.view != b.view) return a.view < b.view;
      if (int c = a.ckey.compare(b.ckey); c != 0) return c < 0;  // memcmp, as SQLite compares BLOBs
      if (int c = a.id.compare(b.id); c != 0) return c < 0;      // and TEXT under BINARY collation
      return a.n < b.n;
    });
    Statement ins(
        conn_.prepare("INSERT INTO rows(view, ckey, id, n, key, value) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
    for (const HeldRow& r : held_) {
      ins.bind(1, r.view)
          .bindBlob(2, r.ckey)
          .bind(3, std::string_view(r.id))
          .bind(4, r.n)
          .bind(5, std::string_view(r.key))
          .bind(6, std::string_view(r.value));
      if (!ins.exec()) return conn_.error("insert view row");
      ins.reset();
      if (Status st = fences_.add(conn_, r.view, r.ckey, r.id, r.n, 1); !st) return st;
    }
    held_.clear();
    held_.shrink_to_fit();
    heldBytes_ = 0;
    return Status::ok();
  }

  // At most this many bytes of rows are held before they are inserted.
  static constexpr size_t kHeldBytes = 4 << 20;

  Connection& conn_;
  const size_t viewCount_;
  const bool fresh_;
  std::optional<Transaction> tx_;  // rolled back if the writer goes before commit()
  std::chrono::steady_clock::time_point begun_;
  std::vector<int64_t> delta_;
  int64_t bytes_ = 0;
  FenceCounts fences_;
  size_t pending_ = 0;
  simdjson::dom::parser parser_;
  std::string ckey_;
  std::vector<HeldRow> held_;
  size_t heldBytes_ = 0;
};

// Empties the index, which follows the database's purges up to `purgeSeq` from now on.
Status clearRows(Connection& conn, size_t viewCount, uint64_t purgeSeq) {
  Transaction tx(conn);
  if (!tx.begun()) return tx.begun();
  if (Status st = conn.exec("DELETE FROM rows; UPDATE counts SET n = 0; DELETE FROM fences"); !st) return st;
  if (Status st = initFences(conn, viewCount); !st) return st;
  if (Status st = bumpGeneration(conn); !st) return st;
  if (Status st = setMeta(conn, "active", "0"); !st) return st;
  if (Status st = setMeta(conn, "update_seq", "0"); !st) return st;
  if (Status st = setMeta(conn, "purge_seq", std::to_string(purgeSeq)); !st) return st;
  return tx.commit();
}

}  // namespace

Result<uint64_t> ViewIndex::update(Database& db, const Mapper& map, const std::function<bool()>& stop,
                                   size_t batch) {
  std::lock_guard lock(impl_->updateMu);
  UpdatingFlag flag(impl_->updating);
  Connection& conn = *impl_->writer;
  CacheRelease release(conn);
  const ViewGroupSpec& spec = impl_->spec;
  if (batch == 0) batch = 1;
  // Every change committed before the call: the update ends there even while writes go on.
  const uint64_t target = storeOf(db).updateSeq();
  // Read from the file, not the cached value: another ViewIndex of the file (another process) may have
  // moved it on.
  auto stored = metaInt(conn, "update_seq");
  if (!stored) return stored.status();
  uint64_t since = static_cast<uint64_t>(*stored);
  impl_->updateSeq = since;
  // A purge takes documents away without a change to read (CouchDB's indexes follow purges by their own
  // log), so after one the index is built again; purges are rare.
  const uint64_t purgeSeq = storeOf(db).purgeSeq();
  auto indexedPurgeSeq = metaInt(conn, "purge_seq");
  if (!indexedPurgeSeq) return indexedPurgeSeq.status();
  // An index ahead of its database: the database was deleted and made again under the name.
  if (since > target || static_cast<uint64_t>(*indexedPurgeSeq) != purgeSeq) {
    release.wrote = true;
    if (Status st = clearRows(conn, spec.views.size(), purgeSeq); !st) return st;
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
  RowWriter writer(conn, spec.views.size(), since == 0);
  uint64_t written = since;  // the sequence of the last document written
  // Commits what is written, then answers `status`: a failed map loses no finished batch.
  auto finish = [&](Status status) -> Result<uint64_t> {
    if (writer.pending() > 0) {
      if (Status st = writer.commit(written); !st) return st;
      impl_->updateSeq = written;
    }
    if (!status) return status;
    return written;
  };
  while (written < target) {
    if (stop && stop()) break;
    changed.clear();
    ChangesOptions options;
    options.since = written;
    options.limit = batch;
    uint64_t last = written;
    // Only the ids are taken inside the feed's callback: it runs under the store's lock, and reading
    // the documents means calling the store again. Changes past `target` wait for the next update, so
    // a document is seen once per update (the feed holds it at its latest sequence only).
    auto fed = db.changes(options, [&](const Change& c) {
      if (c.seq > target) return false;
      Changed& doc = changed.emplace_back();
      doc.id = c.id;
      doc.mapped = !c.deleted && (spec.includeDesign || !c.id.starts_with("_design/"));
      last = c.seq;
      return true;
    });
    if (!fed) return finish(fed.status());
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
        return finish(body.status());
      }
      doc.body = std::move(*body);
    }
    for (const Changed& doc : changed)
      if (doc.mapped) docs.push_back(doc.body);
    std::vector<std::vector<std::vector<ViewEmit>>> emits;
    if (!docs.empty()) {
      auto mapped = map(docs);
      if (!mapped) return finish(mapped.status());
      emits = std::move(*mapped);
      if (emits.size() != docs.size())
        return finish(Status(ErrorCode::Internal, "the map answered for " + std::to_string(emits.size()) +
                                                      " of " + std::to_string(docs.size()) + " documents"));
      for (const auto& perView : emits)
        if (perView.size() != spec.views.size())
          return finish(Status(ErrorCode::Internal, "the map answered for " + std::to_string(perView.size()) +
                                                        " of " + std::to_string(spec.views.size()) +
                                                        " views"));
    }
    // A write that fails leaves the transaction to roll back: nothing of it is committed.
    release.wrote = true;
    if (Status st = writer.write(changed, emits); !st) return st;
    written = last;
    if (writer.due()) {
      if (Status st = writer.commit(written); !st) return st;
      impl_->updateSeq = written;
    }
  }
  return finish(Status::ok());
}

}  // namespace settee::db
