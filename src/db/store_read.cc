// Reads: documents with their tree views, open revisions, attachments, the changes feed, all_docs.
#include <algorithm>
#include <set>

#include "db/crypto.h"
#include "db/json.h"
#include "db/metrics.h"
#include "db/rev_tree_codec.h"
#include "db/store.h"

namespace settee::db {
namespace {

// Appends the members of the JSON object `body` to the object `head` (both minified, valid objects).
// Both were written by RapidJSON, so joining their member lists needs no escaping.
void mergeObjects(std::string& head, std::string_view body) {
  if (body.size() <= 2) return;
  head.pop_back();  // '}'
  head.push_back(',');
  head.append(body.substr(1));
}

// A tree BLOB that does not decode: the file was damaged or written by something else. Reported, never
// skipped, so a feed or a listing never silently leaves a document out.
Status corruptTree(std::string_view id) {
  return {ErrorCode::Internal, "corrupt revision tree for " + std::string(id)};
}

void writeRevsInfo(JsonWriter& w, const RevTree& tree, const std::vector<int>& path) {
  writeKey(w, "_revs_info");
  w.StartArray();
  for (int i : path) {
    w.StartObject();
    writeKey(w, "rev");
    writeString(w, tree[i].rev());
    writeKey(w, "status");
    writeString(w, tree[i].deleted ? "deleted" : tree[i].hasBody ? "available" : "missing");
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

Status Store::renderDoc(std::string_view id, const RevTree& tree, int index, const ReadOptions& options,
                        std::string& out, uint64_t seq, std::vector<Attachment>* follows, FollowMode mode) {
  std::string body, attsJson;
  const RevNode& node = tree[index];
  if (!node.hasBody || !loadRev(id, node.rev(), body, attsJson)) return notFound("missing");
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "_id");
  writeString(w, id);
  writeKey(w, "_rev");
  writeString(w, node.rev());
  if (node.deleted) {
    writeKey(w, "_deleted");
    w.Bool(true);
  }
  if (!attsJson.empty()) {
    uint64_t sincePos = 0;
    for (const auto& rev : options.attsSince) {
      int i = tree.find(rev);
      if (i >= 0) sincePos = std::max(sincePos, tree[i].gen);
    }
    writeKey(w, "_attachments");
    w.StartObject();
    for (const auto& a : decodeAttachments(attsJson)) {
      writeKey(w, a.name);
      w.StartObject();
      writeKey(w, "content_type");
      writeString(w, a.contentType);
      writeKey(w, "digest");
      writeString(w, a.digest);
      writeKey(w, "length");
      w.Uint64(a.length);
      writeKey(w, "revpos");
      w.Uint64(a.revpos);
      bool inlineData = options.attachments && a.revpos > sincePos;
      if (!a.encoding.empty() && (options.attEncodingInfo || inlineData)) {
        writeKey(w, "encoding");
        writeString(w, a.encoding);
        writeKey(w, "encoded_length");
        w.Uint64(a.encodedLength);
      }
      if (inlineData) {
        const bool reference = follows && mode == FollowMode::Reference;
        Statement get(conn_.prepare(reference ? "SELECT length(data) FROM attachments WHERE digest = ?"
                                              : "SELECT data FROM attachments WHERE digest = ?"));
        get.bind(1, std::string_view(a.digest));
        if (!get.step()) return {ErrorCode::Internal, "attachment body missing for " + a.name};
        if (follows) {
          writeKey(w, "follows");
          w.Bool(true);
          Attachment att{a.name, a.contentType, a.digest, a.encoding, a.length, a.revpos, {}, 0};
          if (reference) {
            att.storedLength = static_cast<uint64_t>(get.int64(0));
          } else {
            att.data = std::string(get.blob(0));
            att.storedLength = att.data.size();
          }
          follows->push_back(std::move(att));
        } else {
          writeKey(w, "data");
          writeString(w, base64Encode(get.blob(0)));
        }
      } else {
        writeKey(w, "stub");
        w.Bool(true);
      }
      w.EndObject();
    }
    w.EndObject();
  }
  if (options.conflicts || options.deletedConflicts) {
    int winner = tree.winner();
    std::vector<std::string> live, dead;
    for (int leaf : tree.leavesByPriority()) {
      if (leaf == winner) continue;
      (tree[leaf].deleted ? dead : live).push_back(tree[leaf].rev());
    }
    if (options.conflicts && !live.empty()) {
      writeKey(w, "_conflicts");
      w.StartArray();
      for (auto& r : live) writeString(w, r);
      w.EndArray();
    }
    if (options.deletedConflicts && !dead.empty()) {
      writeKey(w, "_deleted_conflicts");
      w.StartArray();
      for (auto& r : dead) writeString(w, r);
      w.EndArray();
    }
  }
  if (options.localSeq) {
    writeKey(w, "_local_seq");
    w.Uint64(seq);
  }
  if (options.revs || options.revsInfo) {
    std::vector<int> path = tree.ancestry(index);
    if (options.revs) {
      writeKey(w, "_revisions");
      w.StartObject();
      writeKey(w, "start");
      w.Uint64(node.gen);
      writeKey(w, "ids");
      w.StartArray();
      for (int i : path) writeString(w, tree[i].hash);
      w.EndArray();
      w.EndObject();
    }
    if (options.revsInfo) writeRevsInfo(w, tree, path);
  }
  w.EndObject();
  out.assign(bufferView(buf));
  mergeObjects(out, body);
  return Status::ok();
}

Result<std::string> Store::get(std::string_view id, const ReadOptions& options, std::vector<Attachment>* follows,
                               FollowMode mode, std::string* rev) {
  if (id.substr(0, 7) == "_local/") return getLocal(id);
  metrics::count("couchdb.database_reads");
  std::lock_guard lock(mu_);
  auto row = loadDoc(id);
  if (!row) return row.status();
  if (!row->exists) return notFound("missing");
  const RevTree& tree = row->tree;
  int index;
  if (options.rev.empty()) {
    index = tree.winner();
    if (tree.deleted()) return notFound("deleted");
  } else {
    index = tree.find(options.rev);
    if (index < 0) return notFound("missing");
  }
  std::string out;
  if (Status st = renderDoc(id, tree, index, options, out, row->seq, follows, mode); !st) return st;
  if (rev) *rev = tree[index].rev();
  return out;
}

Result<RevTree> Store::tree(std::string_view id) {
  std::lock_guard lock(mu_);
  auto row = loadDoc(id);
  if (!row) return row.status();
  if (!row->exists) return notFound("missing");
  return std::move(row->tree);
}

Result<std::vector<OpenRev>> Store::getOpenRevs(std::string_view id, const std::vector<std::string>& revs,
                                                const ReadOptions& options,
                                                std::vector<std::vector<Attachment>>* follows, FollowMode mode) {
  metrics::count("couchdb.database_reads");
  std::lock_guard lock(mu_);
  auto row = loadDoc(id);
  if (!row) return row.status();
  const RevTree& tree = row->tree;
  if (!row->exists && revs.empty()) return notFound("missing");
  std::vector<OpenRev> out;
  std::set<int> done;
  auto render = [&](int index) -> Status {
    if (!done.insert(index).second) return Status::ok();
    OpenRev entry{tree[index].rev(), true, {}};
    std::vector<Attachment> bodies;
    Status st = renderDoc(id, tree, index, options, entry.json, row->seq, follows ? &bodies : nullptr, mode);
    if (st.code() == ErrorCode::NotFound) {
      entry.found = false;
      bodies.clear();
    } else if (!st) {
      return st;
    }
    out.push_back(std::move(entry));
    if (follows) follows->push_back(std::move(bodies));
    return Status::ok();
  };
  if (revs.empty()) {
    for (int leaf : tree.leavesByPriority()) {
      if (Status st = render(leaf); !st) return st;
    }
    return out;
  }
  for (const auto& rev : revs) {
    int index = tree.find(rev);
    if (index < 0) {
      out.push_back({rev, false, {}});
      if (follows) follows->emplace_back();
      continue;
    }
    if (options.latest) {
      for (int leaf : tree.leavesUnder(index)) {
        if (Status st = render(leaf); !st) return st;
      }
    } else if (Status st = render(index); !st) {
      return st;
    }
  }
  return out;
}

Result<Attachment> Store::getAttachment(std::string_view docId, std::string_view name, std::string_view rev) {
  std::lock_guard lock(mu_);
  auto row = loadDoc(docId);
  if (!row) return row.status();
  if (!row->exists) return notFound("Document is missing attachment");
  const RevTree& tree = row->tree;
  int index = rev.empty() ? tree.winner() : tree.find(rev);
  if (index < 0 || (rev.empty() && tree.deleted())) return notFound("Document is missing attachment");
  std::string body, atts;
  if (!loadRev(docId, tree[index].rev(), body, atts)) return notFound("Document is missing attachment");
  for (auto& info : decodeAttachments(atts)) {
    if (info.name != name) continue;
    Statement get(conn_.prepare("SELECT data FROM attachments WHERE digest = ?"));
    get.bind(1, std::string_view(info.digest));
    if (!get.step()) return Status(ErrorCode::Internal, "attachment body missing");
    Attachment att{info.name, info.contentType, info.digest, info.encoding, info.length, info.revpos,
                   std::string(get.blob(0)), 0};
    att.storedLength = att.data.size();
    return att;
  }
  return notFound("Document is missing attachment");
}

Result<size_t> Store::readAttachment(std::string_view digest, uint64_t offset, char* buf, size_t n) {
  std::lock_guard lock(mu_);
  dropIdleBlobReaders();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto it = std::find_if(blobReaders_.begin(), blobReaders_.end(), [&](const BlobReader& r) { return r.digest == digest; });
    if (it == blobReaders_.end()) {
      Statement find(conn_.prepare("SELECT rowid, length(data) FROM attachments WHERE digest = ?"));
      find.bind(1, digest);
      if (!find.step()) return notFound("attachment " + std::string(digest) + " is gone");
      BlobReader r{std::string(digest), nullptr, static_cast<uint64_t>(find.int64(1)), std::chrono::steady_clock::now()};
      const int64_t rowid = find.int64(0);
      find.reset();
      if (sqlite3_blob_open(conn_.handle(), "main", "attachments", "data", rowid, 0, &r.blob) != SQLITE_OK) {
        sqlite3_blob_close(r.blob);
        return conn_.error("open attachment");
      }
      if (blobReaders_.size() == kBlobReaders) {
        sqlite3_blob_close(blobReaders_.front().blob);
        blobReaders_.erase(blobReaders_.begin());
      }
      blobReaders_.push_back(std::move(r));
      it = blobReaders_.end() - 1;
    }
    const uint64_t size = it->size;
    if (offset >= size || n == 0) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, size - offset));
    if (n > static_cast<size_t>(INT32_MAX) || offset > static_cast<uint64_t>(INT32_MAX))
      return Status(ErrorCode::Internal, "attachment offset past 2 GiB");
    it->lastUse = std::chrono::steady_clock::now();
    int rc = sqlite3_blob_read(it->blob, buf, static_cast<int>(n), static_cast<int>(offset));
    // Done with this body (read to its end), or its handle expired (the row changed): let it go.
    if (rc != SQLITE_OK || offset + n == size) {
      sqlite3_blob_close(it->blob);
      blobReaders_.erase(it);
    }
    if (rc == SQLITE_OK) return n;
    if (rc != SQLITE_ABORT) return conn_.error("read attachment");
  }
  return notFound("attachment " + std::string(digest) + " is gone");
}

