// replicator/local_endpoint.h — a Database in this process as a replication endpoint: no HTTP, no
// copies beyond what the store needs. Thread-safe as the Database is. With a LocalAccess, every read is
// checked first and a document the user may not write is refused (a doc_write_failure, as CouchDB counts
// a document its validation refused).
#pragma once

#include <atomic>
#include <memory>

#include "replicator/endpoint.h"
#include "settee/replicator.h"

namespace settee::http {
class DesignFunctions;
}

namespace settee::repl {

// The query servers every LocalEndpoint of this process runs JavaScript on: a source's named filter
// ("ddoc/name") and the target's validate_doc_update, as CouchDB runs them on its replications. Set by
// the node (ReplicatorService, from its http Services); null, the default (the C API), runs none: a named
// filter on a local source is refused and replicated writes are not validated. Thread-safe.
void setQueryServers(std::shared_ptr<http::DesignFunctions> design);

class LocalEndpoint : public Endpoint {
 public:
  // `originPeer`: the sync peer (settee/sync_state.h) the revisions written here come from, so they are
  // not pending for it (empty: none).
  explicit LocalEndpoint(std::shared_ptr<Database> db, std::shared_ptr<const LocalAccess> access = nullptr,
                         std::string originPeer = {})
      : db_(std::move(db)), access_(std::move(access)), originPeer_(std::move(originPeer)) {}
  std::string describe() const override;
  Result<PeerInfo> info() override;
  Status create() override { return Status::ok(); }
  Result<std::optional<std::string>> getLocal(const std::string& id) override;
  Result<std::string> putLocal(const std::string& id, const std::string& json) override;
  Result<ChangesBatch> changes(const std::string& since, size_t limit, const Filter& filter, bool wait,
                               std::chrono::milliseconds timeout) override;
  Result<std::vector<MissingRevs>> revsDiff(
      const std::vector<std::pair<std::string, std::vector<std::string>>>& revs) override;
  Result<std::vector<FetchedRev>> fetch(const std::vector<MissingRevs>& missing,
                                        std::vector<MissingRevs>* deferred = nullptr) override;
  Result<std::vector<FetchedRev>> fetchStreamed(const MissingRevs& missing) override;
  Result<std::vector<DocResult>> write(const std::vector<FetchedRev>& docs) override;
  Status ensureFullCommit() override { return Status::ok(); }
  void interrupt() override { interrupted_ = true; }

 private:
  Status mayRead() const { return access_ && access_->read ? access_->read() : Status::ok(); }
  Status mayWrite(std::string_view id) const { return access_ && access_->write ? access_->write(id) : Status::ok(); }

  std::shared_ptr<Database> db_;
  std::shared_ptr<const LocalAccess> access_;
  const std::string originPeer_;
  std::atomic<bool> interrupted_{false};
};

}  // namespace settee::repl
