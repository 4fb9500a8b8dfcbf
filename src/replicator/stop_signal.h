// replicator/stop_signal.h — the one flag that stops a replication, and a sleep it cuts short.
//
// A backoff between retries waits on this signal instead of sleeping in slices and re-reading a flag, so
// stop() ends the wait at once. Contract: raise() from any thread, any number of times; raised() and
// waitFor() from any thread. Owned by the replication; the agents hold a reference that must not outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace settee::repl {

class StopSignal {
 public:
  StopSignal() = default;
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  void raise() {
    {
      std::lock_guard lock(mu_);
      raised_ = true;
    }
    cv_.notify_all();
  }
  bool raised() const { return raised_.load(); }
  // Waits `duration` or until raised, whichever comes first; true when raised.
  bool waitFor(std::chrono::milliseconds duration) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, duration, [&] { return raised_.load(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> raised_{false};
};

}  // namespace settee::repl
