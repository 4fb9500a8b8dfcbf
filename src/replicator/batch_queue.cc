#include "replicator/batch_queue.h"

namespace settee::repl {

bool BatchQueue::waitForRoom() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.size() < depth_ || !failure_.isOk() || stop_.raised(); });
  return failure_.isOk() && !stop_.raised();
}

void BatchQueue::push(Batch batch) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(batch));
  }
  cv_.notify_all();
}

void BatchQueue::close(const Status& st) {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (!st && failure_.isOk()) failure_ = st;
  }
  cv_.notify_all();
}

void BatchQueue::waitDrained() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return (queue_.empty() && inFlight_ == 0) || !failure_.isOk(); });
}

std::optional<Batch> BatchQueue::take() {
  std::optional<Batch> batch;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || closed_ || !failure_.isOk(); });
    if (!failure_.isOk() || queue_.empty()) return std::nullopt;
    batch = std::move(queue_.front());
    queue_.pop_front();
    ++inFlight_;
  }
  cv_.notify_all();  // the reader waits for room
  return batch;
}

void BatchQueue::finished(const Status& st) {
  {
    std::lock_guard lock(mu_);
    --inFlight_;
    if (!st && failure_.isOk()) failure_ = st;
  }
  cv_.notify_all();
}

Status BatchQueue::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

void BatchQueue::wake() {
  { std::lock_guard lock(mu_); }  // a waiter between its check and its wait would miss the notify
  cv_.notify_all();
}

}  // namespace settee::repl
