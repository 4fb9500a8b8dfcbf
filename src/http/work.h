// http/work.h — run blocking work (SQLite, file I/O) off the loop thread.
//
// Contract: `work` runs on one of libuv's pool threads (UV_THREADPOOL_SIZE of them, 4 by default), then
// `done` runs on the loop thread. Both functions are destroyed on the loop thread after `done` returns,
// so they may capture a Responder (whose last reference must drop on the loop thread). `work` must not
// throw (an exception escaping it ends the process, like any on a thread that does not catch it) and
// must not touch the loop or any handle; `done` may. The loop must keep running until `done` has run:
// a pending request keeps uv_run from returning, and uv_loop_close fails with UV_EBUSY until then.
// Call only on the loop thread. libuv's pool is one for the process, shared by every loop.
#pragma once

#include <uv.h>

#include <cstddef>
#include <deque>
#include <functional>

namespace settee::http {

// Queues `work`; `done` is always called, once, after `work` has run. uv_queue_work can only fail for
// a null callback, which this never passes, so there is no error to return.
void runOffLoop(uv_loop_t* loop, std::function<void()> work, std::function<void()> done);

// The pool's threads in use by long work (scans, password hashes, bulk writes, replications) are capped,
// so the rest stay free for quick work: /_up, /_session and small reads answer while slow requests run,
// however many of those a client sends. Long work beyond the cap waits its turn here, on the loop thread,
// in arrival order, holding no thread. Loop thread only; the same contract as runOffLoop.
class WorkGate {
 public:
  // At most `limit` (at least 1) gated jobs run at once.
  WorkGate(uv_loop_t* loop, size_t limit) : loop_(loop), limit_(limit ? limit : 1) {}
  WorkGate(const WorkGate&) = delete;
  WorkGate& operator=(const WorkGate&) = delete;

  // Runs `work` off the loop when a place is free, then `done` on the loop thread. `wanted`, asked on the
  // loop thread when the place comes, lets a job whose client has gone skip its work: `done` still runs.
  void run(std::function<bool()> wanted, std::function<void()> work, std::function<void()> done);

  // The cap the server uses: the pool's size (UV_THREADPOOL_SIZE, libuv's default 4) less a quarter of it,
  // and never less than two threads, kept for quick work. With several loops, each has a gate of its own
  // (a gate is one loop's) and this is one loop's share: the whole cap divided among `loops`, at least
  // one. The shares add up to no more than the cap as long as the pool has a thread of it per loop,
  // which is why `settee serve` sizes the pool by its loops.
  static size_t defaultLimit(size_t loops = 1);

  size_t running() const { return running_; }
  size_t waiting() const { return waiting_.size(); }

 private:
  struct Job {
    std::function<bool()> wanted;
    std::function<void()> work;
    std::function<void()> done;
  };
  void startNext();

  uv_loop_t* loop_;
  size_t limit_;
  size_t running_ = 0;
  std::deque<Job> waiting_;
};

}  // namespace settee::http
