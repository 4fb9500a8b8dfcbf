// replicator/retry_policy.h — which failures are worth asking again, and how long to wait before each try.
//
// Every request a replication makes goes through RetryPolicy::run: a transient failure (the network, a
// timeout, a 5xx) is retried with exponential backoff and jitter until it succeeds, fails for good, the
// retries run out or the replication stops. A permanent one (a refusal, a bad request, a missing
// database, a conflict, a body too large) is answered at once: asking again would not change it.
//
// While any call backs off, the observer hears beginTrouble() once, with the first error, and
// endTrouble() when that call ends; the coordinator turns those into the Retrying state.
// Contract: run() may be called from several threads at once; the observer and the stop signal must
// outlive the policy. Backoff is a plain value with no thread of its own.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

#include "replicator/stop_signal.h"
#include "replicator/tuning.h"
#include "settee/status.h"

namespace settee::repl {

// Failures worth retrying: the network, timeouts, 5xx.
bool isTransient(const Status& st);

// The delays between tries: `start`, doubling up to `max`, each plus up to half of it at random so
// that workers failing together do not retry together.
class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds start = tuning::kBackoffStart,
                   std::chrono::milliseconds max = tuning::kBackoffMax)
      : delay_(start), max_(max) {}
  // The wait before the next try, in [delay, delay * 1.5]; the delay then doubles (capped).
  template <class Rng>
  std::chrono::milliseconds next(Rng& rng) {
    auto jittered = delay_ + std::chrono::milliseconds(rng() % (delay_.count() / 2 + 1));
    delay_ = std::min(delay_ * 2, max_);
    return jittered;
  }

 private:
  std::chrono::milliseconds delay_, max_;
};

// Told when calls begin and end backing off; called from the calling threads.
class TroubleObserver {
 public:
  virtual ~TroubleObserver() = default;
  virtual void beginTrouble(const Status& why) = 0;
  // `recovered`: the call succeeded in the end (one that gave up leaves the state to the failure that
  // follows).
  virtual void endTrouble(bool recovered) = 0;
};

class RetryPolicy {
 public:
  // `retries`: tries after the first before giving up; the backoff starts at `backoffStart` and is
  // capped at `backoffMax` (the tuned constants but in tests, which cannot wait for them).
  RetryPolicy(int retries, StopSignal& stop, TroubleObserver& observer,
              std::chrono::milliseconds backoffStart = tuning::kBackoffStart,
              std::chrono::milliseconds backoffMax = tuning::kBackoffMax)
      : retries_(retries),
        stop_(stop),
        observer_(observer),
        backoffStart_(backoffStart),
        backoffMax_(backoffMax) {}

  // Runs `fn` (answering a Result) until it succeeds, `worthRetrying` says no, a stop, or the retries run
  // out.
  template <class F, class P = bool (*)(const Status&)>
  auto run(F&& fn, P worthRetrying = isTransient) -> decltype(fn()) {
    thread_local std::mt19937 rng{std::random_device{}()};
    Backoff backoff(backoffStart_, backoffMax_);
    bool inTrouble = false;
    for (int attempt = 0;; ++attempt) {
      auto r = fn();
      if (r.isOk() || !worthRetrying(r.status()) || attempt >= retries_ || stop_.raised()) {
        if (inTrouble) observer_.endTrouble(r.isOk());
        return r;
      }
      if (!inTrouble) {
        inTrouble = true;
        observer_.beginTrouble(r.status());
      }
      stop_.waitFor(backoff.next(rng));
    }
  }

  // run() for calls that answer a bare Status.
  template <class F>
  Status runStatus(F&& fn) {
    auto r = run([&]() -> Result<bool> {
      Status st = fn();
      if (!st) return st;
      return true;
    });
    return r ? Status::ok() : r.status();
  }

 private:
  int retries_;
  StopSignal& stop_;
  TroubleObserver& observer_;
  const std::chrono::milliseconds backoffStart_, backoffMax_;
};

}  // namespace settee::repl
