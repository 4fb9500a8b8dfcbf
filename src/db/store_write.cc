// Writes: interactive edits, replicated histories, attachments, conflict resolution, revs_diff.
#include <set>

#include "db/crypto.h"
#include "db/json.h"
#include "db/metrics.h"
#include "db/rev_hash.h"
#include "db/rev_tree_codec.h"
#include "db/store.h"

namespace settee::db {
namespace {

// Attachment bodies from a ByteSource are digested and copied in pieces of this size: memory per write.
constexpr uint64_t kAttachmentPiece = 256 * 1024;

}  // namespace

WriteOp Store::parse(std::string_view json, std::string_view id, bool local) {
  WriteOp op;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root)) {
    op.doc = badRequest(err == simdjson::UTF8_ERROR ? "Invalid UTF-8 in JSON" : "Invalid JSON");
    return op;
  }
  op.doc = parseDocument(root, local);
  // A `_local/` document named by the body alone (`id`, from a URL, wins over the body's `_id`): parsed
  // again to keep its `_rev` as the text "0-N" (the first parse checked that CouchDB would take it).
  if (!local && id.empty() && op.doc && op.doc->id.substr(0, 7) == "_local/")
    op.doc = parseDocument(root, true);
  // As CouchDB counts max_document_size: the body, not its attachments (inline base64 included), which
  // a replicator or a multipart PUT may carry in any size.
  if (op.doc && json.size() > options_.maxDocumentSize && op.doc->body.size() > options_.maxDocumentSize) {
    op.doc = Status(ErrorCode::TooLarge, "Document exceeds the maximum document size");
    return op;
  }
  if (op.doc && !id.empty()) {
    op.doc->id.assign(id);
    if (!local) {
      if (Status st = validateDocId(id); !st) op.doc = st;
    }
  }
  return op;
}

Result<Store::DocRow> Store::loadDoc(std::string_view id) {
  DocRow row;
  Statement get(conn_.prepare("SELECT seq, acked_by, failed_by, tree FROM docs WHERE id = ?"));
  get.bind(1, id);
  if (get.step()) {
    auto tree = decodeRevTree(get.blob(3));
    if (!tree) return Status(ErrorCode::Internal, "corrupt revision tree for " + std::string(id));
    row.exists = true;
    row.seq = static_cast<uint64_t>(get.int64(0));
    row.tree = std::move(*tree);
    row.conflicted = hasConflict(row.tree);
    row.ackedBy = static_cast<uint64_t>(get.int64(1));
    row.failedBy = static_cast<uint64_t>(get.int64(2));
  } else if (get.failed()) {
    return conn_.error("read document");
  }
  return row;
}

Status Store::saveDoc(std::string_view id, DocRow& row, bool wasDeleted, const WrittenRev* written) {
  const bool existed = row.exists;
  uint64_t ackedBy = 0;
  if (Status st = keepSyncState(id, &row.tree, row, &ackedBy); !st) return st;
  thread_local std::string blob;
  encodeRevTree(row.tree, blob);
  bool deleted = row.tree.deleted();
  uint64_t seq = ++updateSeq_;
  if (row.exists) {
    Statement up(conn_.prepare(
        "UPDATE docs SET seq = ?, deleted = ?, tree = ?, acked_by = ?, failed_by = 0 WHERE seq = ?"));
    up.bind(1, seq).bind(2, deleted).bindBlob(3, blob).bind(4, ackedBy).bind(5, row.seq);
    if (!up.exec()) return conn_.error("update document");
    (wasDeleted ? docDelCount_ : docCount_)--;
  } else {
    Statement ins(conn_.prepare("INSERT INTO docs(seq, id, deleted, tree, acked_by) VALUES(?, ?, ?, ?, ?)"));
    ins.bind(1, seq).bind(2, id).bind(3, deleted).bindBlob(4, blob).bind(5, ackedBy);
    if (!ins.exec()) return conn_.error("insert document");
  }
  (deleted ? docDelCount_ : docCount_)++;
  row.exists = true;
  row.seq = seq;
  row.ackedBy = ackedBy;
  row.failedBy = 0;
  return keepIndexes(id, &row.tree, existed, written);
}

