// Opening, schema, counters, change notification, local documents and compaction.
#include "db/store.h"

#include <chrono>
#include <filesystem>
#include <set>

#include "db/json.h"
#include "db/rev_tree_codec.h"
#include "db/store_index_state.h"

namespace settee::db {
namespace {

// Version 2 keeps revision bodies in a rowid table: SQLite stores a row of a WITHOUT ROWID table (an index
// b-tree) inline only up to ~1,000 bytes of a 4 KB page and spills the rest to a whole overflow page, so
// version 1's ~1 KB bodies took ~4.7 KB of file each. A rowid table keeps rows up to ~4 KB inline.
// Version 3 adds the json index tables (store_index.cc); an older file gets them empty, and the indexes
// of the design documents it holds are registered when it is opened.
// Version 4 adds the sync ledger (store_sync.cc); an older file gets it with no peer, and its conflicted
// documents listed by one scan of its trees.
constexpr int kSchemaVersion = 4;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS docs(
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  deleted INTEGER NOT NULL,
  acked_by INTEGER NOT NULL DEFAULT 0,
  failed_by INTEGER NOT NULL DEFAULT 0,
  tree BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS revs(
  rowid INTEGER PRIMARY KEY,
  doc_id TEXT NOT NULL,
  rev TEXT NOT NULL,
  atts TEXT,
  body BLOB NOT NULL,
  UNIQUE(doc_id, rev));
CREATE TABLE IF NOT EXISTS attachments(
  rowid INTEGER PRIMARY KEY,
  digest TEXT NOT NULL UNIQUE,
  data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS local_docs(
  id TEXT PRIMARY KEY,
  rev INTEGER NOT NULL,
  body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mango_indexes(
  id INTEGER PRIMARY KEY,
  ddoc TEXT NOT NULL,
  name TEXT NOT NULL,
  def TEXT NOT NULL,
  build_upto INTEGER NOT NULL,
  built_to INTEGER NOT NULL,
  UNIQUE(ddoc, name));
CREATE TABLE IF NOT EXISTS mango_rows(
  idx INTEGER NOT NULL,
  key BLOB NOT NULL,
  doc_id TEXT NOT NULL,
  vals TEXT NOT NULL,
  PRIMARY KEY(idx, key, doc_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mango_row_keys(
  idx INTEGER NOT NULL,
  doc_id TEXT NOT NULL,
  key BLOB NOT NULL,
  PRIMARY KEY(idx, doc_id)) WITHOUT ROWID;
)sql";

uint64_t nowMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

Store::Store(std::string name, DatabaseOptions options) : name_(std::move(name)), options_(options) {}
Store::~Store() {
  std::lock_guard lock(mu_);
  closeBlobReaders();
  // The index cache goes before the connection: closing must not call a hook that points at it.
  if (conn_.handle()) sqlite3_rollback_hook(conn_.handle(), nullptr, nullptr);
}

void Store::closeBlobReaders() {
  for (auto& r : blobReaders_) sqlite3_blob_close(r.blob);
  blobReaders_.clear();
}

void Store::dropIdleBlobReaders() {
  if (blobReaders_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(blobReaders_, [&](const BlobReader& r) {
    if (now - r.lastUse < kBlobReaderIdle) return false;
    sqlite3_blob_close(r.blob);
    return true;
  });
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, const std::string& name,
                                           const DatabaseOptions& options) {
  std::unique_ptr<Store> store(new Store(name, options));
  if (Status st = store->init(path); !st) return st;
  return store;
}

Status Store::init(const std::string& path) {
  path_ = path;
  const DatabaseOptions& o = options_;
  if (Status st = conn_.open(path, o.createIfMissing, o.syncFull, o.vfs, o.exclusive); !st) return st;
  Transaction txn(conn_);
  if (Status st = txn.begun(); !st) return st;
  if (Status st = migrate(); !st) return st;
  if (Status st = conn_.exec(kSchema); !st) return st;
  if (Status st = conn_.exec(syncSchema()); !st) return st;
  Statement get(conn_.prepare("SELECT key, value FROM meta"));
  bool fresh = true;
  while (get.step()) {
    std::string_view key = get.text(0);
    fresh = false;
    if (key == "update_seq") updateSeq_ = static_cast<uint64_t>(get.int64(1));
    if (key == "doc_count") docCount_ = static_cast<uint64_t>(get.int64(1));
    if (key == "doc_del_count") docDelCount_ = static_cast<uint64_t>(get.int64(1));
    if (key == "purge_seq") purgeSeq_ = static_cast<uint64_t>(get.int64(1));
    if (key == "revs_limit") revsLimit_ = static_cast<uint32_t>(get.int64(1));
    if (key == "instance_start_time") instanceStartTime_ = std::string(get.text(1));
  }
  // Counters half read would number the next writes from the wrong sequence.
  if (get.failed()) return conn_.error("read meta");
  get.reset();
  if (fresh) {
    revsLimit_ = options_.revsLimit;
    instanceStartTime_ = std::to_string(nowMicros());
    Statement put(conn_.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
    put.bind(1, std::string_view("schema_version")).bind(2, kSchemaVersion);
    if (!put.exec()) return conn_.error("init meta");
    put.reset();
    put.bind(1, std::string_view("instance_start_time")).bind(2, std::string_view(instanceStartTime_));
    if (!put.exec()) return conn_.error("init meta");
    put.reset();
    put.bind(1, std::string_view("revs_limit")).bind(2, static_cast<int64_t>(revsLimit_));
    if (!put.exec()) return conn_.error("init meta");
    if (Status st = persistCounters(); !st) return st;
  }
  if (Status st = initIndexes(); !st) return st;
  return txn.commit();
}

// Brings a file written by an older Settee to kSchemaVersion inside the opening transaction, so a crash
// midway leaves the old file as it was. A fresh file has no meta table yet and needs nothing.
Status Store::migrate() {
  {
    Statement hasMeta(conn_.prepare("SELECT 1 FROM sqlite_master WHERE name = 'meta'"));
    if (!hasMeta.step()) return Status::ok();
  }
  Statement version(conn_.prepare("SELECT value FROM meta WHERE key = 'schema_version'"));
  if (!version.step()) return Status::ok();
  int64_t from = version.int64(0);
  version.reset();
  if (from > kSchemaVersion) return {ErrorCode::Internal, "database file is from a newer Settee"};
  if (from < 2) {
    if (Status st = conn_.exec(
            "CREATE TABLE revs_v2(rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, rev TEXT NOT NULL, atts TEXT,"
            "  body BLOB NOT NULL, UNIQUE(doc_id, rev));"
            "INSERT INTO revs_v2(doc_id, rev, atts, body) SELECT doc_id, rev, atts, body FROM revs;"
            "DROP TABLE revs;"
            "ALTER TABLE revs_v2 RENAME TO revs;");
        !st)
      return st;
  }
  if (Status st = migrateSyncLedger(from); !st) return st;
  if (from < kSchemaVersion) {
    Statement put(conn_.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'"));
    put.bind(1, kSchemaVersion);
    if (!put.exec()) return conn_.error("migrate schema");
  }
  return Status::ok();
}

void Store::rolledBack(void* store) {
  auto* self = static_cast<Store*>(store);
  if (self->index_) self->index_->loaded = false;
  self->syncPeersLoaded_ = false;
}

Status Store::persistCounters() {
  Statement put(conn_.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
  const std::pair<const char*, uint64_t> values[] = {
      {"update_seq", updateSeq_}, {"doc_count", docCount_}, {"doc_del_count", docDelCount_},
      {"purge_seq", purgeSeq_}};
  for (auto [key, value] : values) {
    put.bind(1, std::string_view(key)).bind(2, value);
    if (!put.exec()) return conn_.error("update counters");
    put.reset();
  }
  return persistSyncCounts();
}

Result<DatabaseInfo> Store::info() {
  std::lock_guard lock(mu_);
  DatabaseInfo info;
  info.name = name_;
  info.updateSeq = updateSeq_;
  info.docCount = docCount_;
  info.docDelCount = docDelCount_;
  info.purgeSeq = purgeSeq_;
  info.instanceStartTime = instanceStartTime_;
  std::error_code ec;
  for (const char* suffix : {"", "-wal"}) {
    auto size = std::filesystem::file_size(path_ + suffix, ec);
    if (!ec) info.fileSize += size;
  }
  Statement pages(conn_.prepare("SELECT (SELECT page_count FROM pragma_page_count()) - "
                                "(SELECT freelist_count FROM pragma_freelist_count()), "
                                "(SELECT page_size FROM pragma_page_size())"));
  if (!pages.step()) return conn_.error("read page counts");
  info.activeSize = static_cast<uint64_t>(pages.int64(0) * pages.int64(1));
  return info;
}

uint64_t Store::updateSeq() {
  std::lock_guard lock(mu_);
  return updateSeq_;
}

void Store::notify() {
  std::vector<std::function<void(uint64_t)>> copy;
  uint64_t seq;
  {
    std::lock_guard lock(mu_);
    seq = updateSeq_;
  }
  {
    std::lock_guard lock(listenMu_);
    for (auto& [id, fn] : listeners_) copy.push_back(fn);
  }
  changed_.notify_all();
  for (auto& fn : copy) fn(seq);
}

uint64_t Store::waitForChange(uint64_t since, std::chrono::milliseconds timeout) {
  std::unique_lock lock(listenMu_);
  changed_.wait_for(lock, timeout, [&] { return updateSeq() > since; });
  return updateSeq();
}

uint64_t Store::addChangeListener(std::function<void(uint64_t)> listener) {
  std::lock_guard lock(listenMu_);
  uint64_t id = nextListener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void Store::removeChangeListener(uint64_t id) {
  std::lock_guard lock(listenMu_);
  listeners_.erase(id);
}

uint32_t Store::revsLimit() {
  std::lock_guard lock(mu_);
  return revsLimit_;
}

Status Store::setRevsLimit(uint32_t limit) {
  if (limit == 0) return badRequest("revs_limit must be a positive integer");
  std::lock_guard lock(mu_);
  Transaction txn(conn_);
  if (Status st = txn.begun(); !st) return st;
  Statement put(conn_.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('revs_limit', ?)"));
  put.bind(1, static_cast<int64_t>(limit));
  if (!put.exec()) return conn_.error("set revs_limit");
  if (Status st = txn.commit(); !st) return st;
  revsLimit_ = limit;
  return Status::ok();
}

Result<std::string> Store::security() {
  std::lock_guard lock(mu_);
  Statement get(conn_.prepare("SELECT value FROM meta WHERE key = 'security'"));
  if (get.step()) return std::string(get.text(0));
  if (get.failed()) return conn_.error("read security");
  return std::string("{}");
}

Status Store::setSecurity(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) || root.type() != simdjson::dom::element_type::OBJECT)
    return badRequest("The security object must be a JSON object");
  JsonBuffer buf;
  JsonWriter w(buf);
  writeElement(w, root);
  std::lock_guard lock(mu_);
  Statement put(conn_.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('security', ?)"));
  put.bind(1, bufferView(buf));
  if (!put.exec()) return conn_.error("set security");
  return Status::ok();
}

// ---- _local documents: one row each, revision 0-N, never in the changes feed. ----

namespace {
Result<uint64_t> parseLocalRev(std::string_view rev) {
  if (rev.size() < 3 || rev.substr(0, 2) != "0-") return badRequest("Invalid rev format");
  uint64_t n = 0;
  for (char c : rev.substr(2)) {
    if (c < '0' || c > '9' || n > UINT64_MAX / 10) return badRequest("Invalid rev format");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::string localId(std::string_view id) {
  return id.substr(0, 7) == "_local/" ? std::string(id) : "_local/" + std::string(id);
}
}  // namespace

Result<std::string> Store::getLocal(std::string_view rawId) {
  std::string id = localId(rawId);
  std::lock_guard lock(mu_);
  Statement get(conn_.prepare("SELECT rev, body FROM local_docs WHERE id = ?"));
  get.bind(1, std::string_view(id));
  if (!get.step()) return notFound("missing");
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "_id");
  writeString(w, id);
  writeKey(w, "_rev");
  writeString(w, "0-" + std::to_string(get.int64(0)));
  w.EndObject();
  std::string head(bufferView(buf));
  std::string_view body = get.blob(1);
  if (body.size() > 2) {
    head.pop_back();
    head.push_back(',');
    head.append(body.substr(1));
  }
  return head;
}

Result<DocResult> Store::putLocal(std::string_view rawId, std::string_view json) {
  std::string id = localId(rawId);
  if (id.size() == 7) return badRequest("Document id must not be empty");
  WriteOp op = parse(json, id, true);
  if (!op.doc) return op.doc.status();
  std::lock_guard lock(mu_);
  Transaction txn(conn_);
  if (Status st = txn.begun(); !st) return st;
  DocResult result = writeLocal(*op.doc);
  if (!result.status) return result.status;
  if (Status st = txn.commit(); !st) return st;
  return result;
}

DocResult Store::writeLocal(const ParsedDoc& doc) {
  const std::string& id = doc.id;
  uint64_t given = 0;
  if (!doc.localRev.empty()) {
    auto parsed = parseLocalRev(doc.localRev);
    if (!parsed) return {id, "", parsed.status()};
    given = *parsed;
  }
  Statement get(conn_.prepare("SELECT rev FROM local_docs WHERE id = ?"));
  get.bind(1, std::string_view(id));
  std::optional<uint64_t> current;
  if (get.step()) current = static_cast<uint64_t>(get.int64(0));
  if (get.failed()) return {id, "", conn_.error("read local document")};
  get.reset();
  if (current ? given != *current : given != 0) return {id, "", conflict()};
  if (doc.deleted) {
    if (!current) return {id, "", notFound("missing")};
    Statement del(conn_.prepare("DELETE FROM local_docs WHERE id = ?"));
    del.bind(1, std::string_view(id));
    if (!del.exec()) return {id, "", conn_.error("delete local")};
    return {id, "0-0", Status::ok()};  // CouchDB's answer to a deleted _local document
  }
  Statement put(conn_.prepare("INSERT OR REPLACE INTO local_docs(id, rev, body) VALUES(?, ?, ?)"));
  put.bind(1, std::string_view(id)).bind(2, given + 1).bindBlob(3, doc.body);
  if (!put.exec()) return {id, "", conn_.error("write local")};
  return {id, "0-" + std::to_string(given + 1), Status::ok()};
}

Result<DocResult> Store::removeLocal(std::string_view rawId, std::string_view rev) {
  std::string id = localId(rawId);
  auto given = parseLocalRev(rev);
  if (!given) return given.status();
  std::lock_guard lock(mu_);
  Transaction txn(conn_);
  if (Status st = txn.begun(); !st) return st;
  Statement get(conn_.prepare("SELECT rev FROM local_docs WHERE id = ?"));
  get.bind(1, std::string_view(id));
  if (!get.step()) return notFound("missing");
  if (static_cast<uint64_t>(get.int64(0)) != *given) return conflict();
  get.reset();
  Statement del(conn_.prepare("DELETE FROM local_docs WHERE id = ?"));
  del.bind(1, std::string_view(id));
  if (!del.exec()) return conn_.error("delete local");
  if (Status st = txn.commit(); !st) return st;
  return DocResult{id, "0-0", Status::ok()};
}

// ---- Compaction: drop bodies of non-leaf revisions (but those of documents a sync peer has not
// confirmed), then attachments nothing references. ----

Status Store::compact() {
  std::lock_guard lock(mu_);
  closeBlobReaders();  // compaction may delete their rows; an open handle would also pin the WAL
  {
    Transaction txn(conn_);
    if (Status st = txn.begun(); !st) return st;
    // A document some peer has not confirmed keeps its inner bodies: when the peer's edits come back
    // in conflict with the local one, a merge needs their common ancestor's body.
    auto peers = syncPeerCache();
    if (!peers) return peers.status();
    uint64_t everyPeer = 0;
    for (const SyncPeer& p : **peers) everyPeer |= p.bit();
    Statement scan(conn_.prepare("SELECT seq, id, tree, (acked_by & ?1) != ?1 FROM docs"));
    scan.bind(1, everyPeer);
    Statement drop(conn_.prepare("DELETE FROM revs WHERE doc_id = ? AND rev = ?"));
    Statement save(conn_.prepare("UPDATE docs SET tree = ? WHERE seq = ?"));
    std::string blob;
    while (scan.step()) {
      if (scan.int64(3)) continue;
      auto tree = decodeRevTree(scan.blob(2));
      if (!tree) return {ErrorCode::Internal, "corrupt revision tree"};
      const std::vector<std::string> forgotten = tree->forgetInnerBodies();
      for (const std::string& rev : forgotten) {
        // Bound as SQLITE_STATIC: the text must outlive exec(), as `forgotten` does.
        drop.bind(1, scan.text(1)).bind(2, std::string_view(rev));
        if (!drop.exec()) return conn_.error("compact");
        drop.reset();
      }
      const bool changed = !forgotten.empty();
      if (changed) {
        encodeRevTree(*tree, blob);
        save.bindBlob(1, blob).bind(2, scan.int64(0));
        if (!save.exec()) return conn_.error("compact");
        save.reset();
      }
    }
    if (scan.failed()) return conn_.error("compact");
    scan.reset();
    // A scan cut short by a read error must fail the compaction, not end it: a digest missing from `used`
    // would have its attachment deleted while revisions still refer to it.
    std::set<std::string> used;
    Statement atts(conn_.prepare("SELECT atts FROM revs WHERE atts IS NOT NULL"));
    while (atts.step()) {
      for (auto& a : decodeAttachments(atts.text(0))) used.insert(a.digest);
    }
    if (atts.failed()) return conn_.error("compact attachments");
    atts.reset();
    Statement digests(conn_.prepare("SELECT digest FROM attachments"));
    std::vector<std::string> unused;
    while (digests.step()) {
      std::string d(digests.text(0));
      if (!used.count(d)) unused.push_back(std::move(d));
    }
    if (digests.failed()) return conn_.error("compact attachments");
    digests.reset();
    Statement dropAtt(conn_.prepare("DELETE FROM attachments WHERE digest = ?"));
    for (auto& d : unused) {
      dropAtt.bind(1, std::string_view(d));
      if (!dropAtt.exec()) return conn_.error("compact attachments");
      dropAtt.reset();
    }
    if (Status st = txn.commit(); !st) return st;
  }
  (void)conn_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return conn_.exec("VACUUM");
}

}  // namespace settee::db
