// replicator/revs_differ.h — the agent that asks the target which revisions of a batch it lacks.
//
// Given the rows of a changes batch, it answers the missing revisions of each document (and the
// possible ancestors the target has) by one `_revs_diff` request, and counts what it checked and found.
//
// A pull into an empty target need not ask `_revs_diff` for what the target cannot have. With
// `assumeAllMissing`, every leaf of every row is answered missing without a request. The pipeline asks
// for that only when the target had no update at all when the replication started (update_seq 0: no
// document was ever written) AND the replication starts from sequence 0, and only for the batches read
// before the reader first catches up with the source (the first pass). Why that is safe even if something
// else writes the target meanwhile: the writer uses new_edits=false, which makes a revision the target
// already has a no-op and one it lacks an ordinary insert, so a revision wrongly called missing costs only
// its transfer, never a wrong tree. (What could differ are possible ancestors: none are claimed, so
// attachments come whole instead of as stubs. Again bytes, not correctness.) After the first pass the
// target may well hold what the source sends next (another replication, a sync back), so the request is
// made again and nothing is sent twice.
// Contract: diff() from several worker threads at once; the endpoint, policy and progress outlive it.
#pragma once

#include <vector>

#include "replicator/endpoint.h"
#include "replicator/progress.h"
#include "replicator/retry_policy.h"

namespace settee::repl {

class RevsDiffer {
 public:
  RevsDiffer(Endpoint& target, RetryPolicy& retry, Progress& progress)
      : target_(target), retry_(retry), progress_(progress) {}

  // The missing revisions of `rows` (consumed: their ids and revs move into the request). With
  // `assumeAllMissing`, all of them, without asking (see above for when that is right).
  Result<std::vector<MissingRevs>> diff(std::vector<ChangeRow>&& rows, bool assumeAllMissing);

 private:
  Endpoint& target_;
  RetryPolicy& retry_;
  Progress& progress_;
};

// Whether a database with this update_seq (JSON text, as info() gives it) has never had a document
// written: 0 for Settee and PouchDB, "0" or "0-<opaque>" for CouchDB, whose sequences lead with the sum
// of the shards' numbers. Anything unreadable counts as not empty.
bool neverWritten(const std::string& updateSeq);

}  // namespace settee::repl
