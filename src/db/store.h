// store.h — one database: the revision trees, bodies, attachments and local documents in one SQLite
// file. This is the facade the public settee::Database forwards to, and what the HTTP handlers and the
// replicator call; it adds calls that take already-parsed documents so a request body is parsed once.
//
// Contract:
// - Every public call runs under one mutex and, when it writes, in one transaction: a batch is whole
//   or absent, and a call that returned success is committed (durable against a process crash).
// - Change listeners run on the calling thread after the commit, outside the mutex.
// - Row callbacks run inside the call, under the mutex: they must not call back into this Store.
// - Reads report failure: a storage error or a corrupt revision tree met during a read is returned as a
//   Status (Internal), never skipped.
//
// Schema (version 4):
//   docs(seq INTEGER PRIMARY KEY, id TEXT UNIQUE, deleted, tree BLOB) — one row per document at its
//     latest sequence; the rowid *is* the sequence, so the changes feed is a rowid range scan.
//   revs(doc_id, rev, atts, body) — bodies of stored revisions, a rowid table UNIQUE(doc_id, rev).
//   attachments(digest UNIQUE, data) — each attachment body once. A body given as a ByteSource is
//     written in pieces into a zero-filled blob and read back in pieces (readAttachment), so no call
//     needs a whole large body in memory.
//   local_docs(id, rev, body); meta(key, value).
//   mango_indexes(id, ddoc, name, def, build_upto, built_to), mango_rows(idx, key, doc_id, vals),
//     mango_row_keys(idx, doc_id, key) — json indexes and their rows (store_index.cc, version 3).
//   sync_peers(id, peer UNIQUE, last_sync, acked, failed), docs.acked_by / docs.failed_by, sync_docs(doc_id,
//     peer, seq, failed_error, failed_reason), sync_conflicts(doc_id) — the sync ledger (store_sync.cc,
//     version 4): which peers have confirmed or refused each document at its current sequence (bits in
//     its row, cleared by the write that gives it a new one), the refusals' answers, and the documents
//     with live losing leaves.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "db/document.h"
#include "db/mango_index.h"
#include "db/rev_tree.h"
#include "db/storage/sqlite.h"
#include "settee/database.h"

namespace settee::db {

// A document to write, parsed (or the reason it could not be), with any multipart attachment bodies.
struct WriteOp {
  Result<ParsedDoc> doc = Status(ErrorCode::BadRequest, "empty");
  std::vector<AttachmentBody> bodies;
  // DELETE /db/doc: an absent or deleted document is not_found ("missing", "deleted") whatever the
  // revision, judged inside the write's own transaction so no other write slips in between.
  bool mustBeLive = false;
};

class Store {
 public:
  const std::string& name() const { return name_; }
  static Result<std::unique_ptr<Store>> open(const std::string& path, const std::string& name,
                                             const DatabaseOptions& options);
  ~Store();

  Result<DatabaseInfo> info();
  const DatabaseOptions& options() const { return options_; }

  // Parses JSON text into a WriteOp, enforcing maxDocumentSize.
  WriteOp parse(std::string_view json, std::string_view id = {}, bool local = false);
  // A revision already parsed (a replicated one) as a WriteOp, enforcing maxDocumentSize: no JSON on
  // the way. `bodies` are those of its `follows` attachments.
  WriteOp prepare(Revision rev, std::vector<AttachmentBody> bodies = {});
  // Writes every op in one transaction; one result per op, in order. `_local/` ids (parsed with
  // local=true) are written as putLocal() writes them, answered `0-N`.
  // `originPeer`: the sync peer (sync_state.h) these revisions came from, so they are not pending for
  // it (a pull's writes); empty for every other write.
  std::vector<DocResult> write(std::vector<WriteOp>& ops, bool newEdits, std::string_view originPeer = {});

