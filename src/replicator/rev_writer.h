// replicator/rev_writer.h — the agent that writes fetched revisions to the target.
//
// One `_bulk_docs` with new_edits=false per group (a local target: one transaction), so a revision the
// target already has is a no-op and a retried write never duplicates. A document the target refuses
// (forbidden, a validation function) is counted as a write failure, as CouchDB does, and does not stop
// the replication; a failed request is retried by the policy and then stops it.
// Contract: write() from several worker threads at once; the endpoint, policy and progress outlive it.
#pragma once

#include <vector>

#include "replicator/endpoint.h"
#include "replicator/progress.h"
#include "replicator/retry_policy.h"

namespace settee::repl {

class RevWriter {
 public:
  RevWriter(Endpoint& target, RetryPolicy& retry, Progress& progress)
      : target_(target), retry_(retry), progress_(progress) {}

  // Writes `docs` (left intact, so a failed request is retried with the same group); answers the
  // documents the target refused, each with its answer.
  Result<std::vector<DocResult>> write(const std::vector<FetchedRev>& docs);

 private:
  Endpoint& target_;
  RetryPolicy& retry_;
  Progress& progress_;
};

}  // namespace settee::repl
