// store_sync.cc — the sync ledger (settee/sync_state.h): per-peer pending and failed entries, kept in
// the transaction of every write that saves a document, and the documents with live losing leaves.
//
// Tables (store.cc creates them, version 4):
//   sync_peers — one row per registered peer, with its last complete sync and its counts (`entries`,
//     `failed`), which triggers on sync_docs keep, so a count is one row read.
//   sync_docs — (peer, doc_id) → the local sequence of the change the peer has not confirmed, and, when
//     it refused that change, its error name and reason. No row: the peer has the document as it is.
//   sync_conflicts — the ids of documents whose tree has more than one live leaf.
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

Result<const std::vector<Store::SyncPeer>*> Store::syncPeerCache() {
  if (syncPeersLoaded_) return &syncPeers_;
  syncPeers_.clear();
  Statement get(conn_.prepare("SELECT id, peer FROM sync_peers ORDER BY id"));
  while (get.step()) syncPeers_.push_back({get.int64(0), std::string(get.text(1))});
  if (get.failed()) return conn_.error("read sync peers");
  syncPeersLoaded_ = true;
  return &syncPeers_;
}

Result<int64_t> Store::syncPeerId(std::string_view peer) {
  auto peers = syncPeerCache();
  if (!peers) return peers.status();
  for (const SyncPeer& p : **peers)
    if (p.name == peer) return p.id;
  return peerNotRegistered();
}

Status Store::keepSyncState(std::string_view id, const RevTree* tree, uint64_t seq, bool& conflicted) {
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
  if (!tree) {
    // A purged document has nothing left to send.
    Statement drop(conn_.prepare("DELETE FROM sync_docs WHERE peer = ? AND doc_id = ?"));
    for (const SyncPeer& p : **peers) {
      drop.bind(1, p.id).bind(2, id);
      if (!drop.exec()) return conn_.error("keep sync state");
      drop.reset();
    }
    return Status::ok();
  }
  // A new change is pending again, whatever the peer answered about an older one.
  Statement mark(conn_.prepare(
      "INSERT INTO sync_docs(peer, doc_id, seq) VALUES(?, ?, ?) ON CONFLICT(peer, doc_id) DO UPDATE SET "
      "seq = excluded.seq, failed_error = NULL, failed_reason = NULL"));
  for (const SyncPeer& p : **peers) {
    // A revision from this peer is not news to it; an older unconfirmed local change stays pending.
    if (!syncOrigin_.empty() && p.name == syncOrigin_) continue;
    mark.bind(1, p.id).bind(2, id).bind(3, seq);
    if (!mark.exec()) return conn_.error("keep sync state");
    mark.reset();
  }
  return Status::ok();
}

Status Store::registerSyncPeer(std::string_view peer) {
  if (peer.empty()) return badRequest("a sync peer needs a name");
  std::lock_guard lock(mu_);
  Transaction txn(conn_);
  if (Status st = txn.begun(); !st) return st;
  Statement add(conn_.prepare("INSERT OR IGNORE INTO sync_peers(peer) VALUES(?)"));
  add.bind(1, peer);
  if (!add.exec()) return conn_.error("register sync peer");
  if (sqlite3_changes(conn_.handle()) == 0) return txn.commit();  // already registered
  const int64_t id = sqlite3_last_insert_rowid(conn_.handle());
  add.reset();
  // The peer has none of this database yet: every document, deleted ones too, is to be sent.
  Statement all(conn_.prepare("INSERT INTO sync_docs(peer, doc_id, seq) SELECT ?, id, seq FROM docs"));
  all.bind(1, id);
  if (!all.exec()) return conn_.error("register sync peer");
  syncPeersLoaded_ = false;
  return txn.commit();
}

Result<std::vector<std::string>> Store::syncPeers() {
  std::lock_guard lock(mu_);
  auto peers = syncPeerCache();
  if (!peers) return peers.status();
  std::vector<std::string> out;
  for (const SyncPeer& p : **peers) out.push_back(p.name);
  return out;
}

