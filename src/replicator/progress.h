// replicator/progress.h — a replication's counters (ReplicationStats), shared by its agents.
//
// The revs differ counts what it checked and found, the writer what it wrote, the reader what is
// pending, the checkpointer what it recorded; observers read a consistent snapshot. Contract: any
// thread; each update is atomic with respect to snapshots. Owned by the replication.
#pragma once

#include <mutex>

#include "settee/replicator.h"

namespace settee::repl {

class Progress {
 public:
  Progress() = default;
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Calls `fn(ReplicationStats&)` under the lock; keep it to a few assignments.
  template <class F>
  void update(F&& fn) {
    std::lock_guard lock(mu_);
    fn(stats_);
  }
  ReplicationStats snapshot() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  mutable std::mutex mu_;
  ReplicationStats stats_;
};

}  // namespace settee::repl
