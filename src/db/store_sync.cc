// store_sync.cc — the sync ledger (settee/sync_state.h): what each registered peer has confirmed or
// refused of each document, and the documents with live losing leaves.
//
// Tables (store.cc creates them, version 4):
//   sync_peers — one row per registered peer: its last complete sync and its counts of valid entries
//     (`acked`, `failed`), written with each transaction's other counters.
//   sync_docs — (doc_id, peer) → the document's sequence when the peer confirmed it (failed_error NULL)
//     or refused it (its error name and reason). Valid only while the document is at that sequence.
//   sync_conflicts — the ids of documents whose tree has more than one live leaf.
// A document is pending for a peer when it has no valid entry: registering a peer makes every document
// pending at no cost, and so does every local write to its document, without a row.
#include <algorithm>

#include "db/rev_tree_codec.h"
#include "db/store.h"

namespace settee::db {

namespace {

Status peerNotRegistered() { return notFound("peer not registered"); }

// A paging key to bind: an empty view may hold no pointer, which SQLite would bind as NULL (and every
// `doc_id > NULL` is false).
std::string_view pagingKey(std::string_view after) { return after.data() ? after : std::string_view(""); }

// A stored refusal back as a Status with the peer's error name. A name Settee has no code for keeps
// its text in the reason (a Status holds only literal names).
Status storedFailure(std::string_view name, std::string_view reason) {
  for (int c = static_cast<int>(ErrorCode::BadRequest); c <= static_cast<int>(ErrorCode::Internal); ++c) {
    auto code = static_cast<ErrorCode>(c);
    if (name == errorName(code)) return {code, std::string(reason)};
  }
  return {ErrorCode::Forbidden, std::string(name) + ": " + std::string(reason)};
}

}  // namespace

bool Store::hasConflict(const RevTree& tree) {
  const std::vector<RevNode>& nodes = tree.nodes();
  // Most trees are one branch (each node the child of the one before it): one leaf, nothing to count.
  bool oneBranch = true;
  for (size_t i = 1; i < nodes.size() && oneBranch; ++i)
    oneBranch = nodes[i].parent == static_cast<int32_t>(i - 1);
  if (oneBranch) return false;
  thread_local std::vector<char> hasChild;
  hasChild.assign(nodes.size(), 0);
  for (const RevNode& n : nodes)
    if (n.parent >= 0) hasChild[static_cast<size_t>(n.parent)] = 1;
  int live = 0;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!hasChild[i] && !nodes[i].deleted && ++live > 1) return true;
  return false;
}

Status Store::fillConflicts() {
  Statement scan(conn_.prepare("SELECT id, tree FROM docs"));
  Statement add(conn_.prepare("INSERT OR IGNORE INTO sync_conflicts(doc_id) VALUES(?)"));
  while (scan.step()) {
    auto tree = decodeRevTree(scan.blob(1));
    if (!tree) return {ErrorCode::Internal, "corrupt revision tree for " + std::string(scan.text(0))};
    if (!hasConflict(*tree)) continue;
    add.bind(1, scan.text(0));
    if (!add.exec()) return conn_.error("list conflicted documents");
    add.reset();
  }
  if (scan.failed()) return conn_.error("list conflicted documents");
  return Status::ok();
}

Result<std::vector<Store::SyncPeer>*> Store::syncPeerCache() {
  if (syncPeersLoaded_) return &syncPeers_;
  syncPeers_.clear();
  Statement get(conn_.prepare("SELECT id, peer, acked, failed FROM sync_peers ORDER BY id"));
  while (get.step()) {
    SyncPeer p;
    p.id = get.int64(0);
    p.name = get.text(1);
    p.acked = static_cast<uint64_t>(get.int64(2));
    p.failed = static_cast<uint64_t>(get.int64(3));
    syncPeers_.push_back(std::move(p));
  }
  if (get.failed()) return conn_.error("read sync peers");
  syncPeersLoaded_ = true;
  return &syncPeers_;
}

Result<Store::SyncPeer*> Store::syncPeer(std::string_view peer) {
  auto peers = syncPeerCache();
  if (!peers) return peers.status();
  for (SyncPeer& p : **peers)
    if (p.name == peer) return &p;
  return peerNotRegistered();
}

Status Store::persistSyncCounts() {
  for (SyncPeer& p : syncPeers_) {
    if (!p.dirty) continue;
    Statement put(conn_.prepare("UPDATE sync_peers SET acked = ?, failed = ? WHERE id = ?"));
    put.bind(1, p.acked).bind(2, p.failed).bind(3, p.id);
    if (!put.exec()) return conn_.error("update sync counts");
    p.dirty = false;
  }
  return Status::ok();
}

