// http/work.h — run blocking work (SQLite, file I/O) off the loop thread.
//
// Contract: `work` runs on one of libuv's pool threads (UV_THREADPOOL_SIZE of them, 4 by default), then
// `done` runs on the loop thread. Both functions are destroyed on the loop thread after `done` returns,
// so they may capture a Responder (whose last reference must drop on the loop thread). `work` must not
// throw (an exception escaping it ends the process, like any on a thread that does not catch it) and
// must not touch the loop or any handle; `done` may. The loop must keep running until `done` has run:
// a pending request keeps uv_run from returning, and uv_loop_close fails with UV_EBUSY until then.
// Call only on the loop thread.
#pragma once

#include <uv.h>

#include <functional>

namespace settee::http {

// Queues `work`; `done` is always called, once, after `work` has run. uv_queue_work can only fail for
// a null callback, which this never passes, so there is no error to return.
void runOffLoop(uv_loop_t* loop, std::function<void()> work, std::function<void()> done);

}  // namespace settee::http
