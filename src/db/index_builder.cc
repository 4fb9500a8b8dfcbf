// index_builder.cc — the background index build (index_builder.h).
#include "db/index_builder.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "db/store.h"

namespace settee::db {

struct IndexBuilder::Core {
  Store* store = nullptr;
  std::mutex mu;
  std::atomic<bool> closed{false};  // read by the build between chunks, without mu
  bool pending = false;             // indexes may have a backlog the worker has not looked at yet
  bool running = false;             // the worker runs; false once it no longer touches the store
  std::thread worker;
  uint64_t listener = 0;
};

namespace {

using Core = IndexBuilder::Core;

// Builds every index with a backlog until none is left, or the builder closes. A registration that
// lands during a pass sets `pending` again, so the worker looks once more before it ends.
void run(Core& core) {
  for (;;) {
    {
      std::lock_guard lock(core.mu);
      if (core.closed || !core.pending) {
        core.running = false;
        return;
      }
      core.pending = false;
    }
    Result<std::vector<IndexSpec>> specs = core.store->indexes();
    if (!specs) continue;  // pending is false unless a new registration came: then try again
    for (const IndexSpec& spec : *specs) {
      // not_found: the index was dropped meanwhile. Any other error is the next query's to report.
      (void)core.store->updateIndex(spec, [&] { return core.closed.load(); });
      if (core.closed) break;
    }
  }
}

// Marks work pending and starts the worker unless it runs (a finished one is joined first).
void wake(Core& core) {
  std::lock_guard lock(core.mu);
  if (core.closed) return;
  core.pending = true;
  if (core.running) return;
  if (core.worker.joinable()) core.worker.join();  // it has returned (running is false): no wait
  core.running = true;
  core.worker = std::thread([&core] { run(core); });
}

}  // namespace

IndexBuilder::IndexBuilder(Store& store) : core_(std::make_shared<Core>()) {
  core_->store = &store;
  std::weak_ptr<Core> weak = core_;
  core_->listener = store.addChangeListener([weak](uint64_t) {
    std::shared_ptr<Core> core = weak.lock();
    if (core && core->store->takeIndexRegistered()) wake(*core);
  });
  // Indexes left pending by a node closed mid-build (or registered by an older file's migration).
  Result<uint64_t> backlog = store.indexBacklog();
  if (backlog && *backlog > 0) wake(*core_);
}

IndexBuilder::~IndexBuilder() {
  core_->store->removeChangeListener(core_->listener);
  std::thread worker;
  {
    std::lock_guard lock(core_->mu);
    core_->closed = true;
    worker = std::move(core_->worker);
  }
  if (worker.joinable()) worker.join();
}

}  // namespace settee::db
