// The Sync's state machine, run by its control thread (sync_impl.h):
//
//   Stopped -> Connecting -> Syncing <-> Idle -> ... -> Stopped
//                  ^            |          |
//                  |            v          v
//                  +------- Offline <------+   (a replication failed: back off; or told offline)
//
// One connection (session()) runs, in order: the priority pair (one-shot push and pull of the documents
// `prioritySelector` names, when set), then the continuous pair, and beside the continuous push, whenever
// it is caught up and left documents out for their attachments, the large push (one-shot, no limit) unless
// the network is metered. Connecting lasts until a replication has reached the peer; Idle is both
// continuous replications caught up with no large push running.
//
// Failures: every replication runs with retries = kSyncRequestRetries (one), so a request that fails
// twice ends it as Failed, and the backing off is the Sync's own: all the connection's replications stop,
// the state is Offline with the error, and nothing runs until a jittered delay (SyncBackoff) passes,
// networkChanged(true) or stop(). The one quick retry inside a replication (its Retrying state, a fraction
// of a second) is not shown as Offline: a peer that follows CouchDB keeps a longpoll feed with heartbeats
// open past its timeout, and the replicator ends such a feed at its deadline and asks again — routine,
// every timeout + 2.5 heartbeats of quiet, and no sign of a lost peer. (The HTTP client also re-sends once
// a request that met a stale pooled connection.)
#include <chrono>

#include "db/database_internal.h"
#include "db/metrics.h"
#include "replicator/sync_impl.h"

namespace settee {

using repl::SyncRole;

namespace {
uint64_t nowMicros() {
  return uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
}
size_t at(SyncRole role) { return static_cast<size_t>(role); }
}  // namespace

void Sync::Impl::setState(SyncState s) {
  {
    std::lock_guard lock(mu);
    if (state == s) return;
    state = s;
    if (s != SyncState::Offline) nextRetryMicros = 0;
  }
  notifyStatus();
}

// As setState, told even when the state is already `s`: start() shows the first state at once (so
// status() never says Stopped after start()), and the listener still hears it from here.
void Sync::Impl::enterState(SyncState s) {
  {
    std::lock_guard lock(mu);
    state = s;
    nextRetryMicros = 0;  // entered afresh: no try is due (told offline waits for the app's word)
  }
  notifyStatus();
}

bool Sync::Impl::pump(Clock::time_point deadline, const std::function<bool()>& done) {
  std::unique_lock lock(mu);
  for (;;) {
    if (done()) return true;
    if (!repEvents.empty() || !docsEvents.empty()) {
      auto reps = std::move(repEvents);
      auto docs = std::move(docsEvents);
      repEvents.clear();
      docsEvents.clear();
      lock.unlock();
      for (auto& d : docs) onDocs(d);
      for (auto& r : reps) onRepEvent(r);
      maybeNotifyProgress(false);
      lock.lock();
      continue;
    }
    if (!conflictQueue.empty()) {  // one at a time, so a command is never kept waiting for long
      lock.unlock();
      resolveOne();
      lock.lock();
      continue;
    }
    auto until = deadline;
    if (progressDirty) {
      const auto due = lastProgressNotice + std::chrono::milliseconds(250);
      if (Clock::now() >= due) {
        lock.unlock();
        maybeNotifyProgress(false);
        lock.lock();
        continue;
      }
      until = std::min(until, due);
    }
    if (Clock::now() >= deadline) return false;
    cv.wait_until(lock, until);
  }
}

void Sync::Impl::main() {
  for (;;) {
    bool offline;
    {
      std::lock_guard lock(mu);
      if (stopRequested) break;
      offline = !network;
      connectNow = false;
    }
    if (offline) {
      enterState(SyncState::Offline);
      pump(Clock::time_point::max(), [&] { return stopRequested || network; });
      continue;
    }
    if (session()) continue;  // stopped or told offline: the loop above says which
    backOff(failure);
  }
  stopAll();
  // What stopped replications said last is still told (pushed, pulled, failed documents).
  pump(Clock::now(), [&] { return repEvents.empty() && docsEvents.empty(); });
  maybeNotifyProgress(true);
  setState(SyncState::Stopped);
}

void Sync::Impl::backOff(const Status& why) {
  metrics::count("settee.sync.failed");
  const auto delay = backoff.next(rng);
  {
    std::lock_guard lock(mu);
    lastError = why;
    nextRetryMicros =
        nowMicros() + uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(delay).count());
    state = SyncState::Offline;
    connectNow = false;  // only a networkChanged(true) from now on cuts this wait short
  }
  notifyStatus();
  const bool cut = pump(Clock::now() + delay, [&] { return stopRequested || !network || connectNow; });
  if (cut) {
    std::lock_guard lock(mu);
    if (connectNow) backoff.reset();  // the app says the network is back: a fresh start
  }
}