  // With `follows`, every attachment that options.attachments (and atts_since) would inline is written
  // as a `"follows":true` entry instead, and its stored bytes (encoded when it has an encoding) are
  // appended to *follows in `_attachments` order: what a multipart/related answer needs. With
  // FollowMode::Reference the entries carry no `data`, only `digest` and `storedLength`: the caller reads
  // the bytes in pieces with readAttachment().
  enum class FollowMode { Load, Reference };
  // With `rev`, also the revision read, as the store knows it (an ETag needs no parse of the JSON).
  Result<std::string> get(std::string_view id, const ReadOptions& options,
                          std::vector<Attachment>* follows = nullptr, FollowMode mode = FollowMode::Load,
                          std::string* rev = nullptr);
  // With `follows`, as for get(), one list per returned entry (empty for missing ones), in order.
  Result<std::vector<OpenRev>> getOpenRevs(std::string_view id, const std::vector<std::string>& revs,
                                           const ReadOptions& options,
                                           std::vector<std::vector<Attachment>>* follows = nullptr,
                                           FollowMode mode = FollowMode::Load);
  // The revisions getOpenRevs() would render, as values: found ones only, in the same order, with their
  // path when options.revs. Attachments that options.attachments (and atts_since) would inline come
  // with their bytes (FollowMode::Load: Kind::Inline) or as Kind::Follows whose bytes the caller reads
  // by digest with readAttachment() (FollowMode::Reference); the others are stubs.
  Result<std::vector<Revision>> getRevisions(std::string_view id, const std::vector<std::string>& revs,
                                             const ReadOptions& options, FollowMode mode = FollowMode::Load);
  Result<Attachment> getAttachment(std::string_view docId, std::string_view name, std::string_view rev);
  // Up to `n` stored bytes of the attachment body with this digest, from `offset`; 0 at the end. Each
  // call takes the lock alone, so a long copy never holds the database. not_found once compaction removed
  // the body (no revision refers to it any more).
  Result<size_t> readAttachment(std::string_view digest, uint64_t offset, char* buf, size_t n);
  Result<RevTree> tree(std::string_view id);

  // With `expectedLeaves` (live leaves, any order), conflict when the document's live leaves are no
  // longer exactly those: a policy decided on what it read and must not delete a leaf it never saw.
  Result<DocResult> resolveConflicts(std::string_view id, std::string_view winnerRev,
                                     std::optional<std::string_view> mergedJson,
                                     const std::vector<std::string>* expectedLeaves = nullptr);
  // The live leaves of a document (CouchDB's winner first, each rendered as get() renders it) and their
  // deepest common ancestor with its body when stored: what a conflict policy decides on. Fewer than two
  // leaves: no conflict.
  Result<ConflictInput> conflictInput(std::string_view id);

  // ---- sync bookkeeping (store_sync.cc; settee/sync_state.h) ----
  Status registerSyncPeer(std::string_view peer);
  Result<std::vector<std::string>> syncPeers();
  // The peer has every revision of each document as of the given local sequence (a push wrote them or
  // found them there): entries at or below that sequence are cleared.
  Status confirmSynced(std::string_view peer, const std::vector<std::pair<std::string, uint64_t>>& docs);
  // The peer refused the document as of local sequence `seq`: failed with `why`, unless it changed since.
  Status markSyncFailed(std::string_view peer, std::string_view id, uint64_t seq, const Status& why);
  Status setLastSync(std::string_view peer, uint64_t micros);
  Result<DocSyncInfo> docSyncState(std::string_view peer, std::string_view id);
  Result<SyncCounts> syncCounts(std::string_view peer);
  Result<std::vector<DocSyncEntry>> syncDocuments(std::string_view peer, DocSyncState state, size_t limit,
                                                  std::string_view after);
  Result<std::vector<std::string>> conflictedDocuments(size_t limit, std::string_view after);
  // Removes the named leaf revisions (and ancestors only they had) as if never written; returns, per
  // id, the revisions purged. A document left with no revision disappears.
  Result<std::vector<std::pair<std::string, std::vector<std::string>>>> purge(
      const std::vector<std::pair<std::string, std::vector<std::string>>>& revs);
  uint64_t purgeSeq();
  Result<std::vector<RevsDiffEntry>> revsDiff(
      const std::vector<std::pair<std::string, std::vector<std::string>>>& revs);

  Result<uint64_t> changes(const ChangesOptions& options, const std::function<bool(const Change&)>& row);
  uint64_t updateSeq();
  uint64_t waitForChange(uint64_t since, std::chrono::milliseconds timeout);
  uint64_t addChangeListener(std::function<void(uint64_t)> listener);
  void removeChangeListener(uint64_t id);

  Result<uint64_t> allDocs(const AllDocsOptions& options, const std::function<bool(const AllDocsRow&)>& row);

  Result<std::string> getLocal(std::string_view id);
  Result<DocResult> putLocal(std::string_view id, std::string_view json);
  Result<DocResult> removeLocal(std::string_view id, std::string_view rev);
  Result<uint64_t> localDocs(const AllDocsOptions& options, const std::function<bool(const AllDocsRow&)>& row);

