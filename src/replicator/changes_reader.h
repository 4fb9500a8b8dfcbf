// replicator/changes_reader.h — the agent that reads the source's changes feed, one batch at a time.
//
// It keeps the position in the feed (`since`, opaque JSON text), asks for at most `batchSize` rows
// (style=all_docs, the replication's filter), longpolls when told to wait (continuous mode, caught up)
// and records what the source says is still pending. Each request is retried by the policy.
// Contract: one thread (the replication's reader); the endpoint, policy and progress outlive it.
#pragma once

#include <chrono>
#include <string>

#include "replicator/endpoint.h"
#include "replicator/progress.h"
#include "replicator/retry_policy.h"

namespace settee::repl {

class ChangesReader {
 public:
  ChangesReader(Endpoint& source, Filter filter, size_t batchSize, std::chrono::milliseconds heartbeat,
                RetryPolicy& retry, Progress& progress, std::string since)
      : source_(source),
        filter_(std::move(filter)),
        batchSize_(batchSize),
        heartbeat_(heartbeat),
        retry_(retry),
        progress_(progress),
        since_(std::move(since)) {}

  // The next batch after since(), which then moves to the batch's last sequence. With `wait`, a source
  // with nothing new holds the request up to a longpoll timeout and may answer an empty batch.
  Result<ChangesBatch> read(bool wait);
  // Where the next read starts: the last sequence read (JSON text).
  const std::string& since() const { return since_; }
  // Whether `batch` was short: the feed had nothing more when it was read.
  bool caughtUp(const ChangesBatch& batch) const { return batch.rows.size() < batchSize_; }

 private:
  Endpoint& source_;
  const Filter filter_;
  const size_t batchSize_;
  const std::chrono::milliseconds heartbeat_;
  RetryPolicy& retry_;
  Progress& progress_;
  std::string since_;
};

}  // namespace settee::repl
