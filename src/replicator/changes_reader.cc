#include "replicator/changes_reader.h"

#include "replicator/tuning.h"

namespace settee::repl {

Result<ChangesBatch> ChangesReader::read(bool wait) {
  auto batch = retry_.run([&] {
    return source_.changes(since_, batchSize_, filter_, wait, tuning::longpollTimeout(heartbeat_));
  });
  if (!batch) return batch.status();
  if (batch->pending) progress_.update([&](ReplicationStats& s) { s.pending = *batch->pending; });
  since_ = batch->lastSeq;
  return batch;
}

}  // namespace settee::repl
