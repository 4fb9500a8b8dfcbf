// The paged JSON stream of the bulk family: pages made on the thread pool, sent from the loop thread.
#include <exception>

#include "http/handlers/bulk_internal.h"
#include "http/work.h"

namespace settee::http::detail {
namespace {

// Output waiting for the client beyond which no further page is made until it drains: a client that
// reads slowly costs us at most this much memory (plus one page), however large the answer.
constexpr size_t kHighWater = 1024 * 1024;

// One streamed answer. Owned by the closures in flight (a page being made, or the drain callback); it
// holds the Call, so the Responder lives until the stream ends or is abandoned. The drain callback is
// the only reference the Responder holds back, and Responder::end / the connection's close release it.
struct Pump : std::enable_shared_from_this<Pump> {
  std::shared_ptr<Call> call;
  std::shared_ptr<PageSource> source;
  int status = 200;
  bool started = false;
  // Written by the pool thread, read by the loop thread after it (runOffLoop orders the two).
  std::string chunk;
  Status result;
  bool done = false;

  void makePage() {
    auto self = shared_from_this();
    runOffLoop(
        call->svc->loop,
        [self] {
          self->chunk.clear();
          try {
            self->result = self->source->page(self->chunk, self->done);
          } catch (const std::exception& e) {
            self->result = Status(ErrorCode::Internal, e.what());
          }
        },
        [self] { self->sendPage(); });
  }

  void sendPage() {
    if (!started) {
      if (!result) {
        call->send(errorResponse(result));
        return;
      }
      started = true;
      call->start(status);
    } else if (!result) {
      return;  // dropping the last reference abandons the Responder, which cuts the connection
    }
    if (call->closed()) return;
    call->write(chunk);
    if (done) {
      call->end();
      return;
    }
    if (call->res->pendingBytes() <= kHighWater) {
      makePage();
      return;
    }
    auto self = shared_from_this();
    call->res->onDrain([self] {
      self->call->res->onDrain(nullptr);  // the connection called a copy, so this may release it
      if (!self->call->closed()) self->makePage();
    });
  }
};

}  // namespace

void streamPages(std::shared_ptr<Call> call, std::shared_ptr<PageSource> source, int status) {
  auto pump = std::make_shared<Pump>();
  pump->call = std::move(call);
  pump->source = std::move(source);
  pump->status = status;
  pump->makePage();
}

}  // namespace settee::http::detail
