#include "replicator/replicator_job.h"

#include "replicator/checkpoint.h"
#include "settee/sync.h"

namespace settee::repl {

std::string isoNow() { return utcNow("%Y-%m-%dT%H:%M:%SZ"); }

const char* schedulerState(ReplicationState s) {
  switch (s) {
    case ReplicationState::Starting:
      return "initializing";
    case ReplicationState::Running:
    case ReplicationState::Idle:
      return "running";
    case ReplicationState::Retrying:
      return "crashing";
    case ReplicationState::Completed:
      return "completed";
    case ReplicationState::Failed:
      return "failed";
    case ReplicationState::Stopped:
      return "stopped";
  }
  return "running";
}

void writeProgress(db::JsonWriter& w, const ReplicationStats& st) {
  const std::pair<const char*, uint64_t> counters[] = {{"docs_read", st.docsRead},
                                                       {"docs_written", st.docsWritten},
                                                       {"doc_write_failures", st.docWriteFailures},
                                                       {"missing_revisions_found", st.missingFound},
                                                       {"revisions_checked", st.missingChecked},
                                                       {"changes_pending", st.pending}};
  for (auto [k, v] : counters) {
    db::writeKey(w, k);
    w.Uint64(v);
  }
}

void keepSyncState(Job& job) {
  ReplicationOptions& options = job.spec.options;
  if (!options.continuous || !job.spec.source.db || job.spec.target.url.empty()) return;
  const std::string peer = syncPeerKey(job.spec.target.url);
  // A database that cannot keep the state (or not yet) replicates as before, without it.
  if (!job.spec.source.db->registerSyncPeer(peer)) return;
  options.syncPeer = peer;
  job.syncDb = job.spec.source.db;
  job.syncPeer = peer;
}

void writeSyncCounts(db::JsonWriter& w, const Job& job) {
  if (!job.syncDb) return;
  auto counts = job.syncDb->syncCounts(job.syncPeer);
  if (!counts) return;
  const std::pair<const char*, uint64_t> fields[] = {
      {"pending", counts->pending}, {"failed", counts->failed}, {"conflicted", counts->conflicted}};
  for (auto [k, v] : fields) {
    db::writeKey(w, k);
    w.Uint64(v);
  }
}

}  // namespace settee::repl
