// replicator/checkpointer.h — the agent that records how far a replication has safely come.
//
// Batches are numbered in the order the changes reader read them (0, 1, 2, ...) and written by several
// workers, so they finish out of order. A checkpoint may only name a sequence below which every change
// is written: SequenceTracker advances to a batch's last sequence only once that batch and every batch
// before it are fully written. Recording one past a batch still in flight would, after a crash, skip its
// changes for ever.
// The Checkpointer reads the checkpoints found on both sides at start (CouchDB's resume rule, in
// checkpoint.h) and writes `_local/<replication id>` to the source, then the target, when asked.
// Contract: batchWritten() and safeSeq() from any thread; resume() and record() from one thread at a time
// (the reader while running, the coordinator at the end). The endpoints, policy and progress outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "replicator/checkpoint.h"
#include "replicator/endpoint.h"
#include "replicator/progress.h"
#include "replicator/retry_policy.h"

namespace settee::repl {

// Pure and single-threaded: which sequence is safe to record, given the batches written so far.
class SequenceTracker {
 public:
  // `start`: the sequence the replication started from (safe before any batch is written).
  explicit SequenceTracker(std::string start = "0") : safe_(std::move(start)) {}
  // Batch `number` (0, 1, ... in read order), ending at `lastSeq`, is fully written.
  void written(uint64_t number, std::string lastSeq);
  // The last sequence below which every change read so far is written.
  const std::string& safeSeq() const { return safe_; }
  // Batches written ahead of one still in flight.
  size_t waiting() const { return ahead_.size(); }

 private:
  std::string safe_;
  uint64_t next_ = 0;                      // the lowest batch number not yet written
  std::map<uint64_t, std::string> ahead_;  // written out of order, waiting for earlier ones
};

class Checkpointer {
 public:
  // `enabled`: ReplicationOptions::useCheckpoints; when false nothing is read or written.
  Checkpointer(Endpoint& source, Endpoint& target, RetryPolicy& retry, Progress& progress, bool enabled);

  // Reads the checkpoints of replication `replicationId` on both sides (a source that cannot be read
  // counts as none); the sequence to resume from ("0" when they do not agree). Starts a new session.
  Result<std::string> resume(const std::string& replicationId);
  // The replication starts at `since`, which is then the safe sequence and counts as recorded.
  void start(const std::string& since);

  void batchWritten(uint64_t number, std::string lastSeq);
  std::string safeSeq() const;

  // Writes the safe sequence to both sides unless it is the one last recorded (or `force`); answers
  // whether it wrote. A source that refuses (read-only) keeps the checkpoint on the target only.
  Result<bool> record(bool force);

 private:
  Endpoint& source_;
  Endpoint& target_;
  RetryPolicy& retry_;
  Progress& progress_;
  const bool enabled_;

  mutable std::mutex mu_;  // guards tracker_
  SequenceTracker tracker_;

  // One thread at a time (see the contract).
  std::string localId_, sessionId_, sourceRev_, targetRev_, lastRecorded_;
  std::vector<HistoryEntry> history_;
};

}  // namespace settee::repl