bool Store::loadRev(std::string_view id, std::string_view rev, std::string& body, std::string& atts,
                    Status* readError) {
  Statement get(conn_.prepare("SELECT body, atts FROM revs WHERE doc_id = ? AND rev = ?"));
  get.bind(1, id).bind(2, rev);
  if (!get.step()) {
    if (get.failed() && readError) *readError = conn_.error("read revision");
    return false;
  }
  body.assign(get.blob(0));
  atts.assign(get.text(1));
  return true;
}

Status Store::resolveAttachments(ParsedDoc& doc, std::vector<AttachmentBody>& bodies, const DocRow& row,
                                 int parentIndex, uint64_t newGen, std::vector<AttachmentInfo>& out) {
  size_t nextFollows = 0;
  // Attachments of stored ancestors, nearest first, read once and only if a stub needs them.
  std::vector<std::vector<AttachmentInfo>> ancestorAtts;
  bool ancestorsLoaded = false;
  for (AttachmentIn& att : doc.attachments) {
    AttachmentInfo info = att.info;
    if (att.kind == AttachmentIn::Kind::Stub) {
      if (!ancestorsLoaded && parentIndex >= 0) {
        std::string body, atts;
        for (int i : row.tree.ancestry(parentIndex)) {
          // A failed read is a storage error, not a missing stub: SQLite may have rolled the whole
          // transaction back with it, and the write must stop here.
          Status readError;
          if (row.tree[i].hasBody && loadRev(doc.id, row.tree[i].rev(), body, atts, &readError))
            ancestorAtts.push_back(decodeAttachments(atts));
          if (!readError) return readError;
        }
      }
      ancestorsLoaded = true;
      const AttachmentInfo* found = nullptr;
      for (auto& list : ancestorAtts) {
        for (auto& stored : list) {
          if (stored.name == info.name && (info.digest.empty() || info.digest == stored.digest)) {
            found = &stored;
            break;
          }
        }
        if (found) break;
      }
      // A stub that gives its revpos must name the attachment as stored, as CouchDB's merge_stubs checks
      // (a stub without one, revpos 0 here, matches by name alone).
      if (!found || (info.revpos != 0 && info.revpos != found->revpos))
        return {ErrorCode::MissingStub, "Invalid attachment stub in " + doc.id + " for " + info.name};
      out.push_back(*found);
      continue;
    }
    std::string data;
    if (att.kind == AttachmentIn::Kind::Inline) {
      data = std::move(att.data);
    } else {
      auto it = std::find_if(bodies.begin(), bodies.end(), [&](auto& b) { return b.name == info.name; });
      if (it == bodies.end() && nextFollows < bodies.size() && bodies[nextFollows].name.empty())
        it = bodies.begin() + static_cast<long>(nextFollows);
      if (it == bodies.end()) return badRequest("Missing body for attachment " + info.name);
      ++nextFollows;
      if (it->source) {
        if (Status st = storeAttachmentFrom(*it->source, info); !st) return st;
        if (info.revpos == 0 || info.revpos > newGen) info.revpos = newGen;
        out.push_back(std::move(info));
        continue;
      }
      data = std::move(it->data);
    }
    if (!info.encoding.empty()) {
      info.encodedLength = data.size();
      if (info.length == 0) info.length = data.size();
    } else {
      info.length = data.size();
      info.encodedLength = 0;
    }
    info.digest = md5Digest(data);
    if (info.revpos == 0 || info.revpos > newGen) info.revpos = newGen;
    Statement put(conn_.prepare("INSERT OR IGNORE INTO attachments(digest, data) VALUES(?, ?)"));
    put.bind(1, std::string_view(info.digest)).bindBlob(2, data);
    if (!put.exec()) return conn_.error("store attachment");
    out.push_back(std::move(info));
  }
  return Status::ok();
}

