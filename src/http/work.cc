#include "http/work.h"

#include <cstdlib>
#include <memory>

namespace settee::http {

namespace {

struct Work {
  uv_work_t req;  // first member: the uv_work_t* libuv hands back is this object
  std::function<void()> work;
  std::function<void()> done;
};

void onWork(uv_work_t* req) {
  auto* job = reinterpret_cast<Work*>(req);
  if (job->work) job->work();
}

void onAfterWork(uv_work_t* req, int) {
  // Owned here from now on: the functions and their captures die on the loop thread, after done.
  std::unique_ptr<Work> job(reinterpret_cast<Work*>(req));
  if (job->done) job->done();
}

}  // namespace

void runOffLoop(uv_loop_t* loop, std::function<void()> work, std::function<void()> done) {
  auto* job = new Work{{}, std::move(work), std::move(done)};
  if (uv_queue_work(loop, &job->req, onWork, onAfterWork) != 0) {
    // Unreachable (see the header); failing loudly beats a request that never gets an answer.
    std::abort();
  }
}

}  // namespace settee::http
