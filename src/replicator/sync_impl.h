// replicator/sync_impl.h — the inside of a Sync (settee/sync.h): one control thread over the replications.
//
// Threads. Everything a Sync decides, it decides on its control thread (sync_run.cc): it starts and stops
// the replications, turns what they report into states, backs off, emits document events and resolves
// the conflicts pulls bring (sync_events.cc). The replications' threads only append what they report
// to the inbox under `mu` and wake the control thread, so a listener or a conflict resolution never runs
// inside a replication's batch and never holds it up; the app's calls only set a command under `mu`.
// Listeners are therefore called from the control thread alone, one at a time, never under `mu` (they
// may call status()).
//
// While backing off or told offline the control thread waits on `cv` with no replication, socket or
// timer alive: nothing runs until the deadline, a command or stop().
#pragma once

#include <array>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "replicator/sync_parts.h"
#include "settee/sync.h"

namespace settee {

struct Sync::Impl {
  using Clock = std::chrono::steady_clock;
  using Role = repl::SyncRole;

  std::shared_ptr<Database> db;
  std::string url, peer;
  SyncOptions options;
  StatusListener statusListener;
  DocListener docListener;
  std::string pushSelector, pullSelector;                  // validated at start()
  std::string priorityPushSelector, priorityPullSelector;  // the priority selector and the direction's own

  std::mutex threadMu;  // start() and stop() one at a time
  std::thread thread;

  // ---- Shared with the app's calls and the replications' threads (under mu) ----
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopRequested = false;
  bool network = true;
  bool metered = false;
  bool meteredChanged = false;  // for the control thread to act on
  bool connectNow = false;      // networkChanged(true): cut the backoff short

  struct RepEvent {
    Role role;
    uint64_t instance;  // which replication of that role said it (a stopped one's late words are ignored)
    ReplicationState state;
    Status status;
  };
  struct DocsEvent {
    Role role;
    std::vector<DocOutcome> outcomes;
  };
  std::deque<RepEvent> repEvents;
  std::deque<DocsEvent> docsEvents;

  SyncState state = SyncState::Stopped;
  Status lastError;
  uint64_t lastSyncMicros = 0;
  uint64_t nextRetryMicros = 0;
  uint64_t sessionStartMicros = 0;  // when the current connection began: the sync duration metric
  SyncProgress progress;  // docsPerSecond filled in by status()
  mutable repl::RateWindow rate;

  // ---- The control thread's own ----
  std::array<std::unique_ptr<Replication>, repl::kSyncRoles> reps;
  std::array<uint64_t, repl::kSyncRoles> instance{};
  std::array<ReplicationState, repl::kSyncRoles> repState{};
  uint64_t nextInstance = 0;
  // What replications already stopped this start() wrote: a stopped replication's stats are added here.
  uint64_t basePushed = 0, basePulled = 0;
  std::set<std::string> refusedSeen;  // "id\nseq" of the push refusals told since start()
  repl::SyncBackoff backoff{std::chrono::milliseconds(1000), std::chrono::milliseconds(300000)};
  std::mt19937_64 rng{std::random_device{}()};
  Status failure;               // the connection's failure, once one replication failed
  bool mainStarted = false;     // the continuous pair runs (the priority phase is over)
  bool largeDue = false;        // the large push has not run since this connection's push caught up
  uint64_t skippedAtLarge = 0;  // the continuous push's docsSkipped when the large push last started
  std::deque<std::pair<std::string, std::string>> conflictQueue;  // pulled (id, rev) to check
  std::set<std::string> queuedIds;
  bool progressDirty = false;
  Clock::time_point lastProgressNotice{};

  // sync.cc
  Status start();
  void stop();
  SyncStatus snapshot() const;

  // sync_run.cc: the state machine.
  void main();
  bool session();  // one connection, until it fails (false) or stop/offline (true)
  void startRep(Role role);
  void stopRep(Role role);
  void stopAll();
  void startMain();
  void maybeStartLarge();
  void checkIdle();
  void onRepEvent(const RepEvent& e);
  void backOff(const Status& why);
  void setState(SyncState s);
  void enterState(SyncState s);
  // Handles what arrives until `done()` (called under mu) or `deadline`; true when done.
  bool pump(Clock::time_point deadline, const std::function<bool()>& done);

  // sync_events.cc: documents, conflicts, progress.
  void onDocs(const DocsEvent& e);
  void resolveOne();
  void refreshProgress();
  void maybeNotifyProgress(bool force);
  void notifyStatus();
  void emit(const DocEvent& event);
  uint64_t largeSkipped() const;
};

}  // namespace settee
