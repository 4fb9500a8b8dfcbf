// Sync bookkeeping: per-peer pending/failed entries and the conflicted documents (settee/sync_state.h).
// Placeholder bodies: the ledger part of issue 12 replaces them.
#include "db/store.h"

namespace settee::db {

namespace {
Status notBuilt() { return {ErrorCode::Internal, "sync bookkeeping not built yet"}; }
}  // namespace

Status Store::registerSyncPeer(std::string_view) { return notBuilt(); }
Result<std::vector<std::string>> Store::syncPeers() { return notBuilt(); }
Status Store::confirmSynced(std::string_view, const std::vector<std::pair<std::string, uint64_t>>&) {
  return notBuilt();
}
Status Store::markSyncFailed(std::string_view, std::string_view, uint64_t, const Status&) { return notBuilt(); }
Status Store::setLastSync(std::string_view, uint64_t) { return notBuilt(); }
Result<DocSyncInfo> Store::docSyncState(std::string_view, std::string_view) { return notBuilt(); }
Result<SyncCounts> Store::syncCounts(std::string_view) { return notBuilt(); }
Result<std::vector<DocSyncEntry>> Store::syncDocuments(std::string_view, DocSyncState, size_t, std::string_view) {
  return notBuilt();
}
Result<std::vector<std::string>> Store::conflictedDocuments(size_t, std::string_view) { return notBuilt(); }

}  // namespace settee::db