  // json indexes (mango_index.h), as the design documents define them now, in (ddoc, name) order.
  Result<std::vector<IndexSpec>> indexes();
  // Brings the rows of `index` up to date with every committed write (building the rows of documents
  // written before the index existed), in chunks that let other calls run in between. `stop`, when
  // given, is asked between chunks: true ends the build early (ok; the next call goes on from there).
  Status updateIndex(const IndexSpec& index, const std::function<bool()>& stop = {});
  // How much of the registered indexes is still to build: the sum over them of the sequences (older
  // documents) whose rows updateIndex has not built yet. 0: every index is complete.
  Result<uint64_t> indexBacklog();
  // Whether a write registered an index since the last call (set in the write's transaction, so a
  // rolled-back registration may leave it set: the caller then finds nothing to build). Clears it.
  // Lock-free: a change listener asks on every committed write.
  bool takeIndexRegistered() { return indexRegistered_.exchange(false); }
  // Calls `row` for each row of `index` in `scan`, in key then document id order (reversed when
  // descending), until it returns false. `loadDoc` reads the row's document (the winner, rendered as
  // `options` ask) when the caller wants it; an entry whose document it never loads costs no body read.
  // Returns the number of rows visited. Runs under the store's lock: `row` must not call the Store.
  using IndexRowFn =
      std::function<bool(const IndexEntry& entry, const std::function<Result<std::string>()>& loadDoc)>;
  Result<uint64_t> scanIndex(const IndexSpec& index, const IndexScan& scan, const ReadOptions& options,
                             const IndexRowFn& row);

  uint32_t revsLimit();
  Status setRevsLimit(uint32_t limit);
  Status compact();
  // The database's _security object as JSON ("{}" when never set).
  Result<std::string> security();
  Status setSecurity(std::string_view json);

 private:
  Store(std::string name, DatabaseOptions options);
  Status init(const std::string& path);

  struct DocRow {
    bool exists = false;
    uint64_t seq = 0;
    RevTree tree;
    bool conflicted = false;  // the stored tree has more than one live leaf (so sync_conflicts has it)
    uint64_t ackedBy = 0;     // the sync peers (SyncPeer::bit()) that have it at this sequence
    uint64_t failedBy = 0;    // the sync peers that refused it at this sequence
  };
  Result<DocRow> loadDoc(std::string_view id);
  // A revision a write just stored, with its body, so keeping index rows need not read it back.
  struct WrittenRev {
    std::string_view rev;
    std::string_view body;
  };
  Status saveDoc(std::string_view id, DocRow& row, bool wasDeleted, const WrittenRev* written = nullptr);
  DocResult writeOne(WriteOp& op, bool newEdits);
  // Writes (or, `_deleted`, removes) a `_local` document whose id has its prefix; `localRev` must name
  // the stored 0-N (absent for a new one). The caller holds mu_ and a transaction.
  DocResult writeLocal(const ParsedDoc& doc);
  Status resolveAttachments(ParsedDoc& doc, std::vector<AttachmentBody>& bodies, const DocRow& row,
                            int parentIndex, uint64_t newGen, std::vector<AttachmentInfo>& out);
  // Stores a body read from `source` in pieces; sets info's digest and lengths.
  Status storeAttachmentFrom(const ByteSource& source, AttachmentInfo& info);
  // True when the revision's body is stored; false when not, or when the read failed (then *readError,
  // when given, says why: a storage error, not an absent body).
  bool loadRev(std::string_view id, std::string_view rev, std::string& body, std::string& atts,
               Status* readError = nullptr);
  Status renderDoc(std::string_view id, const RevTree& tree, int index, const ReadOptions& options,
                   std::string& out, uint64_t seq, std::vector<Attachment>* follows = nullptr,
                   FollowMode mode = FollowMode::Load);
  // One stored revision as a value (see getRevisions); not_found when its body is not stored.
  Status loadRevision(std::string_view id, const RevTree& tree, int index, const ReadOptions& options,
                      FollowMode mode, Revision& out);
  Status migrate();
  Status persistCounters();
  // SQLite rolled a transaction back: the caches of what it may have changed are read again.
  static void rolledBack(void* store);
  void notify();

