#include "replicator/client_thread.h"

#include <csignal>
#include <future>

namespace settee::repl {

ClientThread::ClientThread(http::ClientOptions options) {
  // A peer that closes its socket while we write must fail that request, not kill the app that embeds
  // us: writes then fail with EPIPE. (An app with its own SIGPIPE handler keeps it.)
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, onAsync);
  async_.data = this;
  client_ = std::make_unique<http::HttpClient>(&loop_, std::move(options));
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

ClientThread::~ClientThread() {
  post([this] {
    client_->close([this] { uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr); });
  });
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  thread_.join();
  client_.reset();
  uv_loop_close(&loop_);
}

void ClientThread::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (closing_) return;
    queue_.push_back(std::move(fn));
  }
  uv_async_send(&async_);
}

void ClientThread::onAsync(uv_async_t* handle) {
  auto* self = static_cast<ClientThread*>(handle->data);
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(self->mu_);
    work.swap(self->queue_);
  }
  for (auto& fn : work) fn();
}

http::ClientResponse ClientThread::call(http::ClientRequest request) {
  return run([this, req = std::move(request)](Done done, http::RequestId* id) mutable {
    return client_->request(std::move(req), std::move(done), id);
  });
}

http::ClientResponse ClientThread::stream(http::ClientRequest request,
                                          std::function<void(const http::ResponseHead&)> onHeaders,
                                          std::function<bool(std::string_view)> onData) {
  return run([this, req = std::move(request), onHeaders = std::move(onHeaders),
              onData = std::move(onData)](Done done, http::RequestId* id) mutable {
    // The response as call() gives it, without the body the handlers took.
    auto head = std::make_shared<http::ClientResponse>();
    auto finish = std::make_shared<Done>(std::move(done));
    http::StreamHandlers h;
    h.onHeaders = [head, onHeaders](const http::ResponseHead& rh) {
      head->status = rh.status;
      head->headers = rh.headers;
      if (onHeaders) onHeaders(rh);
    };
    h.onData = [this, id, onData](std::string_view chunk) {
      if (onData && !onData(chunk)) client_->cancel(*id);
    };
    h.onComplete = [head, finish] { (*finish)(std::move(*head)); };
    h.onError = [head, finish](const http::ClientError& e) {
      head->error = e;
      (*finish)(std::move(*head));
    };
    return client_->stream(std::move(req), std::move(h), id);
  });
}

http::ClientResponse ClientThread::run(std::function<http::ClientError(Done, http::RequestId*)> begin) {
  auto promise = std::make_shared<std::promise<http::ClientResponse>>();
  auto future = promise->get_future();
  bool posted = false;
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      posted = true;
      queue_.push_back([this, promise, begin = std::move(begin)]() mutable {
        if (cancelled_) {  // queued before cancelAll() ran, started after: cancelled all the same
          http::ClientResponse failed;
          failed.error = {http::ClientErrc::Cancelled, "cancelled"};
          promise->set_value(std::move(failed));
          return;
        }
        auto id = std::make_shared<http::RequestId>(0);
        http::ClientError err = begin(
            [this, promise, id](http::ClientResponse r) {
              inFlight_.erase(*id);
              promise->set_value(std::move(r));
            },
            id.get());
        if (err.ok()) inFlight_.insert(*id);
        if (!err.ok()) {
          http::ClientResponse failed;
          failed.error = err;
          promise->set_value(std::move(failed));
        }
      });
    }
  }
  if (!posted) {
    http::ClientResponse failed;
    failed.error = {http::ClientErrc::Cancelled, "client closing"};
    return failed;
  }
  uv_async_send(&async_);
  return future.get();
}

void ClientThread::cancelAll() {
  post([this] {
    cancelled_ = true;
    std::set<http::RequestId> ids;
    ids.swap(inFlight_);
    for (http::RequestId id : ids) client_->cancel(id);
  });
}

}  // namespace settee::repl
