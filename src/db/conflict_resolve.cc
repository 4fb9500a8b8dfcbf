// Resolving a conflict: the store's write of a resolution (Store::resolveConflicts, guarded by the leaves
// decided on), what the store gives a policy to decide on (Store::conflictInput), and the
// read–decide–write loop of Database::resolveConflict. The decision itself is pure (conflict_policy.cc).
#include <algorithm>
#include <map>
#include <mutex>

#include "db/conflict_policy.h"
#include "db/metrics.h"
#include "db/store.h"
#include "settee/database.h"

namespace settee {

namespace db {

Result<DocResult> Store::resolveConflicts(std::string_view id, std::string_view winnerRev,
                                          std::optional<std::string_view> mergedJson,
                                          const std::vector<std::string>* expectedLeaves) {
  std::optional<WriteOp> merged;
  if (mergedJson) {
    merged = parse(*mergedJson, id);
    if (!merged->doc) return merged->doc.status();
  }
  DocResult result;
  {
    std::lock_guard lock(mu_);
    dropIdleBlobReaders();
    const uint64_t seq0 = updateSeq_, count0 = docCount_, del0 = docDelCount_;
    auto restore = [&] {
      updateSeq_ = seq0;
      docCount_ = count0;
      docDelCount_ = del0;
    };
    Transaction txn(conn_);
    if (Status st = txn.begun(); !st) return st;
    auto loaded = loadDoc(id);
    if (!loaded) return loaded.status();
    if (!loaded->exists) return notFound("missing");
    const RevTree& tree = loaded->tree;
    int keep = tree.find(winnerRev);
    if (keep < 0 || !tree.isLeaf(keep) || tree[keep].deleted) return conflict();
    if (expectedLeaves) {
      std::vector<std::string> live, expected(*expectedLeaves);
      for (int leaf : tree.leavesByPriority()) {
        if (!tree[leaf].deleted) live.push_back(tree[leaf].rev());
      }
      std::sort(live.begin(), live.end());
      std::sort(expected.begin(), expected.end());
      if (live != expected) return conflict();
    }
    for (int leaf : tree.leavesByPriority()) {
      if (leaf == keep || tree[leaf].deleted) continue;
      WriteOp del;
      ParsedDoc tomb;
      tomb.id.assign(id);
      tomb.rev = RevId{tree[leaf].gen, tree[leaf].hash};
      tomb.deleted = true;
      del.doc = std::move(tomb);
      DocResult r = writeOne(del, true);
      if (!r.status) {
        restore();
        return r.status;
      }
    }
    result = {std::string(id), std::string(winnerRev), Status::ok()};
    if (merged) {
      merged->doc->rev = RevId::parse(winnerRev);
      // A merge may keep an attachment only a losing branch has (conflict_policy.h): its stub names
      // nothing in the winner's ancestry, so it goes in with its stored bytes, found by digest, as an
      // attachment new to the winner's branch.
      std::vector<AttachmentInfo> ownAtts, otherAtts;
      bool attsRead = false;
      for (AttachmentIn& att : merged->doc->attachments) {
        if (att.kind != AttachmentIn::Kind::Stub || att.info.digest.empty()) continue;
        if (!attsRead) {
          attsRead = true;
          std::string body, atts;
          for (int leaf : tree.leavesByPriority()) {
            if (tree[leaf].deleted) continue;
            for (int i : tree.ancestry(leaf)) {
              Status readError;
              if (tree[i].hasBody && loadRev(id, tree[i].rev(), body, atts, &readError)) {
                for (auto& a : decodeAttachments(atts))
                  (leaf == keep ? ownAtts : otherAtts).push_back(std::move(a));
              }
              if (!readError) {
                restore();
                return readError;
              }
            }
          }
        }
        auto same = [&](const AttachmentInfo& a) {
          return a.name == att.info.name && a.digest == att.info.digest;
        };
        if (std::any_of(ownAtts.begin(), ownAtts.end(), same)) continue;
        auto found = std::find_if(otherAtts.begin(), otherAtts.end(), same);
        if (found == otherAtts.end()) continue;  // answered missing_stub by the write
        Statement get(conn_.prepare("SELECT data FROM attachments WHERE digest = ?"));
        get.bind(1, std::string_view(found->digest));
        if (!get.step()) continue;
        att.kind = AttachmentIn::Kind::Inline;
        att.data.assign(get.blob(0));
        att.info = *found;
        // New to this branch: its revpos becomes the new revision's generation, so a replicator never
        // takes it for something the peer's copy of the winner already has (atts_since).
        att.info.revpos = 0;
      }
      result = writeOne(*merged, true);
      if (!result.status) {
        restore();
        return result.status;
      }
    }
    Status st = persistCounters();
    if (st) st = txn.commit();
    if (!st) {
      restore();
      return st;
    }
  }
  notify();
  return result;
}

Result<ConflictInput> Store::conflictInput(std::string_view id) {
  std::lock_guard lock(mu_);
  auto row = loadDoc(id);
  if (!row) return row.status();
  if (!row->exists) return notFound("missing");
  const RevTree& tree = row->tree;
  ConflictInput input;
  input.id.assign(id);
  std::vector<int> live;
  for (int leaf : tree.leavesByPriority()) {
    if (!tree[leaf].deleted) live.push_back(leaf);
  }
  for (int leaf : live) {
    ConflictLeaf entry{tree[leaf].rev(), {}};
    Status st = renderDoc(id, tree, leaf, ReadOptions{}, entry.json, row->seq);
    // A live leaf always has its body; one that has not is a damaged file, not an absent document.
    if (st.code() == ErrorCode::NotFound) return Status(ErrorCode::Internal, "no body for leaf " + entry.rev);
    if (!st) return st;
    input.leaves.push_back(std::move(entry));
  }
  if (live.size() < 2) return input;

  // The deepest revision on every live leaf's path to its root. Paths are chains, so the common nodes
  // are a chain too and the deepest is the one of highest generation.
  std::map<int, size_t> onPaths;
  for (int leaf : live) {
    for (int node : tree.ancestry(leaf)) ++onPaths[node];
  }
  int ancestor = -1;
  for (const auto& [node, count] : onPaths) {
    if (count == live.size() && (ancestor < 0 || tree[node].gen > tree[ancestor].gen)) ancestor = node;
  }
  if (ancestor < 0) return input;
  input.ancestorRev = tree[ancestor].rev();
  if (tree[ancestor].hasBody) {
    std::string body;
    Status st = renderDoc(id, tree, ancestor, ReadOptions{}, body, row->seq);
    if (st) {
      input.ancestorJson = std::move(body);
    } else if (st.code() != ErrorCode::NotFound) {
      return st;
    }
  }
  return input;
}

}  // namespace db

namespace {
// How often the leaves may change under a resolution before it gives up: each retry means a write
// landed between reading the conflict and writing its resolution, which a few rounds outlast.
constexpr int kResolveAttempts = 5;

// A custom resolver is called one call at a time per document (settee/conflict.h) even when a sync and a
// node's service resolve in the same process: calls for one document take the same stripe.
std::mutex& resolverStripe(const Database* db, std::string_view id) {
  static std::mutex stripes[16];
  size_t h = std::hash<std::string_view>{}(id) ^ std::hash<const void*>{}(db);
  return stripes[h % 16];
}
}  // namespace

// conflicts_detected counts the conflicts a policy looked at (each call that found one, whatever the
// policy did); conflicts_resolved the resolutions written.
Result<ConflictResolution> Database::resolveConflict(std::string_view id, const ConflictPolicy& policy) {
  for (int attempt = 0; attempt < kResolveAttempts; ++attempt) {
    auto input = store_->conflictInput(id);
    if (!input) return input.status();
    ConflictResolution out;
    if (!input->leaves.empty()) out.rev = input->leaves.front().rev;
    if (input->leaves.size() < 2) return out;
    if (attempt == 0) metrics::count("settee.sync.conflicts_detected");
    std::unique_lock<std::mutex> oneCall;
    if (policy.kind == ConflictPolicy::Kind::Custom) oneCall = std::unique_lock(resolverStripe(this, id));
    auto decision = db::decide(policy, *input);
    if (oneCall) oneCall.unlock();
    if (!decision) return decision.status();
    if (decision->keep) return out;

    std::vector<std::string> expected;
    for (const auto& leaf : input->leaves) expected.push_back(leaf.rev);
    std::string winner = decision->winnerRev.empty() ? input->leaves.front().rev : decision->winnerRev;
    std::optional<std::string_view> merged;
    if (decision->mergedJson) merged = *decision->mergedJson;
    auto written = store_->resolveConflicts(id, winner, merged, &expected);
    if (!written && written.status().code() == ErrorCode::Conflict) continue;  // leaves changed: read again
    if (!written) return written.status();
    out.resolved = true;
    out.rev = written->rev;
    metrics::count("settee.sync.conflicts_resolved");
    // The tombstones written on the losers: the deleted leaves now under each. A failed read here
    // leaves the list empty; the resolution itself is committed.
    if (auto tree = store_->tree(id)) {
      for (const auto& rev : expected) {
        int index = tree->find(rev);
        if (rev == winner || index < 0) continue;
        for (int leaf : tree->leavesUnder(index)) {
          if ((*tree)[leaf].deleted) out.deleted.push_back((*tree)[leaf].rev());
        }
      }
    }
    return out;
  }
  return Status(ErrorCode::Conflict, "the leaves of " + std::string(id) + " kept changing during resolution");
}

}  // namespace settee
