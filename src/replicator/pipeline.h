// replicator/pipeline.h — the agents of one replication wired together, from the source's changes to
// the target's writes.
//
// The calling thread reads: the changes reader fills a bounded BatchQueue and the checkpointer records
// at intervals. `workers` threads each take a batch and run it through the revs differ, the revision
// fetcher and the revision writer, hand what it did to the outcome recorder, then tell the checkpointer
// the batch is written. The pipeline holds
// no state of the replication's own: what it sees (caught up, following again, a checkpoint recorded)
// it tells the observer, and the coordinator decides what state that means.
// Contract: run() once, from one thread; it returns when a one-shot replication has read everything and
// written it, when something failed for good (the first failure), or on a stop (ok). wake() from any
// thread after the stop signal is raised. The agents, the observer and the stop signal outlive it.
#pragma once

#include <chrono>

#include "replicator/batch_queue.h"
#include "replicator/changes_reader.h"
#include "replicator/checkpointer.h"
#include "replicator/outcome_recorder.h"
#include "replicator/rev_fetcher.h"
#include "replicator/rev_writer.h"
#include "replicator/revs_differ.h"

namespace settee::repl {

class PipelineObserver {
 public:
  virtual ~PipelineObserver() = default;
  virtual void caughtUp() = 0;      // continuous: everything read is written and recorded; waiting for news
  virtual void following() = 0;     // continuous: news came after caughtUp()
  virtual void checkpointed() = 0;  // a checkpoint was recorded
};

struct PipelineOptions {
  bool continuous = false;
  size_t workers = 1;
  std::chrono::milliseconds checkpointInterval{0};
  // The target had never been written when the replication started from sequence 0: the first pass
  // skips `_revs_diff` (see RevsDiffer).
  bool emptyTargetFromStart = false;
};

struct Agents {
  ChangesReader& reader;
  RevsDiffer& differ;
  RevFetcher& fetcher;
  RevWriter& writer;
  Checkpointer& checkpointer;
  OutcomeRecorder& recorder;
};

class Pipeline {
 public:
  Pipeline(Agents agents, PipelineOptions options, StopSignal& stop, PipelineObserver& observer);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  Status run();
  void wake() { queue_.wake(); }

 private:
  Status read();
  void work();
  Status process(Batch& batch);

  Agents agents_;
  const PipelineOptions options_;
  StopSignal& stop_;
  PipelineObserver& observer_;
  BatchQueue queue_;
};

}  // namespace settee::repl
