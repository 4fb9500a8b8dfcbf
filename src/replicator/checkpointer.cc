#include "replicator/checkpointer.h"

#include "db/crypto.h"

namespace settee::repl {

void SequenceTracker::written(uint64_t number, std::string lastSeq) {
  if (number < next_) return;  // already counted
  ahead_[number] = std::move(lastSeq);
  while (!ahead_.empty() && ahead_.begin()->first == next_) {
    safe_ = std::move(ahead_.begin()->second);
    ahead_.erase(ahead_.begin());
    ++next_;
  }
}

Checkpointer::Checkpointer(Endpoint& source, Endpoint& target, RetryPolicy& retry, Progress& progress,
                           bool enabled)
    : source_(source), target_(target), retry_(retry), progress_(progress), enabled_(enabled) {}

Result<std::string> Checkpointer::resume(const std::string& replicationId) {
  localId_ = "_local/" + replicationId;
  sessionId_ = db::randomHex(16);  // 128 random bits, as CouchDB's session ids
  if (!enabled_) return std::string("0");
  auto sdoc = retry_.run([&] { return source_.getLocal(localId_); });
  auto tdoc = retry_.run([&] { return target_.getLocal(localId_); });
  if (!tdoc) return tdoc.status();
  std::optional<std::string> sj = sdoc ? *sdoc : std::nullopt, tj = *tdoc;
  sourceRev_ = checkpointRev(sj);
  targetRev_ = checkpointRev(tj);
  history_ = checkpointHistory(sj ? sj : tj);
  return resumeSeq(sj, tj);
}

void Checkpointer::start(const std::string& since) {
  {
    std::lock_guard lock(mu_);
    tracker_ = SequenceTracker(since);
  }
  lastRecorded_ = since;
}

void Checkpointer::batchWritten(uint64_t number, std::string lastSeq) {
  std::lock_guard lock(mu_);
  tracker_.written(number, std::move(lastSeq));
}

std::string Checkpointer::safeSeq() const {
  std::lock_guard lock(mu_);
  return tracker_.safeSeq();
}

Result<bool> Checkpointer::record(bool force) {
  const std::string seq = safeSeq();
  if (!enabled_ || seq.empty() || (seq == lastRecorded_ && !force)) return false;
  const ReplicationStats snapshot = progress_.snapshot();
  HistoryEntry entry;
  entry.sessionId = sessionId_;
  entry.startTime = snapshot.startTime;
  entry.endTime = httpDate();
  entry.startLastSeq = snapshot.startLastSeq;
  entry.endLastSeq = seq;
  entry.recordedSeq = seq;
  entry.counters = {snapshot.docsRead, snapshot.docsWritten, snapshot.docWriteFailures,
                    snapshot.missingChecked, snapshot.missingFound};
  // Source first, then target, as CouchDB does.
  for (Endpoint* side : {&source_, &target_}) {
    std::string& rev = side == &source_ ? sourceRev_ : targetRev_;
    // Retried like every request: a lost answer to a PUT that was applied comes back as a conflict, and
    // so does a checkpoint someone else wrote; both are resolved by re-reading the revision, once.
    auto put = [&] {
      return retry_.run(
          [&] { return side->putLocal(localId_, encodeCheckpoint(rev, sessionId_, seq, entry, history_)); });
    };
    auto written = put();
    if (!written && written.status().code() == ErrorCode::Conflict) {
      auto current = retry_.run([&] { return side->getLocal(localId_); });
      if (current) rev = checkpointRev(*current);
      written = put();
    }
    if (!written) {
      // A source that refuses checkpoints (read-only) keeps them on the target only, as PouchDB does.
      if (side == &source_ && !isTransient(written.status())) continue;
      return written.status();
    }
    rev = *written;
  }
  lastRecorded_ = seq;
  progress_.update([&](ReplicationStats& s) { s.endLastSeq = seq; });
  return true;
}

}  // namespace settee::repl