Status Store::storeAttachmentFrom(const ByteSource& source, AttachmentInfo& info) {
  const uint64_t size = source.size();
  if (size > static_cast<uint64_t>(INT32_MAX)) return {ErrorCode::TooLarge, "Attachment " + info.name + " is over 2 GiB"};
  std::string piece(std::min<uint64_t>(size, kAttachmentPiece), '\0');
  // Reads the whole source once, handing each piece to `use`; the bytes' digest.
  auto pass = [&](const std::function<Status(std::string_view, uint64_t)>& use) -> Result<std::string> {
    Md5 md5;
    for (uint64_t at = 0; at < size;) {
      auto got = source.read(at, piece.data(), static_cast<size_t>(std::min<uint64_t>(piece.size(), size - at)));
      if (!got) return Status(got.status().code() == ErrorCode::Internal ? ErrorCode::Internal : ErrorCode::BadRequest,
                              "Attachment " + info.name + ": " + got.status().reason());
      if (*got == 0) return badRequest("Attachment " + info.name + " is shorter than its length");
      std::string_view bytes(piece.data(), *got);
      md5.update(bytes);
      if (use) {
        if (Status st = use(bytes, at); !st) return st;
      }
      at += *got;
    }
    return md5.finishDigest();
  };
  // First the digest: a body already stored (attachments are kept once per digest) is not written again.
  auto digest = pass(nullptr);
  if (!digest) return digest.status();
  info.digest = *digest;
  if (!info.encoding.empty()) {
    info.encodedLength = size;
    if (info.length == 0) info.length = size;
  } else {
    info.length = size;
    info.encodedLength = 0;
  }
  Statement put(conn_.prepare("INSERT OR IGNORE INTO attachments(digest, data) VALUES(?, zeroblob(?))"));
  put.bind(1, std::string_view(info.digest)).bind(2, size);
  if (!put.exec()) return conn_.error("store attachment");
  put.reset();
  if (sqlite3_changes(conn_.handle()) == 0) return Status::ok();
  // Then the bytes, piece by piece into the zero-filled blob: memory holds one piece, not the body.
  const sqlite3_int64 rowid = sqlite3_last_insert_rowid(conn_.handle());
  sqlite3_blob* blob = nullptr;
  if (sqlite3_blob_open(conn_.handle(), "main", "attachments", "data", rowid, 1, &blob) != SQLITE_OK) {
    sqlite3_blob_close(blob);
    return conn_.error("open attachment for writing");
  }
  auto again = pass([&](std::string_view bytes, uint64_t at) -> Status {
    if (sqlite3_blob_write(blob, bytes.data(), static_cast<int>(bytes.size()), static_cast<int>(at)) != SQLITE_OK)
      return conn_.error("write attachment");
    return Status::ok();
  });
  sqlite3_blob_close(blob);
  Status st = !again ? again.status()
              : *again != info.digest  // the source changed between the passes: the row is not what its digest names
                  ? Status(ErrorCode::Internal, "Attachment " + info.name + " changed while it was stored")
                  : Status::ok();
  if (!st) {
    // No row may keep a digest its bytes do not have: a later write would trust and reuse it.
    Statement drop(conn_.prepare("DELETE FROM attachments WHERE rowid = ?"));
    drop.bind(1, static_cast<int64_t>(rowid));
    if (!drop.exec()) return conn_.error("drop a half-written attachment");
  }
  return st;
}

