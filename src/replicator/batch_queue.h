// replicator/batch_queue.h — the bounded queue between the changes reader and the workers.
//
// The reader pushes batches of changes; workers take them, one each, and report when they finished.
// Bounded to `depth` waiting batches, so memory holds at most (workers + depth) batches whatever the
// database size. The first failure of a worker (or the reader) is kept, and from then on workers take
// nothing more and the reader is told to stop. The stop signal ends every wait; call wake() after
// raising it so waiters re-check it.
// Contract: any thread. The stop signal outlives the queue.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "replicator/endpoint.h"
#include "replicator/stop_signal.h"

namespace settee::repl {

struct Batch {
  uint64_t number = 0;  // in read order, from 0: what the checkpointer orders by
  std::vector<ChangeRow> rows;
  std::string lastSeq;     // JSON text
  bool firstPass = false;  // read before the reader first caught up (see RevsDiffer)
};

class BatchQueue {
 public:
  BatchQueue(size_t depth, StopSignal& stop) : depth_(depth), stop_(stop) {}
  BatchQueue(const BatchQueue&) = delete;
  BatchQueue& operator=(const BatchQueue&) = delete;

  // Reader: waits until there is room; false when a batch failed or the replication stops.
  bool waitForRoom();
  void push(Batch batch);
  // Reader: no more batches will come; a non-ok `st` is kept as the failure (if none came first).
  void close(const Status& st);
  // Waits until every batch pushed is finished, or one failed.
  void waitDrained();

  // Worker: the next batch; none when the reader closed the queue and it is empty, or a batch failed.
  std::optional<Batch> take();
  // Worker: the batch it took is done (`st` ok) or failed.
  void finished(const Status& st);

  // The first failure, ok if none.
  Status failure() const;
  // Makes waiters re-check the stop signal.
  void wake();

 private:
  const size_t depth_;
  StopSignal& stop_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  size_t inFlight_ = 0;  // taken by workers and not yet finished
  bool closed_ = false;
  Status failure_;
};

}  // namespace settee::repl