Status Store::confirmSynced(std::string_view peer,
                            const std::vector<std::pair<std::string, uint64_t>>& docs) {
  std::lock_guard lock(mu_);
  auto peerId = syncPeerId(peer);
  if (!peerId) return peerId.status();
  if (docs.empty()) return Status::ok();
  Transaction txn(conn_);
  if (Status st = txn.begun(); !st) return st;
  // An entry above the confirmed sequence is a newer change the peer has not seen yet: it stays.
  Statement drop(conn_.prepare("DELETE FROM sync_docs WHERE peer = ? AND doc_id = ? AND seq <= ?"));
  for (const auto& [id, seq] : docs) {
    drop.bind(1, *peerId).bind(2, std::string_view(id)).bind(3, seq);
    if (!drop.exec()) return conn_.error("confirm synced documents");
    drop.reset();
  }
  return txn.commit();
}

Status Store::markSyncFailed(std::string_view peer, std::string_view id, uint64_t seq, const Status& why) {
  std::lock_guard lock(mu_);
  auto peerId = syncPeerId(peer);
  if (!peerId) return peerId.status();
  // Only while the document is as the peer refused it (its sequence not past `seq`): a newer change is
  // pending, to be offered again.
  Statement mark(conn_.prepare(
      "INSERT INTO sync_docs(peer, doc_id, seq, failed_error, failed_reason) "
      "SELECT ?1, id, seq, ?4, ?5 FROM docs WHERE id = ?2 AND seq <= ?3 "
      "ON CONFLICT(peer, doc_id) DO UPDATE SET seq = excluded.seq, failed_error = excluded.failed_error, "
      "failed_reason = excluded.failed_reason"));
  mark.bind(1, *peerId)
      .bind(2, id)
      .bind(3, seq)
      .bind(4, std::string_view(why.error()))
      .bind(5, std::string_view(why.reason()));
  if (!mark.exec()) return conn_.error("mark sync failure");
  return Status::ok();
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
  auto peerId = syncPeerId(peer);
  if (!peerId) return peerId.status();
  DocSyncInfo info;
  {
    Statement get(conn_.prepare(
        "SELECT seq, failed_error, failed_reason FROM sync_docs WHERE peer = ? AND doc_id = ?"));
    get.bind(1, *peerId).bind(2, id);
    if (get.step()) {
      info.seq = static_cast<uint64_t>(get.int64(0));
      if (get.isNull(1)) {
        info.pending = true;
      } else {
        info.failed = true;
        info.failure = storedFailure(get.text(1), get.text(2));
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
  SyncCounts counts;
  {
    Statement get(conn_.prepare("SELECT entries, failed, last_sync FROM sync_peers WHERE peer = ?"));
    get.bind(1, peer);
    if (!get.step()) return get.failed() ? conn_.error("read sync counts") : peerNotRegistered();
    counts.failed = static_cast<uint64_t>(get.int64(1));
    counts.pending = static_cast<uint64_t>(get.int64(0)) - counts.failed;
    counts.lastSyncMicros = static_cast<uint64_t>(get.int64(2));
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
  auto peerId = syncPeerId(peer);
  if (!peerId) return peerId.status();
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
  // Failed entries are few and have an index of their own; pending ones are the peer's rows in id order.
  Statement list(conn_.prepare(
      state == DocSyncState::Failed
          ? "SELECT doc_id, seq, failed_error, failed_reason FROM sync_docs INDEXED BY sync_docs_failed "
            "WHERE peer = ? AND failed_error IS NOT NULL AND doc_id > ? ORDER BY doc_id LIMIT ?"
          : "SELECT doc_id, seq, failed_error, failed_reason FROM sync_docs "
            "WHERE peer = ? AND failed_error IS NULL AND doc_id > ? ORDER BY doc_id LIMIT ?"));
  list.bind(1, *peerId).bind(2, pagingKey(after)).bind(3, max);
  while (list.step()) {
    DocSyncEntry e{std::string(list.text(0)), static_cast<uint64_t>(list.int64(1)), {}};
    if (!list.isNull(2)) e.failure = storedFailure(list.text(2), list.text(3));
    out.push_back(std::move(e));
  }
  if (list.failed()) return conn_.error("list sync documents");
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
