// settee/database.h — the embedded document database an app links.
//
// A Database is one CouchDB-style database held in one SQLite file (WAL mode). Documents go in and come
// out as JSON text with CouchDB's special members (`_id`, `_rev`, `_deleted`, `_revisions`,
// `_attachments`, `_conflicts`, ...). Every document keeps its revision tree: concurrent edits become
// sibling leaves, the winner is CouchDB's deterministic pick, and conflicts stay until resolved.
//
// Contract:
// - Every public call is one SQLite transaction: it happens whole or not at all. A call that returned a
//   success is durable against a process crash (kill -9); with DatabaseOptions::syncFull also against
//   power loss.
// - Expected failures come back as Status values with CouchDB's error names (status.h). Reads report
//   failure too: a read that meets a storage error or a corrupt revision tree returns that Status (an
//   Internal error) rather than skipping the row or answering a partial value.
// - A Database may be used from several threads; calls are serialised inside. Change listeners are
//   called on the writing thread after the write committed: keep them short (wake something up).
// - Callbacks given to changes() / allDocs() run inside the call; they must not call back into the
//   same Database.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "settee/conflict.h"
#include "settee/query.h"
#include "settee/sync_state.h"
#include "settee/status.h"

namespace settee {

namespace db {
class Store;
class IndexBuilder;
class LiveQueries;
// Settee's own layers (http, the replicator) reach the Store of a Database through this type, defined
// in the internal header src/db/database_internal.h; an app never needs it.
struct DatabaseAccess;
}  // namespace db

struct DatabaseOptions {
  // How many revisions of each branch are kept (CouchDB's _revs_limit). Persisted per database; this
  // value applies when the database is created.
  uint32_t revsLimit = 1000;
  // Largest accepted JSON document, in bytes (CouchDB's max_document_size).
  size_t maxDocumentSize = 8 * 1024 * 1024;
  // Create the file when it does not exist.
  bool createIfMissing = true;
  // false: durable against process crashes (SQLite synchronous=NORMAL in WAL mode).
  // true: also against power loss (synchronous=FULL), at a cost per commit.
  bool syncFull = false;
  // true: this process owns the file, as a node owns its databases (SQLite's exclusive locking: the lock
  // taken once, the WAL index in heap memory). false: other processes may open it at the same time (a
  // shared WAL index beside the file, locks per transaction), so `settee status` can read a database
  // while `settee sync` writes it.
  bool exclusive = true;
  // The SQLite VFS (sqlite3_vfs_register name) the file is opened with; empty is SQLite's default. For
  // tests that put a faulty disk under a database (a VFS that fails writes once a budget is spent).
  std::string vfs;
};

// How put() writes one document.
struct PutOptions {
  // true (an edit, CouchDB's new_edits=true): the body's `_rev` must name a current leaf (or be absent
  // for a new document) and the write makes a new revision. false (replication, new_edits=false): `_rev`
  // and `_revisions` are a history made elsewhere, merged as it is; such a write never conflicts.
  bool newEdits = true;
  // Supplies (or overrides) the body's `_id`; empty keeps the body's. Read during the call only.
  std::string_view id = {};
};

// How bulkDocs() writes its documents.
struct BulkDocsOptions {
  // As PutOptions::newEdits, for every document of the batch.
  bool newEdits = true;
};

// The outcome of one document write.
struct DocResult {
  std::string id;
  std::string rev;
  Status status;  // ok, or why this document was not written
};

// How a document is read; mirrors the query parameters of CouchDB's GET /db/doc.
struct ReadOptions {
  std::string rev;                     // a specific revision; empty reads the winner
  bool revs = false;                   // add _revisions {start, ids}
  bool revsInfo = false;               // add _revs_info
  bool conflicts = false;              // add _conflicts (live losing leaves)
  bool deletedConflicts = false;       // add _deleted_conflicts
  bool attachments = false;            // inline attachment bodies as base64 instead of stubs
  bool attEncodingInfo = false;        // add encoding / encoded_length to encoded attachments
  std::vector<std::string> attsSince;  // inline only attachments newer than these revisions
  bool localSeq = false;               // add _local_seq
  bool latest = false;                 // open revs: a non-leaf revision answers with its leaves
};

// One entry of an open_revs read: the document at `rev`, or `missing`.
struct OpenRev {
  std::string rev;
  bool found = false;
  std::string json;  // the document when found
};

// One row of the changes feed: a document at its latest sequence.
struct Change {
  uint64_t seq = 0;
  std::string id;
  std::vector<std::string> revs;  // the winner first; with allLeaves every other leaf after it
  bool deleted = false;           // the winner is deleted
};

struct ChangesOptions {
  uint64_t since = 0;
  uint64_t limit = UINT64_MAX;
  bool descending = false;
  bool allLeaves = false;  // style=all_docs
};

struct AllDocsOptions {
  std::optional<std::string> startKey;
  std::optional<std::string> endKey;
  bool inclusiveEnd = true;
  std::optional<std::vector<std::string>> keys;  // exact ids, answered in this order
  uint64_t limit = UINT64_MAX;
  uint64_t skip = 0;
  bool descending = false;
  bool includeDocs = false;
  bool conflicts = false;        // with includeDocs
  bool attachments = false;      // with includeDocs: attachment bodies inline as base64 `data`
  bool attEncodingInfo = false;  // with includeDocs: encoding / encoded_length of encoded attachments
};

struct AllDocsRow {
  std::string id;
  std::string rev;
  bool found = true;     // false for a key that names no document ("error":"not_found")
  bool deleted = false;  // only reported for keys that name a deleted document
  std::string doc;       // the JSON document with includeDocs (empty for deleted rows)
};

struct DatabaseInfo {
  std::string name;
  uint64_t updateSeq = 0;
  uint64_t docCount = 0;
  uint64_t docDelCount = 0;
  uint64_t purgeSeq = 0;
  uint64_t fileSize = 0;
  uint64_t activeSize = 0;
  std::string instanceStartTime;  // microseconds since the epoch at creation, constant for its life
};

// The bytes and metadata of one attachment.
struct Attachment {
  std::string name;
  std::string contentType;
  std::string digest;    // "md5-<base64>" of the stored bytes
  std::string encoding;  // "" or "gzip": the stored bytes are encoded
  uint64_t length = 0;   // decoded length
  uint64_t revpos = 0;
  std::string data;      // stored bytes (encoded when `encoding` is set)
  uint64_t storedLength = 0;  // the stored bytes' length (encoded length when encoded), even when `data` is not loaded
};

// Bytes read in pieces: an attachment body too large to hold in memory (a file, a download spooled to
// disk). read() may be called from any thread, at any offset and more than once: a write that failed and
// is retried reads the body again from its start. The bytes must not change while a source is in use.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Copies up to `n` bytes starting at `offset` into `buf`; returns how many (0 only at or past the end).
  virtual Result<size_t> read(uint64_t offset, char* buf, size_t n) const = 0;
};

