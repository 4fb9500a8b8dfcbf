// store_sync.cc — the sync ledger (settee/sync_state.h): which registered peers have confirmed or refused
// each document, and the documents with live losing leaves.
//
// Where it is kept (store.cc creates it, version 4):
//   docs.acked_by / docs.failed_by — one bit per peer (SyncPeer::bit()): the peer has the document at
//     this sequence, or refused it. Every write of the document rewrites its row with the bits cleared
//     (but the origin's, for a revision pulled from a peer that had it), so it is pending again.
//   sync_peers — one row per registered peer: its last complete sync and its counts of set bits
//     (`acked`, `failed`), written with each transaction's other counters.
//   sync_docs — (doc_id, peer) → a refusal's answer (error name and reason) and the sequence refused.
//   sync_conflicts — the ids of documents whose tree has more than one live leaf.
// A document is pending for a peer when neither of its bits is set: registering a peer makes every
// document pending at no cost, and a local write costs the ledger nothing but its counts.
#include <algorithm>

#include "db/rev_tree_codec.h"
#include "db/store.h"

namespace settee::db {

namespace {

// The sync ledger. Which peers have confirmed (acked_by) or refused (failed_by) a document at its current
// sequence are bits of its docs row: a local write, which rewrites that row anyway, clears them, and so
// makes the document pending for every peer without a statement of its own. A peer's counts of set bits
// (`acked`, `failed`) are kept with each write's other counters, so a count reads no table and
// pending = documents - acked - failed. sync_docs holds the refusals' answers (few), sync_conflicts the
// documents with live losing leaves.
const char* const kSyncSchema = R"sql(
CREATE TABLE IF NOT EXISTS sync_peers(
  id INTEGER PRIMARY KEY,
  peer TEXT NOT NULL UNIQUE,
  last_sync INTEGER NOT NULL DEFAULT 0,
  acked INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sync_docs(
  doc_id TEXT NOT NULL,
  peer INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  failed_error TEXT NOT NULL,
  failed_reason TEXT NOT NULL,
  PRIMARY KEY(doc_id, peer)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sync_docs_by_peer ON sync_docs(peer, doc_id);
CREATE TABLE IF NOT EXISTS sync_conflicts(doc_id TEXT PRIMARY KEY) WITHOUT ROWID;
)sql";

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

const char* Store::syncSchema() { return kSyncSchema; }

Status Store::migrateSyncLedger(int64_t from) {
  // The ledger's first layout (a row per peer and pending document, counted by triggers) was briefly
  // version 4 too: such a file gets the ledger anew, its peers to be registered again by their next sync.
  bool firstLedger = false;
  if (from == 4) {
    Statement bits(conn_.prepare("SELECT 1 FROM pragma_table_info('docs') WHERE name = 'acked_by'"));
    firstLedger = !bits.step();
    if (bits.failed()) return conn_.error("read docs columns");
  }
  if (from >= 4 && !firstLedger) return Status::ok();
  if (firstLedger) {
    if (Status st =
            conn_.exec("DROP TRIGGER IF EXISTS sync_docs_added; DROP TRIGGER IF EXISTS sync_docs_removed;"
                       "DROP TRIGGER IF EXISTS sync_docs_changed; DROP TABLE IF EXISTS sync_docs;"
                       "DROP TABLE IF EXISTS sync_peers;");
        !st)
      return st;
  }
  if (Status st = conn_.exec(kSyncSchema); !st) return st;
  // Files written before version 4 have no peer bits (a file that has them was set back by hand).
  for (const char* column : {"acked_by", "failed_by"}) {
    Statement has(conn_.prepare("SELECT 1 FROM pragma_table_info('docs') WHERE name = ?"));
    has.bind(1, std::string_view(column));
    if (has.step()) continue;
    if (has.failed()) return conn_.error("read docs columns");
    const std::string add =
        "ALTER TABLE docs ADD COLUMN " + std::string(column) + " INTEGER NOT NULL DEFAULT 0";
    if (Status st = conn_.exec(add.c_str()); !st) return st;
  }
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

Status Store::keepSyncState(std::string_view id, const RevTree* tree, DocRow& row, uint64_t* ackedBy) {
  const bool now = tree && hasConflict(*tree);
  if (now != row.conflicted) {
    Statement change(conn_.prepare(now ? "INSERT OR IGNORE INTO sync_conflicts(doc_id) VALUES(?)"
                                       : "DELETE FROM sync_conflicts WHERE doc_id = ?"));
    change.bind(1, id);
    if (!change.exec()) return conn_.error("keep conflicted documents");
    row.conflicted = now;
  }
  if (ackedBy) *ackedBy = 0;
  // No peer had the document and none sent it: nothing changes (a new document, or one already pending
  // for every peer — always so while no peer is registered).
  if ((row.ackedBy | row.failedBy) == 0 && syncOrigin_.empty()) return Status::ok();
  auto peers = syncPeerCache();
  if (!peers) return peers.status();
  for (SyncPeer& p : **peers) {
    const bool had = !row.exists || (row.ackedBy & p.bit()) != 0;
    if (row.ackedBy & p.bit()) {
      p.acked--;
      p.dirty = true;
    }
    if (row.failedBy & p.bit()) {
      p.failed--;
      p.dirty = true;
    }
    // A revision from the peer is not news to it — unless the document had a change the peer had not
    // confirmed, which stays pending.
    if (tree && ackedBy && had && !syncOrigin_.empty() && p.name == syncOrigin_) {
      *ackedBy |= p.bit();
      p.acked++;
      p.dirty = true;
    }
  }
  if (row.failedBy != 0) {
    // The refusals were of the old sequence: the document is offered again.
    Statement drop(conn_.prepare("DELETE FROM sync_docs WHERE doc_id = ?"));
    drop.bind(1, id);
    if (!drop.exec()) return conn_.error("keep sync state");
  }
  return Status::ok();
}

Status Store::registerSyncPeer(std::string_view peer) {
  if (peer.empty()) return badRequest("a sync peer needs a name");
  std::lock_guard lock(mu_);
  auto known = syncPeer(peer);
  if (known) return Status::ok();
  if (known.status().code() != ErrorCode::NotFound) return known.status();
  if (static_cast<int64_t>(syncPeers_.size()) >= kMaxSyncPeers)
    return badRequest("a database syncs with at most " + std::to_string(kMaxSyncPeers) + " peers");
  // A new peer has no bit set anywhere: every document, deleted ones too, is pending for it at once. Ids
  // are never reused (no peer is removed), so its bit was never set either.
  Statement add(conn_.prepare("INSERT INTO sync_peers(peer) VALUES(?)"));
  add.bind(1, peer);
  if (!add.exec()) return conn_.error("register sync peer");
  syncPeersLoaded_ = false;
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

// The peer's bit of document `id` set as `failure` says (ok: confirmed; else refused, with its answer)
// when the document is still at a sequence at most `seq`. `peerId` and `bit` name the peer; its counts
// `ackedCount`/`failedCount` follow, and `dirty` is set when they change. The caller holds the store's
// lock and a transaction.
Status setPeerBit(Connection& conn, int64_t peerId, uint64_t bit, uint64_t& ackedCount, uint64_t& failedCount,
                  bool& dirty, std::string_view id, uint64_t seq, const Status& failure) {
  uint64_t docSeq = 0, acked = 0, failed = 0;
  {
    Statement get(conn.prepare("SELECT seq, acked_by, failed_by FROM docs WHERE id = ?"));
    get.bind(1, id);
    if (get.step()) {
      docSeq = static_cast<uint64_t>(get.int64(0));
      acked = static_cast<uint64_t>(get.int64(1));
      failed = static_cast<uint64_t>(get.int64(2));
    } else if (get.failed()) {
      return conn.error("read sync state");
    }
  }
  // Gone, or changed since: the newer change is pending, to be offered again.
  if (docSeq == 0 || docSeq > seq) return Status::ok();
  if (failure.isOk()) {
    if (acked & bit) return Status::ok();
    Statement drop(conn.prepare("DELETE FROM sync_docs WHERE doc_id = ? AND peer = ?"));
    drop.bind(1, id).bind(2, peerId);
    if ((failed & bit) && !drop.exec()) return conn.error("keep sync state");
    if (failed & bit) failedCount--;
    ackedCount++;
    acked |= bit;
    failed &= ~bit;
  } else {
    Statement put(
        conn.prepare("INSERT OR REPLACE INTO sync_docs(doc_id, peer, seq, failed_error, failed_reason) "
                     "VALUES(?, ?, ?, ?, ?)"));
    put.bind(1, id).bind(2, peerId).bind(3, docSeq).bind(4, std::string_view(failure.error()));
    put.bind(5, std::string_view(failure.reason()));
    if (!put.exec()) return conn.error("keep sync state");
    if (acked & bit) ackedCount--;
    if (!(failed & bit)) failedCount++;
    acked &= ~bit;
    failed |= bit;
  }
  dirty = true;
  Statement save(conn.prepare("UPDATE docs SET acked_by = ?, failed_by = ? WHERE id = ?"));
  save.bind(1, acked).bind(2, failed).bind(3, id);
  if (!save.exec()) return conn.error("keep sync state");
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
  for (const auto& [id, seq] : docs) {
    if (Status st = setPeerBit(conn_, (*p)->id, (*p)->bit(), (*p)->acked, (*p)->failed, (*p)->dirty, id, seq,
                               Status::ok());
        !st)
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
  if (Status st =
          setPeerBit(conn_, (*p)->id, (*p)->bit(), (*p)->acked, (*p)->failed, (*p)->dirty, id, seq, why);
      !st)
    return st;
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
  const uint64_t bit = (*p)->bit();
  DocSyncInfo info;
  {
    Statement get(
        conn_.prepare("SELECT d.seq, d.acked_by, d.failed_by, s.failed_error, s.failed_reason FROM docs d "
                      "LEFT JOIN sync_docs s ON s.doc_id = d.id AND s.peer = ? WHERE d.id = ?"));
    get.bind(1, (*p)->id).bind(2, id);
    if (get.step()) {
      const auto seq = static_cast<uint64_t>(get.int64(0));
      if (static_cast<uint64_t>(get.int64(2)) & bit) {
        info.failed = true;
        info.seq = seq;
        info.failure = storedFailure(get.text(3), get.text(4));
      } else if (!(static_cast<uint64_t>(get.int64(1)) & bit)) {
        info.pending = true;
        info.seq = seq;
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
    Statement list(conn_.prepare(
        "SELECT doc_id, seq, failed_error, failed_reason FROM sync_docs WHERE peer = ? AND doc_id > ? "
        "ORDER BY doc_id LIMIT ?"));
    list.bind(1, sp.id).bind(2, pagingKey(after)).bind(3, max);
    while (list.step())
      out.push_back({std::string(list.text(0)), static_cast<uint64_t>(list.int64(1)),
                     storedFailure(list.text(2), list.text(3))});
    if (list.failed()) return conn_.error("list failed documents");
    return out;
  }
  // Pending documents have no row of their own: they are the documents above the peer's floor (a
  // sequence range of docs) with neither bit set. The floor then moves up to the oldest one found, so the
  // next listing reads only the outbox and what was written after it.
  Statement list(conn_.prepare(
      "SELECT seq, id FROM docs WHERE seq > ? AND ((acked_by | failed_by) & ?) = 0 ORDER BY seq"));
  list.bind(1, sp.pendingFloor).bind(2, sp.bit());
  uint64_t oldest = 0;
  const std::string_view key = pagingKey(after);
  while (list.step()) {
    const auto seq = static_cast<uint64_t>(list.int64(0));
    if (oldest == 0) oldest = seq;
    if (list.text(1) > key) out.push_back({std::string(list.text(1)), seq, {}});
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