bool Sync::Impl::session() {
  sessionStartMicros = nowMicros();
  failure = Status::ok();
  mainStarted = false;
  largeDue = options.largeAttachmentBytes > 0;
  skippedAtLarge = 0;
  repState.fill(ReplicationState::Stopped);
  enterState(SyncState::Connecting);
  if (!priorityPushSelector.empty()) {
    startRep(SyncRole::PriorityPush);
    startRep(SyncRole::PriorityPull);
  } else {
    startMain();
  }
  for (;;) {
    pump(Clock::time_point::max(), [&] { return stopRequested || !network || meteredChanged || !failure; });
    bool changed, quit, nowMetered;
    {
      std::lock_guard lock(mu);
      changed = meteredChanged;
      meteredChanged = false;
      quit = stopRequested || !network;
      nowMetered = metered;
    }
    if (quit || !failure) break;
    if (!changed) continue;
    if (nowMetered && reps[at(SyncRole::LargePush)]) {
      stopRep(SyncRole::LargePush);  // its checkpoint keeps what it sent; it goes on from there
      largeDue = true;
    }
    maybeStartLarge();
    checkIdle();
  }
  stopAll();
  return failure.isOk();
}

void Sync::Impl::startRep(SyncRole role) {
  const bool push = repl::isPush(role);
  ReplicationOptions o;
  o.continuous = repl::isContinuous(role);
  switch (role) {
    case SyncRole::PriorityPush:
      o.selector = priorityPushSelector;
      break;
    case SyncRole::PriorityPull:
      o.selector = priorityPullSelector;
      break;
    case SyncRole::Push:
    case SyncRole::LargePush:
      o.selector = pushSelector;
      break;
    case SyncRole::Pull:
      o.selector = pullSelector;
      break;
  }
  if (!push) o.docIds = options.pullDocIds;
  // Documents before large attachments: every push but the large one leaves such documents out.
  if (push && role != SyncRole::LargePush) o.maxAttachmentBytes = options.largeAttachmentBytes;
  o.timeout = options.timeout;
  o.heartbeat = options.heartbeat;
  o.caFile = options.caFile;
  o.headers = options.headers;
  o.retries = repl::kSyncRequestRetries;  // then the Sync backs off itself (see the top of this file)
  o.syncPeer = peer;
  o.onDocuments = [this, role](const std::vector<DocOutcome>& outcomes) {
    {
      std::lock_guard lock(mu);
      docsEvents.push_back({role, outcomes});
    }
    cv.notify_all();
  };
  auto local = ReplicationPeer::local(db);
  auto remote = ReplicationPeer::remote(url);
  auto rep = push ? std::make_unique<Replication>(std::move(local), std::move(remote), std::move(o))
                  : std::make_unique<Replication>(std::move(remote), std::move(local), std::move(o));
  const uint64_t id = ++nextInstance;
  instance[at(role)] = id;
  repState[at(role)] = ReplicationState::Starting;
  rep->start([this, role, id](ReplicationState s, const ReplicationStats&, const Status& st) {
    {
      std::lock_guard lock(mu);
      repEvents.push_back({role, id, s, st});
    }
    cv.notify_all();
  });
  reps[at(role)] = std::move(rep);
}

// Stops one replication and adds what it wrote to the totals of this start(). Its checkpoint records
// whatever it had fully written, so the next one of its kind resumes there.
void Sync::Impl::stopRep(SyncRole role) {
  auto& rep = reps[at(role)];
  if (!rep) return;
  rep->stop();
  const auto stats = rep->stats();
  rep.reset();
  instance[at(role)] = 0;
  repState[at(role)] = ReplicationState::Stopped;
  if (repl::isPush(role)) {
    basePushed += stats.docsWritten;
  } else {
    basePulled += stats.docsWritten;
  }
  refreshProgress();
}

void Sync::Impl::stopAll() {
  // Interrupt all first, so they wind down together rather than one after another.
  for (auto& rep : reps)
    if (rep) rep->stop();
  for (size_t i = 0; i < repl::kSyncRoles; ++i) stopRep(static_cast<SyncRole>(i));
}