Status Store::keepSyncState(std::string_view id, const RevTree* tree, uint64_t seq, uint64_t oldSeq,
                            bool& conflicted) {
  const bool now = tree && hasConflict(*tree);
  if (now != conflicted) {
    Statement change(conn_.prepare(now ? "INSERT OR IGNORE INTO sync_conflicts(doc_id) VALUES(?)"
                                       : "DELETE FROM sync_conflicts WHERE doc_id = ?"));
    change.bind(1, id);
    if (!change.exec()) return conn_.error("keep conflicted documents");
    conflicted = now;
  }
  auto peers = syncPeerCache();
  if (!peers) return peers.status();
  if ((*peers)->empty()) return Status::ok();
  SyncPeer* origin = nullptr;
  if (!syncOrigin_.empty())
    for (SyncPeer& p : **peers)
      if (p.name == syncOrigin_) origin = &p;
  // The entries made at the old sequence stop being valid: their peers' counts lose them. Nothing to
  // look up for a new document, or while no peer has a valid entry at all (as right after registering).
  bool originHadIt = oldSeq == 0;
  const bool anyValid = std::any_of((*peers)->begin(), (*peers)->end(),
                                    [](const SyncPeer& p) { return p.acked + p.failed > 0; });
  if (oldSeq != 0 && anyValid) {
    Statement get(
        conn_.prepare("SELECT peer, failed_error IS NOT NULL FROM sync_docs WHERE doc_id = ? AND seq = ?"));
    get.bind(1, id).bind(2, oldSeq);
    while (get.step()) {
      const int64_t peerId = get.int64(0);
      const bool failed = get.int64(1) != 0;
      for (SyncPeer& p : **peers) {
        if (p.id != peerId) continue;
        (failed ? p.failed : p.acked)--;
        p.dirty = true;
        if (&p == origin && !failed) originHadIt = true;
      }
    }
    if (get.failed()) return conn_.error("read sync state");
  }
  if (!tree) {
    Statement drop(conn_.prepare("DELETE FROM sync_docs WHERE doc_id = ?"));
    drop.bind(1, id);
    if (!drop.exec()) return conn_.error("keep sync state");
    return Status::ok();
  }
  // A revision from the peer is not news to it — unless the document had a local change the peer had
  // not confirmed, which stays pending.
  if (origin && originHadIt) {
    Statement ack(
        conn_.prepare("INSERT OR REPLACE INTO sync_docs(doc_id, peer, seq, failed_error, failed_reason) "
                      "VALUES(?, ?, ?, NULL, NULL)"));
    ack.bind(1, id).bind(2, origin->id).bind(3, seq);
    if (!ack.exec()) return conn_.error("keep sync state");
    origin->acked++;
    origin->dirty = true;
  }
  return Status::ok();
}

Status Store::registerSyncPeer(std::string_view peer) {
  if (peer.empty()) return badRequest("a sync peer needs a name");
  std::lock_guard lock(mu_);
  // A new peer has no entries: every document, deleted ones too, is pending for it at once.
  Statement add(conn_.prepare("INSERT OR IGNORE INTO sync_peers(peer) VALUES(?)"));
  add.bind(1, peer);
  if (!add.exec()) return conn_.error("register sync peer");
  if (sqlite3_changes(conn_.handle()) > 0) syncPeersLoaded_ = false;
  return Status::ok();
}

Result<std::vector<std::string>> Store::syncPeers() {
  std::lock_guard lock(mu_);
  auto peers = syncPeerCache();
  if (!peers) return peers.status();
  std::vector<std::string> out;
  for (const SyncPeer& p : **peers) out.push_back(p.name);
  return out;
}

