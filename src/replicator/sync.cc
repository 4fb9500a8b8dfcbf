// settee::Sync (settee/sync.h). Placeholder bodies: the sync part of issue 12 replaces them.
#include "settee/sync.h"

namespace settee {

const char* syncStateName(SyncState state) {
  switch (state) {
    case SyncState::Offline:
      return "offline";
    case SyncState::Connecting:
      return "connecting";
    case SyncState::Syncing:
      return "syncing";
    case SyncState::Idle:
      return "idle";
    case SyncState::Stopped:
      return "stopped";
  }
  return "unknown";
}

const char* docEventName(DocEventKind kind) {
  switch (kind) {
    case DocEventKind::Pulled:
      return "pulled";
    case DocEventKind::Pushed:
      return "pushed";
    case DocEventKind::Failed:
      return "failed";
    case DocEventKind::ConflictDetected:
      return "conflict";
    case DocEventKind::ConflictResolved:
      return "resolved";
  }
  return "unknown";
}

struct Sync::Impl {
  std::shared_ptr<Database> db;
  std::string url, peer;
  SyncOptions options;
  StatusListener statusListener;
  DocListener docListener;
};

Sync::Sync(std::shared_ptr<Database> db, std::string url, SyncOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->db = std::move(db);
  impl_->peer = syncPeerKey(url);
  impl_->url = std::move(url);
  impl_->options = std::move(options);
}
Sync::~Sync() = default;
void Sync::onStatus(StatusListener listener) { impl_->statusListener = std::move(listener); }
void Sync::onDocument(DocListener listener) { impl_->docListener = std::move(listener); }
Status Sync::start() { return {ErrorCode::Internal, "sync not built yet"}; }
void Sync::stop() {}
void Sync::networkChanged(bool) {}
void Sync::setMetered(bool) {}
SyncStatus Sync::status() const { return {}; }
const std::string& Sync::peer() const { return impl_->peer; }
Result<DocSyncInfo> Sync::documentState(std::string_view id) { return impl_->db->docSyncState(impl_->peer, id); }
Result<SyncCounts> Sync::counts() { return impl_->db->syncCounts(impl_->peer); }
Result<std::vector<DocSyncEntry>> Sync::documents(DocSyncState state, size_t limit, std::string_view after) {
  return impl_->db->syncDocuments(impl_->peer, state, limit, after);
}

std::string syncPeerKey(std::string_view url) { return std::string(url); }

}  // namespace settee
