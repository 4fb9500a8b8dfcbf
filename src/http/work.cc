#include "http/work.h"

#include <algorithm>
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

void WorkGate::run(std::function<bool()> wanted, std::function<void()> work, std::function<void()> done) {
  waiting_.push_back(Job{std::move(wanted), std::move(work), std::move(done)});
  startNext();
}

void WorkGate::startNext() {
  while (running_ < limit_ && !waiting_.empty()) {
    Job job = std::move(waiting_.front());
    waiting_.pop_front();
    if (job.wanted && !job.wanted()) {
      job.work = nullptr;  // nobody waits for it: the place goes to the next job
      if (job.done) job.done();
      continue;
    }
    ++running_;
    runOffLoop(loop_, std::move(job.work), [this, done = std::move(job.done)] {
      --running_;
      if (done) done();
      startNext();
    });
  }
}

size_t WorkGate::defaultLimit(size_t loops) {
  size_t pool = 4;
  if (const char* env = std::getenv("UV_THREADPOOL_SIZE")) {
    long n = std::strtol(env, nullptr, 10);
    if (n > 0) pool = static_cast<size_t>(n);
  }
  size_t reserve = std::max<size_t>(2, pool / 4);
  const size_t cap = pool > reserve ? pool - reserve : 1;
  return std::max<size_t>(1, cap / std::max<size_t>(1, loops));
}

}  // namespace settee::http
