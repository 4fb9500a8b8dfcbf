// What a Sync tells the app: document events from the replications' outcomes, the conflicts its pulls
// bring and their resolution by the policy, and progress. All on the control thread (sync_impl.h).
//
// Conflicts are resolved here and not in the pull's onDocuments callback: that callback runs inside a
// batch of the pull, before its checkpoint, and a resolution is a write of its own (reading the leaves,
// perhaps their ancestor, a custom resolver of the app's): doing it there would hold up every batch by as
// many writes as it has conflicts. Queued, a batch costs the pull only the copy of its outcomes, and the
// resolution is an ordinary local write that the continuous push then carries to the peer.
#include "replicator/sync_impl.h"

namespace settee {

using repl::SyncRole;

void Sync::Impl::emit(const DocEvent& event) {
  if (docListener) docListener(event);
}

void Sync::Impl::onDocs(const DocsEvent& e) {
  const bool push = repl::isPush(e.role);
  for (const auto& o : e.outcomes) {
    if (!o.status) {
      // The large push passes every document the continuous push passed, refused ones too: one refusal
      // of one change is told once.
      if (push && !refusedSeen.insert(o.id + '\n' + o.seq).second) continue;
      if (push) {
        std::lock_guard lock(mu);
        ++progress.pushFailures;
      }
      emit({DocEventKind::Failed, o.id, o.revs.empty() ? std::string() : o.revs.front(), o.status});
      continue;
    }
    for (const auto& rev : o.revs) emit({push ? DocEventKind::Pushed : DocEventKind::Pulled, o.id, rev, {}});
    if (!push && !o.revs.empty() && queuedIds.insert(o.id).second)
      conflictQueue.emplace_back(o.id, o.revs.back());
  }
  progressDirty = true;
  if (repl::isContinuous(e.role)) checkIdle();  // a batch written while caught up: synced as of now
}

// Checks one pulled document for conflicts and applies the policy. A failure (the database's, or a policy
// that cannot decide) is the last error and an event; the document keeps its conflict, which the app can
// still list and resolve, and the sync goes on.
void Sync::Impl::resolveOne() {
  // Named members, not a structured binding: clang 14 (the fuzz build) cannot capture a binding in the
  // lambda below.
  const std::string id = std::move(conflictQueue.front().first);
  const std::string rev = std::move(conflictQueue.front().second);
  conflictQueue.pop_front();
  queuedIds.erase(id);
  auto fail = [&](const Status& why) {
    {
      std::lock_guard lock(mu);
      lastError = why;
    }
    emit({DocEventKind::ConflictResolved, id, {}, why});
    progressDirty = true;
  };
  auto leaves = db->conflicts(id);
  if (!leaves) return fail(leaves.status());
  if (leaves->empty()) return;
  emit({DocEventKind::ConflictDetected, id, rev, {}});
  if (options.policy.kind == ConflictPolicy::Kind::Keep) return;
  auto resolution = db->resolveConflict(id, options.policy);
  if (!resolution) return fail(resolution.status());
  if (resolution->resolved) emit({DocEventKind::ConflictResolved, id, resolution->rev, {}});
}

void Sync::Impl::refreshProgress() {
  uint64_t pushed = basePushed, pulled = basePulled, pending = 0;
  for (size_t i = 0; i < repl::kSyncRoles; ++i) {
    if (!reps[i]) continue;
    const auto role = static_cast<SyncRole>(i);
    const auto stats = reps[i]->stats();
    if (repl::isPush(role)) {
      pushed += stats.docsWritten;
    } else {
      pulled += stats.docsWritten;
      pending += stats.pending;
    }
  }
  std::lock_guard lock(mu);
  progress.docsPushed = pushed;
  progress.docsPulled = pulled;
  progress.pullPending = pending;
  rate.add(Clock::now(), pushed + pulled);
}

void Sync::Impl::notifyStatus() {
  refreshProgress();
  progressDirty = false;
  lastProgressNotice = Clock::now();
  if (statusListener) statusListener(snapshot());
}

// Progress is told at most every 250 ms (4 a second, enough for a live status line): a listener that
// redraws a screen should not be called for every batch of a fast replication.
void Sync::Impl::maybeNotifyProgress(bool force) {
  if (!progressDirty && !force) return;
  if (!force && Clock::now() < lastProgressNotice + std::chrono::milliseconds(250)) return;
  notifyStatus();
}

}  // namespace settee