  // ---- json index rows (store_index.cc) ----
  struct IndexState;
  // Registers the indexes of design documents a file written before indexes existed holds, and has
  // SQLite tell the index cache when a transaction rolls back. Called by init() in its transaction.
  Status initIndexes();
  // The registered indexes, read again after a design document changed or a transaction rolled back.
  // The caller holds mu_.
  Result<IndexState*> indexState();
  // Keeps the index rows of document `id` in step with its tree (null: the document is gone), and for a
  // design document the registered indexes with its definitions, in the caller's transaction. `existed`:
  // the document was stored before this write (so it may have rows). Called by saveDoc() and purge().
  Status keepIndexes(std::string_view id, const RevTree* tree, bool existed, const WrittenRev* written = nullptr);

  // ---- sync ledger (store_sync.cc) ----
  struct SyncPeer {
    int64_t id = 0;  // 1..kMaxSyncPeers
    std::string name;
    // Documents this peer has confirmed / refused at their current sequence (pending = every document
    // - acked - failed), as the docs rows' bits say.
    uint64_t acked = 0;
    uint64_t failed = 0;
    bool dirty = false;  // counts changed in this transaction, not yet written to sync_peers
    // No document at or below this sequence is pending for the peer (a listing's starting point;
    // in memory only, 0 after a reload).
    uint64_t pendingFloor = 0;
    uint64_t bit() const { return uint64_t{1} << (id - 1); }
  };
  // A peer is a bit of docs.acked_by / docs.failed_by (the sign bit left alone).
  static constexpr int64_t kMaxSyncPeers = 63;
  // The registered peers with their counts, read once and again after a rollback: a write with none
  // registered costs nothing. The caller holds mu_.
  Result<std::vector<SyncPeer>*> syncPeerCache();
  Result<SyncPeer*> syncPeer(std::string_view peer);
  // Keeps the ledger of document `id` in step with a write that saves `tree` (null: the document is
  // gone, purged), in the caller's transaction, before its docs row is written. `row` is the document as
  // stored before. Every peer's confirmation or refusal of the old sequence ends (the document is pending
  // again), but a revision from syncOrigin_ stays confirmed for it: *ackedBy is the new row's bits.
  // sync_conflicts holds the document exactly while it has more than one live leaf (row.conflicted is
  // set to whether it has now).
  Status keepSyncState(std::string_view id, const RevTree* tree, DocRow& row, uint64_t* ackedBy);
  // Writes the peers' changed counts (persistCounters() calls it in every writing transaction).
  Status persistSyncCounts();
  // Whether the tree has more than one live leaf.
  static bool hasConflict(const RevTree& tree);
  // The ledger's tables (CREATE ... IF NOT EXISTS), run by init() after kSchema.
  static const char* syncSchema();
  // Brings a file of schema version `from` to the ledger of version 4: its tables, the docs rows' peer
  // bits, and its conflicted documents listed by one scan. Called by migrate(), in the opening transaction.
  Status migrateSyncLedger(int64_t from);

  // Open read handles on attachment bodies being read in pieces (readAttachment), most recent last. A
  // handle remembers where its overflow pages are, so each next piece costs its own size; a new handle
  // per piece would walk the page chain from the start every time (quadratic in the body's size).
  struct BlobReader {
    std::string digest;
    sqlite3_blob* blob = nullptr;
    uint64_t size = 0;
    std::chrono::steady_clock::time_point lastUse;
  };
  static constexpr size_t kBlobReaders = 4;
  // A reader abandoned mid-body (a client gone) is closed after this long unused: an open handle keeps
  // a read snapshot, which stops the WAL from being checkpointed past it.
  static constexpr std::chrono::seconds kBlobReaderIdle{10};
  void closeBlobReaders();
  void dropIdleBlobReaders();

  std::vector<BlobReader> blobReaders_;
  std::string name_;
  DatabaseOptions options_;
  std::mutex mu_;
  Connection conn_;
  uint64_t updateSeq_ = 0;
  uint64_t docCount_ = 0;
  uint64_t docDelCount_ = 0;
  uint64_t purgeSeq_ = 0;
  uint32_t revsLimit_ = 1000;
  std::string instanceStartTime_;
  std::string path_;
  std::shared_ptr<IndexState> index_;  // created by initIndexes()
  std::atomic<bool> indexRegistered_{false};  // see takeIndexRegistered()
  bool syncPeersLoaded_ = false;
  std::vector<SyncPeer> syncPeers_;
  // The peer the revisions being written came from (write()'s originPeer), for keepSyncState().
  std::string_view syncOrigin_;

  std::mutex listenMu_;
  std::condition_variable changed_;
  uint64_t nextListener_ = 1;
  std::map<uint64_t, std::function<void(uint64_t)>> listeners_;
};

}  // namespace settee::db
