// replicator/outcome_recorder.h — the agent that says what each batch did to each of its documents.
//
// After a batch is written and before it counts as written for the checkpoint, it turns the batch's
// changes rows, the revisions written and the target's refusals into one DocOutcome per document for
// ReplicationOptions::onDocuments, and keeps a local source's sync ledger (settee/sync_state.h) for the
// peer the replication pushes to: every document the target now has is confirmed as of its row's
// sequence, every refused one is marked failed with the target's answer. A document left out by the
// attachment limit is neither: it is not reported and stays pending. Recording before the checkpoint
// means a crash in between replays the batch, never loses a confirmation the checkpoint assumed.
// Contract: record() from several worker threads at once; the source database outlives it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "replicator/endpoint.h"
#include "settee/replicator.h"

namespace settee::repl {

// What one batch did, gathered as it runs (by one worker thread).
struct BatchOutcome {
  std::vector<std::pair<std::string, std::string>> rows;     // (id, seq) of each changes row, in order
  std::vector<std::pair<std::string, std::string>> written;  // (id, rev) of each revision written
  std::vector<DocResult> refused;                            // the target's per-document refusals
  std::vector<std::string> skipped;                          // ids left out by the attachment limit
};

class OutcomeRecorder {
 public:
  // `ledger`: the local source whose sync state for `peer` is kept (null: none).
  OutcomeRecorder(std::function<void(const std::vector<DocOutcome>&)> onDocuments,
                  std::shared_ptr<Database> ledger, std::string peer)
      : onDocuments_(std::move(onDocuments)), ledger_(std::move(ledger)), peer_(std::move(peer)) {}

  // Whether record() has anything to do: when not, a batch need not gather its outcome.
  bool wanted() const { return onDocuments_ || ledger_; }
  // Reports the batch and keeps the ledger; an error (a storage failure) fails the batch.
  Status record(const BatchOutcome& batch);

 private:
  std::function<void(const std::vector<DocOutcome>&)> onDocuments_;
  std::shared_ptr<Database> ledger_;
  const std::string peer_;
};

}  // namespace settee::repl