namespace {

// A document's current sequence (0: none) and the peer's entry of it (entrySeq 0: none).
struct EntryState {
  uint64_t docSeq = 0;
  uint64_t entrySeq = 0;
  bool failed = false;
  bool valid() const { return entrySeq != 0 && entrySeq == docSeq; }
};

// The peer's entry of `id` set to `failure` (ok: confirmed) as of the document's sequence, when that is
// at most `seq`; the counts follow. The caller holds the store's lock and a transaction.
Status setEntry(Connection& conn, int64_t peerId, std::string_view id, uint64_t seq, const Status& failure,
                uint64_t& acked, uint64_t& failed, bool& dirty) {
  EntryState e;
  {
    Statement get(
        conn.prepare("SELECT d.seq, s.seq, s.failed_error IS NOT NULL FROM docs d "
                     "LEFT JOIN sync_docs s ON s.doc_id = d.id AND s.peer = ? WHERE d.id = ?"));
    get.bind(1, peerId).bind(2, id);
    if (get.step()) {
      e.docSeq = static_cast<uint64_t>(get.int64(0));
      e.entrySeq = get.isNull(1) ? 0 : static_cast<uint64_t>(get.int64(1));
      e.failed = get.int64(2) != 0;
    } else if (get.failed()) {
      return conn.error("read sync state");
    }
  }
  // Gone, or changed since: the newer change is pending, to be offered again.
  if (e.docSeq == 0 || e.docSeq > seq) return Status::ok();
  if (e.valid()) (e.failed ? failed : acked)--;
  (failure.isOk() ? acked : failed)++;
  dirty = true;
  Statement put(
      conn.prepare("INSERT OR REPLACE INTO sync_docs(doc_id, peer, seq, failed_error, failed_reason) "
                   "VALUES(?, ?, ?, ?, ?)"));
  put.bind(1, id).bind(2, peerId).bind(3, e.docSeq);
  if (failure.isOk()) {
    put.bindNull(4).bindNull(5);
  } else {
    put.bind(4, std::string_view(failure.error())).bind(5, std::string_view(failure.reason()));
  }
  if (!put.exec()) return conn.error("keep sync state");
  return Status::ok();
}

}  // namespace

Status Store::confirmSynced(std::string_view peer,
                            const std::vector<std::pair<std::string, uint64_t>>& docs) {
  std::lock_guard lock(mu_);
  Transaction txn(conn_);
  if (Status st = txn.begun(); !st) return st;
  auto p = syncPeer(peer);
  if (!p) return p.status();
  SyncPeer& sp = **p;
  for (const auto& [id, seq] : docs) {
    if (Status st = setEntry(conn_, sp.id, id, seq, Status::ok(), sp.acked, sp.failed, sp.dirty); !st)
      return st;
  }
  if (Status st = persistSyncCounts(); !st) return st;
  return txn.commit();
}

Status Store::markSyncFailed(std::string_view peer, std::string_view id, uint64_t seq, const Status& why) {
  if (why.isOk()) return badRequest("a sync failure needs an error");
  std::lock_guard lock(mu_);
  Transaction txn(conn_);
  if (Status st = txn.begun(); !st) return st;
  auto p = syncPeer(peer);
  if (!p) return p.status();
  SyncPeer& sp = **p;
  if (Status st = setEntry(conn_, sp.id, id, seq, why, sp.acked, sp.failed, sp.dirty); !st) return st;
  if (Status st = persistSyncCounts(); !st) return st;
  return txn.commit();
}

Status Store::setLastSync(std::string_view peer, uint64_t micros) {
  std::lock_guard lock(mu_);
  Statement put(conn_.prepare("UPDATE sync_peers SET last_sync = ? WHERE peer = ?"));
  put.bind(1, micros).bind(2, peer);
  if (!put.exec()) return conn_.error("set last sync");
  if (sqlite3_changes(conn_.handle()) == 0) return peerNotRegistered();
  return Status::ok();
}

Result<DocSyncInfo> Store::docSyncState(std::string_view peer, std::string_view id) {
  std::lock_guard lock(mu_);
  auto p = syncPeer(peer);
  if (!p) return p.status();
  DocSyncInfo info;
  {
    Statement get(
        conn_.prepare("SELECT d.seq, s.seq, s.failed_error, s.failed_reason FROM docs d "
                      "LEFT JOIN sync_docs s ON s.doc_id = d.id AND s.peer = ? WHERE d.id = ?"));
    get.bind(1, (*p)->id).bind(2, id);
    if (get.step()) {
      const auto docSeq = static_cast<uint64_t>(get.int64(0));
      const bool valid = !get.isNull(1) && static_cast<uint64_t>(get.int64(1)) == docSeq;
      if (!valid) {
        info.pending = true;
        info.seq = docSeq;
      } else if (!get.isNull(2)) {
        info.failed = true;
        info.seq = docSeq;
        info.failure = storedFailure(get.text(2), get.text(3));
      }
    } else if (get.failed()) {
      return conn_.error("read sync state");
    }
  }
  Statement conflicted(conn_.prepare("SELECT 1 FROM sync_conflicts WHERE doc_id = ?"));
  conflicted.bind(1, id);
  info.conflicted = conflicted.step();
  if (conflicted.failed()) return conn_.error("read sync state");
  info.state = info.failed       ? DocSyncState::Failed
               : info.conflicted ? DocSyncState::Conflicted
               : info.pending    ? DocSyncState::Pending
                                 : DocSyncState::Synced;
  return info;
}

