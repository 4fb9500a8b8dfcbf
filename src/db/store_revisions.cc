// Reads of revisions as values (db::Revision) rather than rendered JSON: what the replicator copies.
// The body comes as stored, the path from the tree and the attachments from their stored infos, so a
// local source hands a local target a revision that nobody renders or parses on the way.
#include <algorithm>
#include <set>

#include "db/store.h"

namespace settee::db {

Status Store::loadRevision(std::string_view id, const RevTree& tree, int index, const ReadOptions& options,
                           FollowMode mode, Revision& out) {
  const RevNode& node = tree[index];
  std::string attsJson;
  Status readError;
  if (!node.hasBody || !loadRev(id, node.rev(), out.body, attsJson, &readError))
    return readError ? notFound("missing") : readError;
  out.id.assign(id);
  out.rev = RevId{node.gen, node.hash};
  out.deleted = node.deleted;
  if (options.revs) {
    out.revisionsStart = node.gen;
    for (int i : tree.ancestry(index)) out.revisionIds.push_back(tree[i].hash);
  }
  if (attsJson.empty()) return Status::ok();
  uint64_t sincePos = 0;
  for (const auto& rev : options.attsSince) {
    int i = tree.find(rev);
    if (i >= 0) sincePos = std::max(sincePos, tree[i].gen);
  }
  for (auto& info : decodeAttachments(attsJson)) {
    AttachmentIn att;
    att.info = std::move(info);
    if (options.attachments && att.info.revpos > sincePos) {
      if (mode == FollowMode::Reference) {
        att.kind = AttachmentIn::Kind::Follows;  // the caller reads the bytes by digest
      } else {
        Statement get(conn_.prepare("SELECT data FROM attachments WHERE digest = ?"));
        get.bind(1, std::string_view(att.info.digest));
        if (!get.step()) return {ErrorCode::Internal, "attachment body missing for " + att.info.name};
        att.kind = AttachmentIn::Kind::Inline;
        att.data.assign(get.blob(0));
      }
    }
    out.attachments.push_back(std::move(att));
  }
  return Status::ok();
}

Result<std::vector<Revision>> Store::getRevisions(std::string_view id, const std::vector<std::string>& revs,
                                                  const ReadOptions& options, FollowMode mode) {
  std::lock_guard lock(mu_);
  auto row = loadDoc(id);
  if (!row) return row.status();
  const RevTree& tree = row->tree;
  if (!row->exists && revs.empty()) return notFound("missing");
  std::vector<Revision> out;
  std::set<int> done;
  auto take = [&](int index) -> Status {
    if (!done.insert(index).second) return Status::ok();
    Revision r;
    Status st = loadRevision(id, tree, index, options, mode, r);
    if (st.code() == ErrorCode::NotFound) return Status::ok();
    if (!st) return st;
    out.push_back(std::move(r));
    return Status::ok();
  };
  if (revs.empty()) {
    for (int leaf : tree.leavesByPriority()) {
      if (Status st = take(leaf); !st) return st;
    }
    return out;
  }
  for (const auto& rev : revs) {
    int index = tree.find(rev);
    if (index < 0) continue;
    if (options.latest) {
      for (int leaf : tree.leavesUnder(index)) {
        if (Status st = take(leaf); !st) return st;
      }
    } else if (Status st = take(index); !st) {
      return st;
    }
  }
  return out;
}

WriteOp Store::prepare(Revision rev, std::vector<AttachmentBody> bodies) {
  WriteOp op;
  op.bodies = std::move(bodies);
  // As parse() counts max_document_size: the body, not its attachments.
  if (rev.body.size() > options_.maxDocumentSize) {
    op.doc = Status(ErrorCode::TooLarge, "Document exceeds the maximum document size");
    return op;
  }
  op.doc = std::move(rev);
  return op;
}

}  // namespace settee::db
