#include "replicator/pipeline.h"

#include <algorithm>
#include <thread>

#include "replicator/tuning.h"

namespace settee::repl {

Pipeline::Pipeline(Agents agents, PipelineOptions options, StopSignal& stop, PipelineObserver& observer)
    : agents_(agents),
      options_(options),
      stop_(stop),
      observer_(observer),
      queue_(tuning::kQueueDepth, stop) {}

Status Pipeline::run() {
  std::vector<std::thread> workers;
  for (size_t i = 0; i < options_.workers; ++i) workers.emplace_back([this] { work(); });
  queue_.close(read());
  for (auto& w : workers) w.join();
  return queue_.failure();
}

Status Pipeline::read() {
  uint64_t number = 0;
  bool caughtUp = false;
  bool firstPass = options_.emptyTargetFromStart;
  auto lastCheckpoint = std::chrono::steady_clock::now();
  while (!stop_.raised()) {
    if (!queue_.waitForRoom()) return queue_.failure();
    const std::string since = agents_.reader.since();
    auto batch = agents_.reader.read(options_.continuous && caughtUp);
    if (!batch) return batch.status();
    const bool shortBatch = agents_.reader.caughtUp(*batch);
    // Nothing passed the filter but the feed advanced: an empty batch still moves the checkpoint.
    if (!batch->rows.empty() || batch->lastSeq != since)
      queue_.push({number++, std::move(batch->rows), batch->lastSeq, firstPass});
    if (std::chrono::steady_clock::now() - lastCheckpoint >= options_.checkpointInterval) {
      auto recorded = agents_.checkpointer.record(false);
      if (!recorded) return recorded.status();
      if (*recorded) observer_.checkpointed();
      lastCheckpoint = std::chrono::steady_clock::now();
    }
    if (shortBatch) {
      if (!options_.continuous) return Status::ok();
      firstPass = false;
      if (!caughtUp) {
        caughtUp = true;
        // Everything read so far is written before the checkpoint that says so.
        queue_.waitDrained();
        auto recorded = agents_.checkpointer.record(false);
        if (recorded && *recorded) observer_.checkpointed();
        observer_.caughtUp();
      }
    } else if (caughtUp) {
      caughtUp = false;
      observer_.following();
    }
  }
  return Status::ok();
}

void Pipeline::work() {
  while (auto batch = queue_.take()) {
    Status st = stop_.raised() ? Status(ErrorCode::Internal, "stopped") : process(*batch);
    if (st) agents_.checkpointer.batchWritten(batch->number, std::move(batch->lastSeq));
    queue_.finished(st);
    if (!st) return;
  }
}

Status Pipeline::process(Batch& batch) {
  // What the batch did to each document is gathered only for a recorder that wants it.
  const bool record = agents_.recorder.wanted();
  BatchOutcome outcome;
  if (record)
    for (const ChangeRow& row : batch.rows) outcome.rows.emplace_back(row.id, row.seq);
  auto missing = agents_.differ.diff(std::move(batch.rows), batch.firstPass);
  if (!missing) return missing.status();
  Status st = agents_.fetcher.fetch(
      *missing,
      [&](const std::vector<FetchedRev>& docs) -> Status {
        auto refused = agents_.writer.write(docs);
        if (!refused) return refused.status();
        if (record) {
          for (const FetchedRev& d : docs) {
            const bool ok = d.rev && std::none_of(refused->begin(), refused->end(),
                                                  [&](const DocResult& r) { return r.id == d.id; });
            if (ok) outcome.written.emplace_back(d.id, d.rev->revString());
          }
          for (DocResult& r : *refused) outcome.refused.push_back(std::move(r));
        }
        return Status::ok();
      },
      record ? &outcome.skipped : nullptr);
  if (!st) return st;
  return agents_.recorder.record(outcome);
}

}  // namespace settee::repl