DocResult Store::writeOne(WriteOp& op, bool newEdits) {
  if (!op.doc) return {"", "", op.doc.status()};
  ParsedDoc& doc = *op.doc;
  if (doc.id.empty()) {
    if (!newEdits) return {"", "", badRequest("Document id is required with new_edits=false")};
    doc.id = randomHex(16);
  }
  if (doc.id.substr(0, 7) == "_local/") return writeLocal(doc);
  if (doc.unmatchableRev) {
    // No tree holds such a revision: an edit of it conflicts, and a replicated one cannot be stored.
    return {doc.id, "", newEdits ? conflict() : badRequest("Invalid rev format")};
  }
  auto loaded = loadDoc(doc.id);
  if (!loaded) return {doc.id, "", loaded.status()};
  DocRow& row = *loaded;
  RevTree& tree = row.tree;
  if (op.mustBeLive && (!row.exists || tree.deleted()))
    return {doc.id, "", notFound(row.exists ? "deleted" : "missing")};
  bool wasDeleted = row.exists && tree.deleted();
  std::vector<AttachmentInfo> atts;
  int index = -1;
  bool wasNew = true;  // the revision was not in the tree before this write

  if (newEdits) {
    int parent = -1;
    if (doc.rev) {
      parent = tree.find(doc.rev->gen, doc.rev->hash);
      if (parent < 0 || !tree.isLeaf(parent)) return {doc.id, "", conflict()};
    } else if (!tree.empty()) {
      if (!tree.deleted()) return {doc.id, "", conflict()};
      parent = tree.winner();  // re-creating a deleted document extends its tombstone
    }
    uint64_t gen = parent < 0 ? 1 : tree[parent].gen + 1;
    if (Status st = resolveAttachments(doc, op.bodies, row, parent, gen, atts); !st) return {doc.id, "", st};
    RevParent from;
    if (parent >= 0) from = {true, tree[parent].gen, tree[parent].hash};
    std::string hash = couchRevHash(doc.deleted, from, doc.body, atts);
    if (tree.find(gen, hash) >= 0) return {doc.id, "", conflict()};
    index = tree.addChild(parent, std::move(hash), doc.deleted);
  } else {
    if (!doc.rev) return {doc.id, "", badRequest("_rev is required with new_edits=false")};
    std::vector<std::string> ids = doc.revisionIds;
    uint64_t start = doc.revisionsStart;
    if (ids.empty()) {
      ids.push_back(doc.rev->hash);
      start = doc.rev->gen;
    }
    auto merged = tree.merge(start, ids, doc.deleted);
    index = merged.leaf;
    wasNew = merged.added;
    // Nothing new, and the revision's body is already stored: a repeated replication is a no-op.
    if (!merged.added && tree[index].hasBody) return {doc.id, doc.rev->str(), Status::ok()};
    if (Status st = resolveAttachments(doc, op.bodies, row, tree[index].parent, tree[index].gen, atts); !st)
      return {doc.id, "", st};
  }

  tree.markBodyStored(index);
  std::string rev = tree[index].rev();
  // A revision already in the tree whose body was missing gets it now: REPLACE only then.
  Statement put(conn_.prepare(!wasNew ? "INSERT OR REPLACE INTO revs(doc_id, rev, atts, body) VALUES(?, ?, ?, ?)"
                                                      : "INSERT INTO revs(doc_id, rev, atts, body) VALUES(?, ?, ?, ?)"));
  std::string attsJson = atts.empty() ? std::string() : encodeAttachments(atts);
  put.bind(1, std::string_view(doc.id)).bind(2, std::string_view(rev)).bindBlob(4, doc.body);
  if (atts.empty()) put.bindNull(3); else put.bind(3, std::string_view(attsJson));
  if (!put.exec()) return {doc.id, "", conn_.error("write revision")};
  put.reset();

  std::vector<std::string> stemmed = tree.stem(revsLimit_);
  if (!stemmed.empty()) {
    Statement drop(conn_.prepare("DELETE FROM revs WHERE doc_id = ? AND rev = ?"));
    for (auto& r : stemmed) {
      drop.bind(1, std::string_view(doc.id)).bind(2, std::string_view(r));
      if (!drop.exec()) return {doc.id, "", conn_.error("stem revisions")};
      drop.reset();
    }
  }
  const WrittenRev written{rev, doc.body};
  if (Status st = saveDoc(doc.id, row, wasDeleted, &written); !st) return {doc.id, "", st};
  return {doc.id, rev, Status::ok()};
}

std::vector<DocResult> Store::write(std::vector<WriteOp>& ops, bool newEdits, std::string_view originPeer) {
  std::vector<DocResult> results;
  results.reserve(ops.size());
  bool anyWritten = false;
  {
    std::lock_guard lock(mu_);
    dropIdleBlobReaders();
    const uint64_t seq0 = updateSeq_, count0 = docCount_, del0 = docDelCount_;
    auto failAll = [&](const Status& st) {
      updateSeq_ = seq0;
      docCount_ = count0;
      docDelCount_ = del0;
      for (auto& r : results) r.status = st;
      while (results.size() < ops.size()) results.push_back({"", "", st});
    };
    Transaction txn(conn_);
    if (Status st = txn.begun(); !st) {
      failAll(st);
      return results;
    }
    // Read by saveDoc() for every document of this batch; reset however the write ends.
    syncOrigin_ = originPeer;
    struct ResetOrigin {
      std::string_view& origin;
      ~ResetOrigin() { origin = {}; }
    } resetOrigin{syncOrigin_};
    for (auto& op : ops) {
      results.push_back(writeOne(op, newEdits));
      // SQLite rolls the whole transaction back on some errors (I/O, disk full) even when the statement
      // that met one was only a read: a statement after that would commit on its own. So a document's
      // failure that ended the transaction fails the batch whatever its code.
      if (results.back().status.code() == ErrorCode::Internal || !txn.active()) {
        Status st = results.back().status.code() == ErrorCode::Internal
                        ? results.back().status
                        : Status(ErrorCode::Internal, "storage error: the transaction was rolled back");
        failAll(st);
        return results;
      }
    }
    anyWritten = updateSeq_ != seq0;
    Status st = anyWritten ? persistCounters() : Status::ok();
    if (st) st = txn.commit();
    if (!st) {
      failAll(st);
      return results;
    }
    metrics::count("couchdb.document_writes", updateSeq_ - seq0);  // each document written took one seq
  }
  if (anyWritten) notify();
  return results;
}

