// Resolving a conflict by policy: what the store gives a policy to decide on (Store::conflictInput) and
// the read–decide–write loop of Database::resolveConflict. The decision itself is pure
// (conflict_policy.cc); the write is Store::resolveConflicts guarded by the leaves decided on.
#include <algorithm>
#include <map>

#include "db/conflict_policy.h"
#include "db/metrics.h"
#include "db/store.h"
#include "settee/database.h"

namespace settee {

namespace db {

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
    auto decision = db::decide(policy, *input);
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
