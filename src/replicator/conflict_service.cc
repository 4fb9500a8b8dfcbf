// The node's conflict service (conflict_service.h): one worker following the watched databases' changes.
#include "replicator/conflict_service.h"

#include <cstdio>
#include <vector>

namespace settee::repl {

ConflictService::ConflictService(DataDir& data, std::map<std::string, ConflictPolicy> policies)
    : data_(data), policies_(std::move(policies)) {}

Result<std::unique_ptr<ConflictService>> ConflictService::fromTexts(
    DataDir& data, const std::map<std::string, std::string>& texts) {
  std::map<std::string, ConflictPolicy> policies;
  for (const auto& [name, text] : texts) {
    auto policy = ConflictPolicy::parse(text);
    if (!policy)
      return Status(ErrorCode::BadRequest, "conflict policy of " + name + ": " + policy.status().reason());
    policies[name] = std::move(*policy);
  }
  return std::make_unique<ConflictService>(data, std::move(policies));
}

ConflictService::~ConflictService() {
  {
    std::lock_guard lock(wake_->mu);
    wake_->stopping = true;
  }
  wake_->cv.notify_all();
  if (worker_.joinable()) worker_.join();
  for (auto& [name, w] : watched_) w.db->removeChangeListener(w.listener);
}

void ConflictService::start() {
  if (policies_.empty() || worker_.joinable()) return;
  worker_ = std::thread([this] { run(); });
}

std::optional<ConflictPolicy> ConflictService::policyFor(const std::string& name) const {
  if (name.empty() || name.front() == '_') return std::nullopt;  // _users, _replicator: the node's own
  auto it = policies_.find(name);
  if (it == policies_.end()) it = policies_.find("default");
  if (it == policies_.end()) return std::nullopt;
  return it->second;
}

void ConflictService::run() {
  auto nextRescan = std::chrono::steady_clock::now();
  std::unique_lock lock(wake_->mu);
  for (;;) {
    wake_->cv.wait_until(lock, nextRescan, [&] { return wake_->stopping || wake_->changed; });
    if (wake_->stopping) return;
    wake_->changed = false;
    lock.unlock();
    if (std::chrono::steady_clock::now() >= nextRescan) {
      rescan();
      nextRescan = std::chrono::steady_clock::now() + kRescan;
    }
    for (auto& [name, w] : watched_) resolveChanged(w);
    lock.lock();
  }
}

void ConflictService::rescan() {
  std::vector<std::string> names;
  if (policies_.count("default")) {
    auto listed = data_.list();
    if (!listed) {
      std::fprintf(stderr, "[error] conflict policies: %s\n", listed.status().reason().c_str());
      return;
    }
    names = std::move(*listed);
  } else {
    for (const auto& [name, policy] : policies_) names.push_back(name);
  }
  std::map<std::string, Watched> next;
  for (const auto& name : names) {
    auto policy = policyFor(name);
    if (!policy) continue;
    auto db = data_.open(name);
    if (!db) continue;  // not created yet: looked for again at the next rescan
    auto it = watched_.find(name);
    if (it != watched_.end() && it->second.db == *db) {
      next[name] = std::move(it->second);
      watched_.erase(it);
      continue;
    }
    Watched w{*db, 0, 0, std::move(*policy)};
    // Only a note and a wake-up: the listener runs on the writer's thread, which must not wait for a
    // resolution (nor could it write one: the write that called it still holds its turn).
    w.listener = w.db->addChangeListener([wake = wake_](uint64_t) {
      {
        std::lock_guard lock(wake->mu);
        wake->changed = true;
      }
      wake->cv.notify_all();
    });
    next[name] = std::move(w);
  }
  // Databases deleted (or re-created: a new instance above) since the last rescan.
  for (auto& [name, w] : watched_) w.db->removeChangeListener(w.listener);
  watched_ = std::move(next);
}

void ConflictService::resolveChanged(Watched& w) {
  ChangesOptions options;
  options.since = w.seenSeq;
  options.allLeaves = true;
  std::vector<std::string> ids;
  // A document with one leaf has no conflict; one with several may (its other leaves may be deleted).
  auto scanned = w.db->changes(options, [&](const Change& c) {
    if (c.revs.size() > 1 && c.id.rfind("_design/", 0) != 0) ids.push_back(c.id);
    return true;
  });
  if (!scanned) {
    std::fprintf(stderr, "[error] conflict policies: changes of %s: %s\n", w.db->name().c_str(),
                 scanned.status().reason().c_str());
    return;
  }
  w.seenSeq = *scanned;
  for (const auto& id : ids) {
    {
      std::lock_guard lock(wake_->mu);
      if (wake_->stopping) return;
    }
    auto resolved = w.db->resolveConflict(id, w.policy);
    if (!resolved)
      std::fprintf(stderr, "[error] conflict policy %s on %s/%s: %s\n", w.policy.describe().c_str(),
                   w.db->name().c_str(), id.c_str(), resolved.status().reason().c_str());
  }
}

}  // namespace settee::repl