Result<SyncCounts> Store::syncCounts(std::string_view peer) {
  std::lock_guard lock(mu_);
  auto p = syncPeer(peer);
  if (!p) return p.status();
  SyncCounts counts;
  counts.failed = (*p)->failed;
  const uint64_t docs = docCount_ + docDelCount_;
  counts.pending = docs - std::min(docs, (*p)->acked + (*p)->failed);
  {
    Statement get(conn_.prepare("SELECT last_sync FROM sync_peers WHERE id = ?"));
    get.bind(1, (*p)->id);
    if (!get.step()) return conn_.error("read last sync");
    counts.lastSyncMicros = static_cast<uint64_t>(get.int64(0));
  }
  // SQLite counts a table without a WHERE from its b-tree pages, and this one holds only the
  // conflicted documents.
  Statement count(conn_.prepare("SELECT count(*) FROM sync_conflicts"));
  if (!count.step()) return conn_.error("count conflicted documents");
  counts.conflicted = static_cast<uint64_t>(count.int64(0));
  return counts;
}

Result<std::vector<DocSyncEntry>> Store::syncDocuments(std::string_view peer, DocSyncState state,
                                                       size_t limit, std::string_view after) {
  if (state == DocSyncState::Synced) return badRequest("synced documents are not listed");
  std::lock_guard lock(mu_);
  auto p = syncPeer(peer);
  if (!p) return p.status();
  SyncPeer& sp = **p;
  std::vector<DocSyncEntry> out;
  const auto max = static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX));
  if (state == DocSyncState::Conflicted) {
    Statement list(
        conn_.prepare("SELECT c.doc_id, d.seq FROM sync_conflicts c JOIN docs d ON d.id = c.doc_id "
                      "WHERE c.doc_id > ? ORDER BY c.doc_id LIMIT ?"));
    list.bind(1, pagingKey(after)).bind(2, max);
    while (list.step()) out.push_back({std::string(list.text(0)), static_cast<uint64_t>(list.int64(1)), {}});
    if (list.failed()) return conn_.error("list conflicted documents");
    return out;
  }
  if (state == DocSyncState::Failed) {
    // Refused documents have an index of their own; an entry left by a later change is not listed.
    Statement list(conn_.prepare(
        "SELECT s.doc_id, s.seq, s.failed_error, s.failed_reason FROM sync_docs s INDEXED BY "
        "sync_docs_failed "
        "JOIN docs d ON d.id = s.doc_id AND d.seq = s.seq "
        "WHERE s.peer = ? AND s.failed_error IS NOT NULL AND s.doc_id > ? ORDER BY s.doc_id LIMIT ?"));
    list.bind(1, sp.id).bind(2, pagingKey(after)).bind(3, max);
    while (list.step())
      out.push_back({std::string(list.text(0)), static_cast<uint64_t>(list.int64(1)),
                     storedFailure(list.text(2), list.text(3))});
    if (list.failed()) return conn_.error("list failed documents");
    return out;
  }
  // Pending documents have no row of their own: they are the documents written since the peer's floor
  // (a sequence range of docs) without a valid entry. The floor then moves up to the oldest one found,
  // so the next listing reads only the outbox and what was written after it.
  Statement list(conn_.prepare(
      "SELECT d.seq, d.id, (SELECT s.seq FROM sync_docs s WHERE s.doc_id = d.id AND s.peer = ?) FROM docs d "
      "WHERE d.seq > ? ORDER BY d.seq"));
  list.bind(1, sp.id).bind(2, sp.pendingFloor);
  uint64_t oldest = 0;
  while (list.step()) {
    const auto seq = static_cast<uint64_t>(list.int64(0));
    if (!list.isNull(2) && static_cast<uint64_t>(list.int64(2)) == seq) continue;
    if (oldest == 0) oldest = seq;
    if (list.text(1) > pagingKey(after)) out.push_back({std::string(list.text(1)), seq, {}});
  }
  if (list.failed()) return conn_.error("list pending documents");
  sp.pendingFloor = oldest ? oldest - 1 : updateSeq_;
  std::sort(out.begin(), out.end(), [](const DocSyncEntry& a, const DocSyncEntry& b) { return a.id < b.id; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<std::vector<std::string>> Store::conflictedDocuments(size_t limit, std::string_view after) {
  std::lock_guard lock(mu_);
  Statement list(conn_.prepare("SELECT doc_id FROM sync_conflicts WHERE doc_id > ? ORDER BY doc_id LIMIT ?"));
  list.bind(1, pagingKey(after)).bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<std::string> out;
  while (list.step()) out.emplace_back(list.text(0));
  if (list.failed()) return conn_.error("list conflicted documents");
  return out;
}

}  // namespace settee::db