Result<uint64_t> Store::changes(const ChangesOptions& options,
                                const std::function<bool(const Change&)>& row) {
  std::lock_guard lock(mu_);
  Statement scan(conn_.prepare(options.descending
                                   ? "SELECT seq, id, tree FROM docs WHERE seq > ? ORDER BY seq DESC LIMIT ?"
                                   : "SELECT seq, id, tree FROM docs WHERE seq > ? ORDER BY seq LIMIT ?"));
  // LIMIT -1 is SQLite's "no limit".
  int64_t limit = options.limit > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(options.limit);
  scan.bind(1, options.descending ? uint64_t{0} : options.since).bind(2, limit);
  uint64_t last = options.since;
  Change change;
  while (scan.step()) {
    auto tree = decodeRevTree(scan.blob(2));
    if (!tree) return corruptTree(scan.text(1));
    change.seq = static_cast<uint64_t>(scan.int64(0));
    change.id.assign(scan.text(1));
    change.revs.clear();
    auto leaves = tree->leavesByPriority();
    change.deleted = (*tree)[leaves.front()].deleted;
    for (int leaf : leaves) {
      change.revs.push_back((*tree)[leaf].rev());
      if (!options.allLeaves) break;
    }
    last = change.seq;
    if (!row(change)) return last;
  }
  if (scan.failed()) return conn_.error("read changes");
  return last;
}