// An attachment body delivered beside the JSON (multipart/related `follows: true` entries), in the
// order the `_attachments` object lists its `follows` entries. The bytes are `data`, or, when `source`
// is set, read from it piece by piece (the database then never holds the whole body).
struct AttachmentBody {
  std::string name;
  std::string data;
  std::shared_ptr<const ByteSource> source;
};

// For each id, the revisions asked about that this database lacks, and the leaves it has of lower
// generation that the sender may use as atts_since.
struct RevsDiffEntry {
  std::string id;
  std::vector<std::string> missing;
  std::vector<std::string> possibleAncestors;
};

class Database {
 public:
  // Opens (or creates) the database stored at `path`; `name` is what info() reports.
  static Result<std::unique_ptr<Database>> open(const std::string& path, const std::string& name,
                                                const DatabaseOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The counters and sizes of the database (CouchDB's GET /db).
  Result<DatabaseInfo> info();
  // The name given at open (what info() reports), without touching the file.
  const std::string& name() const;

  // Writes one document given as JSON, as `options` say (an edit unless options.newEdits is false).
  // `attachmentBodies` are the bodies of the `_attachments` entries marked `follows`.
  Result<DocResult> put(std::string_view json, const PutOptions& options = {},
                        std::vector<AttachmentBody> attachmentBodies = {});
  // Deletes the document at revision `rev` (adds a deleted leaf), as DELETE /db/doc: an absent or deleted
  // document is not_found ("missing", "deleted") whatever `rev`; an empty `rev` on a live one conflicts.
  Result<DocResult> remove(std::string_view id, std::string_view rev);
  // Writes many documents in one transaction; one result per input, in order. With
  // options.newEdits=false a document never conflicts.
  std::vector<DocResult> bulkDocs(const std::vector<std::string_view>& docs,
                                  const BulkDocsOptions& options = {});

  // Reads a document (the winner, or options.rev) as JSON.
  Result<std::string> get(std::string_view id, const ReadOptions& options = {});
  // Reads several revisions: every leaf when `revs` is empty, else each named one.
  Result<std::vector<OpenRev>> getOpenRevs(std::string_view id, const std::vector<std::string>& revs,
                                           const ReadOptions& options = {});
  Result<Attachment> getAttachment(std::string_view docId, std::string_view name, std::string_view rev = {});

  // The live losing leaves of a document.
  Result<std::vector<std::string>> conflicts(std::string_view id);
  // Resolves every conflict of a document in one transaction: `winnerRev` stays (updated to
  // `mergedJson` when given) and every other live leaf is deleted.
  Result<DocResult> resolveConflicts(std::string_view id, std::string_view winnerRev,
                                     std::optional<std::string_view> mergedJson = std::nullopt);

  // For each (id, revisions) asked about, the revisions this database lacks (ids it has every revision
  // of are left out).
  Result<std::vector<RevsDiffEntry>> revsDiff(
      const std::vector<std::pair<std::string, std::vector<std::string>>>& revs);

  // Calls `row` for each change after options.since in sequence order until it returns false.
  // Returns the last sequence visited (or `since` when none); an error when a row could not be read
  // (rows before it were delivered).
  Result<uint64_t> changes(const ChangesOptions& options, const std::function<bool(const Change&)>& row);
  // Blocks until update_seq > since or the timeout passes; returns update_seq.
  uint64_t waitForChange(uint64_t since, std::chrono::milliseconds timeout);
  using ListenerId = uint64_t;
  ListenerId addChangeListener(std::function<void(uint64_t updateSeq)> listener);
  void removeChangeListener(ListenerId id);

  // Calls `row` for each document in id order (raw UTF-8 byte order); returns the total row count, or
  // an error when a row could not be read (rows before it were delivered).
  Result<uint64_t> allDocs(const AllDocsOptions& options, const std::function<bool(const AllDocsRow&)>& row);

  // _local documents: not replicated, not in changes, revisions "0-N".
  Result<std::string> getLocal(std::string_view id);
  Result<DocResult> putLocal(std::string_view id, std::string_view json);
  Result<DocResult> removeLocal(std::string_view id, std::string_view rev);
  // Calls `row` for each _local document in id order, as allDocs does for the others (`options`' range,
  // keys, skip, limit, descending and includeDocs; the rest mean nothing for _local documents). Returns
  // the number of _local documents.
  Result<uint64_t> localDocs(const AllDocsOptions& options, const std::function<bool(const AllDocsRow&)>& row);

  // Mango (settee/query.h). Calls `row` with each matching document as JSON, in result order, until it
  // returns false; `selectorJson` is a selector object. Errors are CouchDB's (bad_request names such as
  // invalid_operator, no_usable_index), returned before any row.
  Result<FindSummary> find(std::string_view selectorJson, const FindOptions& options,
                           const std::function<bool(std::string_view doc)>& row);
  // Creates a json index: writes (or extends) its design document, which then replicates like any.
  Result<IndexCreated> createIndex(const IndexDefinition& index);
  // The special `_all_docs` index first, then every json index in design document and name order.
  Result<std::vector<IndexInfo>> indexes();
  // Removes an index from its design document (the design document goes when it holds no other view).
  Status deleteIndex(std::string_view ddoc, std::string_view name);
  // Runs the query now and again whenever a committed write may change its result, and calls `onResult`
  // with the result only when it differs from the last one delivered (the first result is always
  // delivered). Callbacks run on a thread of the database's own, one at a time, never on the writer's.
  // The query stays registered while the returned handle lives.
  Result<std::unique_ptr<LiveQuery>> liveQuery(std::string_view selectorJson, const FindOptions& options,
                                               std::function<void(const LiveResult&)> onResult);

  // Sync bookkeeping (settee/sync_state.h). A peer is known once registered; its state is kept by every
  // write from then on. The first registration makes every document pending for it.
  Status registerSyncPeer(std::string_view peer);
  Result<std::vector<std::string>> syncPeers();
  Result<DocSyncInfo> docSyncState(std::string_view peer, std::string_view id);
  // Counted from the bookkeeping, not from the documents: cheap whatever the database's size.
  Result<SyncCounts> syncCounts(std::string_view peer);
  // Up to `limit` documents in `state` (Pending, Failed or Conflicted) for `peer`, in id order, after
  // `after` (paging). Conflicted ones are the same for every peer.
  Result<std::vector<DocSyncEntry>> syncDocuments(std::string_view peer, DocSyncState state, size_t limit,
                                                  std::string_view after = {});
  // Every document with live losing leaves, in id order after `after`, up to `limit`.
  Result<std::vector<std::string>> conflictedDocuments(size_t limit, std::string_view after = {});
  // Resolves the document's conflict by `policy` (settee/conflict.h) in one transaction, unless its
  // leaves changed meanwhile (then it reads them again). resolved=false when there was no conflict or
  // the policy kept it.
  Result<ConflictResolution> resolveConflict(std::string_view id, const ConflictPolicy& policy);

  uint32_t revsLimit();
  Status setRevsLimit(uint32_t limit);
  // Drops the bodies of non-leaf revisions and attachments no revision uses.
  Status compact();
  // The _security object (members and admins) as JSON; "{}" when never set, an error when it could
  // not be read (a caller deciding access must not take a failed read for an open database).
  Result<std::string> security();
  Status setSecurity(std::string_view json);

 private:
  friend struct db::DatabaseAccess;
  explicit Database(std::unique_ptr<db::Store> store);
  std::unique_ptr<db::Store> store_;
  // Declared after store_ so it goes first: its worker reads the store until it is joined.
  std::unique_ptr<db::LiveQueries> live_;
  // Builds new indexes in the background (index_builder.h); goes first for the same reason.
  std::unique_ptr<db::IndexBuilder> builder_;
};

// The databases under one data directory: one SQLite file each.
class DataDir {
 public:
  explicit DataDir(std::string path, DatabaseOptions defaults = {});
  ~DataDir();

  // CouchDB's rule: ^[a-z][a-z0-9_$()+/-]*$ (plus the system names _users, _replicator).
  static bool validName(std::string_view name);

  Result<std::shared_ptr<Database>> create(const std::string& name);  // file_exists when taken
  Result<std::shared_ptr<Database>> open(const std::string& name);    // not_found when absent
  Status remove(const std::string& name);
  // The databases' names, sorted; an error when the directory cannot be read (never a short list).
  Result<std::vector<std::string>> list();
  const std::string& path() const { return path_; }
  // The directory of the database's view indexes ("<path>/.<name>_design", '/' written as %2F; hidden,
  // so list() never takes it for a database). remove() deletes it with the database, and create()
  // clears what an earlier database of the name may have left there.
  std::string viewDirFor(const std::string& name) const;

 private:
  std::string fileFor(const std::string& name) const;
  std::string path_;
  DatabaseOptions defaults_;
  struct Open;
  std::unique_ptr<Open> open_;
};

}  // namespace settee