Result<std::vector<std::pair<std::string, std::vector<std::string>>>> Store::purge(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& revs) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  {
    std::lock_guard lock(mu_);
    const uint64_t seq0 = updateSeq_, count0 = docCount_, del0 = docDelCount_, purge0 = purgeSeq_;
    auto fail = [&](Status st) {
      updateSeq_ = seq0, docCount_ = count0, docDelCount_ = del0, purgeSeq_ = purge0;
      return st;
    };
    Transaction txn(conn_);
    if (Status st = txn.begun(); !st) return st;
    Statement drop(conn_.prepare("DELETE FROM revs WHERE doc_id = ? AND rev = ?"));
    for (const auto& [id, list] : revs) {
      auto loaded = loadDoc(id);
      if (!loaded) return fail(loaded.status());
      std::vector<std::string> purged;
      if (!loaded->exists) {
        out.emplace_back(id, purged);
        continue;
      }
      DocRow& row = *loaded;
      bool wasDeleted = row.tree.deleted();
      for (const auto& rev : list) {
        auto removed = row.tree.purgeLeaf(row.tree.find(rev));
        if (removed.empty()) continue;
        purged.push_back(rev);
        for (const auto& r : removed) {
          drop.bind(1, std::string_view(id)).bind(2, std::string_view(r));
          if (!drop.exec()) return fail(conn_.error("purge"));
          drop.reset();
        }
      }
      if (!purged.empty()) {
        ++purgeSeq_;
        if (row.tree.empty()) {
          Statement del(conn_.prepare("DELETE FROM docs WHERE seq = ?"));
          del.bind(1, row.seq);
          if (!del.exec()) return fail(conn_.error("purge"));
          (wasDeleted ? docDelCount_ : docCount_)--;
          if (Status st = keepIndexes(id, nullptr, true); !st) return fail(st);
          if (Status st = keepSyncState(id, nullptr, row, nullptr); !st) return fail(st);
        } else if (Status st = saveDoc(id, row, wasDeleted); !st) {
          return fail(st);
        }
      }
      out.emplace_back(id, std::move(purged));
    }
    Status st = persistCounters();
    if (st) st = txn.commit();
    if (!st) return fail(st);
  }
  notify();
  return out;
}

uint64_t Store::purgeSeq() {
  std::lock_guard lock(mu_);
  return purgeSeq_;
}

Result<std::vector<RevsDiffEntry>> Store::revsDiff(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& revs) {
  std::vector<RevsDiffEntry> out;
  std::lock_guard lock(mu_);
  for (const auto& [id, list] : revs) {
    auto loaded = loadDoc(id);
    if (!loaded) return loaded.status();  // a tree that cannot be read is not an empty one
    const RevTree& tree = loaded->tree;
    RevsDiffEntry entry{id, {}, {}};
    uint64_t maxMissingGen = 0;
    std::set<std::string> seen;
    for (const auto& rev : list) {
      if (!seen.insert(rev).second) continue;
      auto parsed = RevId::parse(rev);
      if (parsed && tree.find(parsed->gen, parsed->hash) >= 0) continue;
      entry.missing.push_back(rev);
      if (parsed) maxMissingGen = std::max(maxMissingGen, parsed->gen);
    }
    if (entry.missing.empty()) continue;
    for (int leaf : tree.leavesByPriority()) {
      if (tree[leaf].gen < maxMissingGen) entry.possibleAncestors.push_back(tree[leaf].rev());
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace settee::db