Result<uint64_t> Store::allDocs(const AllDocsOptions& options,
                                const std::function<bool(const AllDocsRow&)>& row) {
  std::lock_guard lock(mu_);
  ReadOptions read;
  read.conflicts = options.conflicts;
  read.attachments = options.attachments;
  read.attEncodingInfo = options.attEncodingInfo;
  uint64_t skipped = 0, emitted = 0;
  AllDocsRow out;
  Status failed;
  // Applies skip/limit and renders the document; false stops the scan (or sets `failed`).
  auto emit = [&](std::string_view id, const RevTree* tree, uint64_t seq) {
    if (skipped < options.skip) {
      ++skipped;
      return true;
    }
    if (emitted >= options.limit) return false;
    ++emitted;
    out = AllDocsRow{std::string(id), {}, tree != nullptr, false, {}};
    if (tree) {
      int w = tree->winner();
      out.rev = (*tree)[w].rev();
      out.deleted = tree->deleted();
      if (options.includeDocs && !out.deleted) {
        // A winner without a stored body is answered without `doc`, as before; a storage error is not.
        Status st = renderDoc(id, *tree, w, read, out.doc, seq);
        if (!st && st.code() != ErrorCode::NotFound) {
          failed = std::move(st);
          return false;
        }
      }
    }
    return row(out);
  };
  if (options.keys) {
    for (const auto& key : *options.keys) {
      auto loaded = loadDoc(key);
      if (!loaded) return loaded.status();
      bool found = loaded->exists;
      if (!emit(key, found ? &loaded->tree : nullptr, found ? loaded->seq : 0)) break;
    }
    if (!failed) return failed;
    return docCount_;
  }
  // A missing bound is bound as a BLOB: SQLite orders every TEXT value before every BLOB, so an
  // empty blob is above all ids and "" below all of them.
  static const char* kSql[2][2] = {
      {"SELECT id, seq, tree FROM docs WHERE deleted = 0 AND id >= ?1 AND id < ?2 ORDER BY id",
       "SELECT id, seq, tree FROM docs WHERE deleted = 0 AND id >= ?1 AND id <= ?2 ORDER BY id"},
      {"SELECT id, seq, tree FROM docs WHERE deleted = 0 AND id <= ?1 AND id > ?2 ORDER BY id DESC",
       "SELECT id, seq, tree FROM docs WHERE deleted = 0 AND id <= ?1 AND id >= ?2 ORDER BY id DESC"}};
  Statement scan(conn_.prepare(kSql[options.descending][options.inclusiveEnd]));
  auto bindBound = [&](int i, const std::optional<std::string>& key, bool high) {
    if (key) scan.bind(i, std::string_view(*key));
    else if (high) scan.bindBlob(i, std::string_view("", 0));
    else scan.bind(i, std::string_view(""));
  };
  bindBound(1, options.startKey, options.descending);
  bindBound(2, options.endKey, !options.descending);
  while (scan.step()) {
    auto tree = decodeRevTree(scan.blob(2));
    if (!tree) return corruptTree(scan.text(0));
    if (!emit(scan.text(0), &*tree, static_cast<uint64_t>(scan.int64(1)))) {
      if (!failed) return failed;
      return docCount_;
    }
  }
  if (scan.failed()) return conn_.error("read all_docs");
  return docCount_;
}

}  // namespace settee::db
