// replicator/replicator_job.h — one replication run by the node (ReplicatorService's job table), and the
// names CouchDB's scheduler gives its state and counters. Internal to the replicator service.
//
// Contract: a Job is shared by the job table and the request or watcher that made it; the Replication's
// listener may call noteState() from the replication's threads until the Replication is destroyed, which
// is why the members it touches are declared before `rep` (destroyed after it).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "db/json.h"
#include "http/auth.h"
#include "replicator/replication_spec.h"
#include "settee/replicator.h"

namespace settee::repl {

std::string isoNow();  // "2026-12-04T21:50:00Z"

// A job's state under CouchDB's scheduler names (/_scheduler/jobs and /_scheduler/docs).
const char* schedulerState(ReplicationState s);

// A job's counters as /_active_tasks and /_scheduler/docs name them (the checkpoint history uses
// missing_checked / missing_found instead).
void writeProgress(db::JsonWriter& w, const ReplicationStats& st);

struct Job {
  std::string docId;     // "" for POST /_replicate jobs
  http::UserCtx user;    // whose rights it runs with
  std::string specJson;  // to notice an edited document
  Spec spec;
  std::string startTime = isoNow();
  std::atomic<bool> ended{false};
  // A continuous replication from a local database to a remote one keeps that database's sync state for
  // the target (settee/sync_state.h): the source database and the peer key, or null when it does not.
  std::shared_ptr<Database> syncDb;
  std::string syncPeer;

  // Told every state the replication enters (from its listener).
  void noteState(ReplicationState s) {
    if (s == ReplicationState::Starting) return;
    {
      std::lock_guard lock(startMu_);
      pastStarting_ = true;
    }
    startCv_.notify_all();
  }
  // Waits until the replication has left Starting (it runs, retries, or failed), at most `limit`.
  void waitPastStarting(std::chrono::milliseconds limit) {
    std::unique_lock lock(startMu_);
    startCv_.wait_for(lock, limit, [&] { return pastStarting_; });
  }

 private:
  std::mutex startMu_;
  std::condition_variable startCv_;
  bool pastStarting_ = false;

 public:
  std::unique_ptr<Replication> rep;  // last: destroyed (stopped) first
};

// Sets a continuous replication from a local database to a remote one to keep the database's sync state
// for the target (registering the peer), when the database can; otherwise leaves the job as it is.
void keepSyncState(Job& job);
// "pending", "failed" and "conflicted" of a job that keeps sync state (keepSyncState); nothing for one that
// does not or when they cannot be read. May read the database: call without the job table's lock.
void writeSyncCounts(db::JsonWriter& w, const Job& job);

}  // namespace settee::repl
