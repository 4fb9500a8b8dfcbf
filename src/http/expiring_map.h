// http/expiring_map.h — a map bounded in size and in time, for the caches and counters of auth.
//
// Every entry lives `lifetime` from its insertion (finding or changing it does not extend that), and
// at most `capacity` entries are kept: inserting into a full map drops the oldest. So the memory is
// bounded whatever callers do, and since all entries share one lifetime, the oldest is also the first
// to expire. Not thread-safe: the owner locks.
#pragma once

#include <chrono>
#include <list>
#include <string>
#include <unordered_map>

namespace settee::http {

template <class V>
class ExpiringMap {
 public:
  using Clock = std::chrono::steady_clock;

  ExpiringMap(size_t capacity, Clock::duration lifetime) : capacity_(capacity), lifetime_(lifetime) {}

  // The live entry for `key`, or nullptr. The pointer is valid until the next insert or erase.
  V* find(const std::string& key, Clock::time_point now = Clock::now()) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (it->second.expires <= now) {
      order_.erase(it->second.order);
      map_.erase(it);
      return nullptr;
    }
    return &it->second.value;
  }

  // Sets `key` to `value`, living `lifetime` from now.
  V& insert(const std::string& key, V value, Clock::time_point now = Clock::now()) {
    erase(key);
    while (!order_.empty() && (map_.size() >= capacity_ || map_.at(order_.front()).expires <= now)) {
      map_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(key);
    auto [it, added] = map_.emplace(key, Slot{std::move(value), now + lifetime_, std::prev(order_.end())});
    return it->second.value;
  }

  void erase(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    order_.erase(it->second.order);
    map_.erase(it);
  }

  void clear() {
    map_.clear();
    order_.clear();
  }
  size_t size() const { return map_.size(); }

 private:
  struct Slot {
    V value;
    Clock::time_point expires;
    std::list<std::string>::iterator order;
  };
  size_t capacity_;
  Clock::duration lifetime_;
  std::unordered_map<std::string, Slot> map_;
  std::list<std::string> order_;  // keys, oldest first
};

}  // namespace settee::http
