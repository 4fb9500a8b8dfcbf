// Support shared by the Sync tests (sync_test.cc, sync_outbox_test.cc) against a real `settee serve`
// peer: peerUrl (a database's URL on a LiveServer, with optional userinfo), openDb (a local database in a
// TempDir), putLocal (a put that must succeed), peerHas (whether the peer holds a document) and Recorder
// (everything a Sync told — statuses with when they came, document events — with waits on the condition
// that ends them; SYNC_TRACE=1 in the environment traces each status to stderr).
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "live_server.h"
#include "settee/database.h"
#include "settee/sync.h"

namespace settee::test::sync_support {

inline std::string peerUrl(const LiveServer& node, const std::string& db, const std::string& userinfo = "") {
  return "http://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" + std::to_string(node.port()) +
         "/" + db;
}

inline std::shared_ptr<Database> openDb(const TempDir& dir, const std::string& name = "app") {
  auto db = Database::open(dir.file(name + ".settee"), name);
  REQUIRE(db);
  return std::shared_ptr<Database>(std::move(*db));
}

inline void putLocal(Database& db, const std::string& json) {
  auto r = db.put(json);
  INFO(json << ": " << (r ? "" : r.status().reason()));
  REQUIRE(r);
}

inline bool peerHas(const LiveServer& node, const std::string& db, const std::string& id) {
  return node("GET", "/" + db + "/" + id).status == 200;
}

// Everything a Sync said, in order and with when it said it; waits on the condition that ends them (no
// sleeping in slices).
class Recorder {
 public:
  using Clock = std::chrono::steady_clock;

  // Declare the Recorder before the Sync: the Sync's last words (Stopped) come from its destructor.
  void attach(Sync& sync) {
    sync.onStatus([this](const SyncStatus& s) {
      std::lock_guard lock(mu_);
      auto now = Clock::now();
      statuses_.push_back({now, s});
      if (std::getenv("SYNC_TRACE"))
        std::fprintf(
            stderr, "%lld %s pushed=%llu pulled=%llu err=%s\n",
            (long long)std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
                100000,
            syncStateName(s.state), (unsigned long long)s.progress.docsPushed,
            (unsigned long long)s.progress.docsPulled, s.lastError.reason().c_str());
      cv_.notify_all();
    });
    sync.onDocument([this](const DocEvent& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    });
  }
  size_t mark() const {
    std::lock_guard lock(mu_);
    return statuses_.size();
  }
  // Waits until a status told after `from` is in `state` (and, for Idle, went through Syncing after
  // `from` when `throughSyncing`); answers that status.
  std::optional<SyncStatus> waitState(SyncState state, size_t from = 0,
                                      std::chrono::milliseconds limit = std::chrono::seconds(20),
                                      bool throughSyncing = false) {
    std::unique_lock lock(mu_);
    std::optional<SyncStatus> found;
    cv_.wait_for(lock, limit, [&] {
      bool synced = !throughSyncing;
      for (size_t i = from; i < statuses_.size(); ++i) {
        if (statuses_[i].second.state == SyncState::Syncing) synced = true;
        if (statuses_[i].second.state == state && synced) {
          found = statuses_[i].second;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // Waits until a status told after `from` satisfies `pred`; answers it.
  template <class P>
  std::optional<SyncStatus> waitStatus(P pred, size_t from = 0,
                                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    std::optional<SyncStatus> found;
    cv_.wait_for(lock, limit, [&] {
      for (size_t i = from; i < statuses_.size(); ++i)
        if (pred(statuses_[i].second)) {
          found = statuses_[i].second;
          return true;
        }
      return false;
    });
    return found;
  }
  // Waits until a document event of `kind` for `id` is told; answers it.
  std::optional<DocEvent> waitEvent(DocEventKind kind, const std::string& id,
                                    std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    std::optional<DocEvent> found;
    cv_.wait_for(lock, limit, [&] {
      for (const auto& e : events_)
        if (e.kind == kind && e.id == id) {
          found = e;
          return true;
        }
      return false;
    });
    return found;
  }
  // The states told, consecutive repeats folded.
  std::vector<SyncState> states() const {
    std::lock_guard lock(mu_);
    std::vector<SyncState> out;
    for (const auto& s : statuses_)
      if (out.empty() || out.back() != s.second.state) out.push_back(s.second.state);
    return out;
  }
  std::vector<SyncStatus> statusesSince(size_t from) const {
    std::lock_guard lock(mu_);
    std::vector<SyncStatus> out;
    for (size_t i = from; i < statuses_.size(); ++i) out.push_back(statuses_[i].second);
    return out;
  }
  // Every status told, with when it was told.
  std::vector<std::pair<Clock::time_point, SyncStatus>> statuses() const {
    std::lock_guard lock(mu_);
    return statuses_;
  }
  std::vector<DocEvent> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Clock::time_point, SyncStatus>> statuses_;
  std::vector<DocEvent> events_;
};

}  // namespace settee::test::sync_support