void Sync::Impl::startMain() {
  mainStarted = true;
  startRep(SyncRole::Push);
  startRep(SyncRole::Pull);
}

void Sync::Impl::onRepEvent(const RepEvent& e) {
  const size_t i = at(e.role);
  if (e.instance != instance[i] || !failure) return;  // a stopped replication's late word
  const ReplicationState before = repState[i];
  repState[i] = e.state;
  progressDirty = true;
  switch (e.state) {
    case ReplicationState::Starting:
    case ReplicationState::Stopped:
      break;
    case ReplicationState::Running:
      setState(SyncState::Syncing);  // from Connecting (the peer answered) or Idle (news on one side)
      break;
    case ReplicationState::Idle:
      maybeStartLarge();
      checkIdle();
      break;
    case ReplicationState::Retrying:  // its one quick retry: Failed follows if that fails too
      repState[i] = before;
      break;
    case ReplicationState::Failed:
      failure = e.status.isOk() ? Status(ErrorCode::Internal, "a replication failed") : e.status;
      break;
    case ReplicationState::Completed:
      if (e.role == SyncRole::LargePush) {
        stopRep(SyncRole::LargePush);
        maybeStartLarge();  // the push may have left more out meanwhile
        checkIdle();
      } else if (!mainStarted && repState[at(SyncRole::PriorityPush)] == ReplicationState::Completed &&
                 repState[at(SyncRole::PriorityPull)] == ReplicationState::Completed) {
        stopRep(SyncRole::PriorityPush);
        stopRep(SyncRole::PriorityPull);
        startMain();
      }
      break;
  }
}

// Documents the continuous push left out for the large push to carry: those it skipped since the large
// push last started, and — once per connection — any a previous connection left.
uint64_t Sync::Impl::largeSkipped() const {
  const auto& push = reps[at(SyncRole::Push)];
  const uint64_t skipped = push ? push->stats().docsSkipped : 0;
  return skipped > skippedAtLarge ? skipped - skippedAtLarge : 0;
}

void Sync::Impl::maybeStartLarge() {
  if (options.largeAttachmentBytes == 0 || !mainStarted || reps[at(SyncRole::LargePush)] || !failure) return;
  if (repState[at(SyncRole::Push)] != ReplicationState::Idle) return;  // documents first
  if (!largeDue && largeSkipped() == 0) return;
  {
    std::lock_guard lock(mu);
    if (metered) return;
  }
  const auto& push = reps[at(SyncRole::Push)];
  skippedAtLarge = push ? push->stats().docsSkipped : 0;
  largeDue = false;
  startRep(SyncRole::LargePush);
  setState(SyncState::Syncing);
}

// Both continuous replications caught up: Idle, and — with nothing held back for the second phase — a
// complete sync as of now. Called on each of their Idle reports (a checkpoint while caught up is one) and
// on each batch they write while caught up (small news is written without leaving the caught-up state), so
// the last sync time follows what is synced.
void Sync::Impl::checkIdle() {
  if (!mainStarted || !failure || reps[at(SyncRole::LargePush)]) return;
  if (repState[at(SyncRole::Push)] != ReplicationState::Idle ||
      repState[at(SyncRole::Pull)] != ReplicationState::Idle)
    return;
  backoff.reset();
  const bool complete = !largeDue && largeSkipped() == 0;
  const uint64_t now = nowMicros();
  bool wasIdle;
  {
    std::lock_guard lock(mu);
    wasIdle = state == SyncState::Idle;
    lastError = Status::ok();  // caught up: whatever failed before has passed
    if (complete) lastSyncMicros = now;
  }
  // The database keeps it for the next start and for `settee status`; one that cannot (an old file)
  // leaves it in memory only, which the status still shows.
  if (complete) (void)db::storeOf(*db).setLastSync(peer, now);
  // Metrics (/_node/_local/_stats): a connection that reached a complete sync, and how long it took.
  if (complete && !wasIdle && sessionStartMicros) {
    metrics::count("settee.sync.completed");
    metrics::observe("settee.sync.duration_seconds", double(now - sessionStartMicros) / 1e6);
    sessionStartMicros = 0;
  }
  if (wasIdle) {
    progressDirty = true;
  } else {
    refreshProgress();
    setState(SyncState::Idle);
  }
}

}  // namespace settee
