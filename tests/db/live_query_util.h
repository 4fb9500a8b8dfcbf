// What the live query tests share: a recorder of delivered results and small helpers.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "settee/database.h"
#include "test_util.h"

namespace settee::test::live {

using settee::Database;
using settee::FindOptions;
using settee::LiveResult;

constexpr auto kWait = std::chrono::seconds(20);

inline std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto db = Database::open(dir.file("db.settee"), "db");
  REQUIRE(db);
  return std::move(*db);
}

// Collects the results a live query delivers and the threads they came on.
class Recorder {
 public:
  std::function<void(const LiveResult&)> callback() {
    return [this](const LiveResult& r) {
      std::lock_guard lock(mu_);
      results_.push_back(r);
      threads_.push_back(std::this_thread::get_id());
      cv_.notify_all();
    };
  }
  // Waits until `n` results have arrived; false after kWait.
  bool waitFor(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return results_.size() >= n; });
  }
  // Waits until the last result satisfies `pred`.
  bool waitUntil(const std::function<bool(const LiveResult&)>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return !results_.empty() && pred(results_.back()); });
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return results_.size();
  }
  LiveResult at(size_t i) {
    std::lock_guard lock(mu_);
    return results_.at(i);
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<LiveResult> results_;
  std::vector<std::thread::id> threads_;
};

// The `_id`s of a result, in order.
inline std::vector<std::string> ids(const LiveResult& r) {
  std::vector<std::string> out;
  for (const auto& doc : r.docs) out.push_back(Json(doc).str("_id"));
  return out;
}

inline std::string put(Database& db, const std::string& json) {
  auto r = db.put(json);
  REQUIRE(r);
  return r->rev;
}

inline FindOptions limit(uint64_t n) {
  FindOptions o;
  o.limit = n;
  return o;
}

}  // namespace settee::test::live
