// replicator/sync_parts.h — the pure pieces of a Sync (settee/sync.h): its backoff, its docs/s window,
// the roles of its replications and the selectors they run with.
//
// Contract: plain values with no thread of their own; each is used by one thread at a time (the Sync's
// control thread, or under the Sync's lock).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <string_view>

#include "settee/status.h"

namespace settee::repl {

// The replications one connection of a Sync runs. The priority pair runs first, one-shot; then the
// continuous pair; the large push (one-shot, without the attachment limit) whenever the continuous push is
// caught up and left documents out, unless the network is metered.
enum class SyncRole { PriorityPush, PriorityPull, Push, Pull, LargePush };
inline constexpr size_t kSyncRoles = 5;
inline bool isPush(SyncRole role) {
  return role == SyncRole::PriorityPush || role == SyncRole::Push || role == SyncRole::LargePush;
}
inline bool isContinuous(SyncRole role) { return role == SyncRole::Push || role == SyncRole::Pull; }

// Tries after the first of each request a Sync's replications make before they fail and the Sync backs
// off: one, for the routine reopening of a feed the peer keeps open with heartbeats (sync_run.cc); more
// would only delay the Offline state an app shows when the peer is gone.
inline constexpr int kSyncRequestRetries = 1;

// The delay before reconnecting after the n-th failure in a row: drawn uniformly from
// [min, min(max, min * 2^n)] — "full jitter" above a floor. The jitter spreads the reconnections of many
// devices that lost the same peer at once (a server restart) over the whole window instead of sending
// them back together; the floor keeps a device from hammering a peer that has just refused it.
class SyncBackoff {
 public:
  SyncBackoff(std::chrono::milliseconds min, std::chrono::milliseconds max)
      : min_(std::max<std::chrono::milliseconds>(min, std::chrono::milliseconds(1))),
        max_(std::max(max, min_)) {}
  template <class Rng>
  std::chrono::milliseconds next(Rng& rng) {
    auto ceiling = min_;
    for (int i = 0; i < failures_ && ceiling < max_; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, max_);
    ++failures_;
    std::uniform_int_distribution<int64_t> pick(min_.count(), ceiling.count());
    return std::chrono::milliseconds(pick(rng));
  }
  // A success: the next failure waits `min` again.
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds min_, max_;
  int failures_ = 0;
};

// Documents per second over the last `window`: samples of a running total, the rate measured from the
// newest sample at least `window` old (or the oldest kept) to now. A total that stopped moving decays to 0
// once its last change is older than the window.
class RateWindow {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateWindow(std::chrono::milliseconds window = std::chrono::milliseconds(5000)) : window_(window) {}
  void add(Clock::time_point t, uint64_t total) {
    if (!samples_.empty() && samples_.back().total == total) return;  // no news: the older sample says more
    samples_.push_back({t, total});
    // Keep one sample at or before the window's start as the baseline; older ones say nothing more.
    while (samples_.size() > 2 && samples_[1].t <= t - window_) samples_.pop_front();
  }
  double perSecond(Clock::time_point now) const {
    if (samples_.size() < 2) return 0;
    const Sample* base = &samples_.front();
    for (const auto& s : samples_)
      if (s.t <= now - window_) base = &s;
    const Sample& last = samples_.back();
    if (base == &last) return 0;
    const double seconds = std::chrono::duration<double>(now - base->t).count();
    return seconds > 0 ? double(last.total - base->total) / seconds : 0;
  }
  void clear() { samples_.clear(); }

 private:
  struct Sample {
    Clock::time_point t;
    uint64_t total;
  };
  std::chrono::milliseconds window_;
  std::deque<Sample> samples_;
};

// A selector that both `a` and `b` (JSON; an empty one matches everything) must match: the one non-empty
// selector as it is, {"$and":[a,b]} for two, "" for none. bad_request for one that is not a JSON object.
Result<std::string> allOf(std::string_view a, std::string_view b);

}  // namespace settee::repl
