#include "replicator/replicator_job.h"

#include "replicator/checkpoint.h"

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

}  // namespace settee::repl
