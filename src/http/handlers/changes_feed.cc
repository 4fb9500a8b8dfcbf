// _changes streaming: the state machine that pages through the store, writes chunks with backpressure,
// and sleeps between changes on a listener and uv timers. Loop thread only, except readBatch.
//
// States: Fetching (one readBatch in flight) -> write its chunk -> Fetching again, or Draining (the
// socket holds more than kHighWaterBytes; onDrain resumes), or Waiting (caught up, a waiting feed; a
// change listener, the heartbeat timer and the timeout timer are what can wake it) -> Done. A batch that
// ends inside a row whose attachment bodies are streamed goes through Tail (one piece of them read off
// the loop, then written) and TailDraining (waiting for the socket) until the row is out; meanwhile no
// heartbeat may go out, since it would land inside the row.
// Exactly one batch is ever in flight, so rows are written in order and memory stays at one batch.
//
// Lifetime: the Feed owns itself (self_) from begin() until it ends or the client goes away; callbacks
// that outlive it (the Responder's, the store's listener, posted wake-ups) hold weak references, and the
// timers' memory is freed in their close callbacks, as libuv requires.
#include "http/handlers/changes_feed.h"

#include <uv.h>

#include "db/database_internal.h"
#include "http/work.h"

namespace settee::http::changes {
namespace {

class Feed : public std::enable_shared_from_this<Feed> {
 public:
  Feed(std::shared_ptr<Call> call, ChangesParams params)
      : call_(std::move(call)), p_(std::move(params)), loop_(call_->svc->loop) {
    cursor_ = p_.descending ? UINT64_MAX : p_.since;
  }
  Feed(const Feed&) = delete;
  Feed& operator=(const Feed&) = delete;

  void begin();

 private:
  enum class State { Fetching, Draining, Tail, TailDraining, Waiting, Done };
  // What a batch decided about the feed, acted on once its rows (and any tail) are out.
  struct Next {
    bool limitReached = false;
    bool caughtUp = false;
    uint64_t pending = 0;
  };

  void fetch();
  void onBatch(BatchResult& batch);
  void advance(const Next& next);
  void readTail();
  void waitForChange();
  void onChange(uint64_t seq);
  void onDrained();
  void onHeartbeat();
  void onTimeout();
  void ensureStarted();
  void write(std::string_view chunk);
  void finish(uint64_t pending);
  void fail(const Status& status);
  void release();

  uv_timer_t* newTimer();
  static void closeTimer(uv_timer_t*& timer);
  static void heartbeatFired(uv_timer_t* timer);
  static void timeoutFired(uv_timer_t* timer);

  std::shared_ptr<Call> call_;
  const ChangesParams p_;  // read by readBatch off the loop too: never modified after construction
  uv_loop_t* loop_;
  std::shared_ptr<Feed> self_;
  std::chrono::steady_clock::time_point startedAt_ = std::chrono::steady_clock::now();

  State state_ = State::Fetching;
  uint64_t cursor_ = 0;              // last seq consumed (descending: UINT64_MAX before the first row)
  uint64_t emitted_ = 0;             // rows written
  uint64_t notifiedSeq_ = 0;         // highest update_seq a change listener reported
  std::optional<uint64_t> horizon_;  // normal/longpoll: where the current round stops
  bool firstBatch_ = true;
  bool started_ = false;
  bool wroteSinceTick_ = false;
  bool sentBlankLine_ = false;  // the blank line a continuous feed sends before it first waits  // a heartbeat is only needed when nothing else went out
  bool listening_ = false;
  Database::ListenerId listener_ = 0;
  uv_timer_t* heartbeat_ = nullptr;
  uv_timer_t* timeout_ = nullptr;
  std::shared_ptr<detail::PieceReader> tail_;  // the streamed rest of the last row, while Tail*
  Next afterTail_;                             // what the batch decided, acted on once tail_ is out
};

void Feed::begin() {
  self_ = shared_from_this();
  std::weak_ptr<Feed> weak = self_;
  call_->res->onClose([weak] {
    if (auto feed = weak.lock()) feed->release();
  });
  call_->res->onDrain([weak] {
    if (auto feed = weak.lock()) feed->onDrained();
  });
  if (call_->closed()) {
    release();
    return;
  }
  if (p_.waits()) {
    // Registered before the first scan, so a write that lands between the scan and the wait is not
    // missed. The listener runs on the writer's thread: it only hops to the loop.
    Server* server = call_->svc->server;
    listener_ = call_->db->addChangeListener([weak, server](uint64_t seq) {
      server->post([weak, seq] {
        if (auto feed = weak.lock()) feed->onChange(seq);
      });
    });
    listening_ = true;
  }
  fetch();
}

void Feed::fetch() {
  state_ = State::Fetching;
  BatchRequest req;
  req.cursor = cursor_;
  req.remaining = p_.limit - emitted_;
  req.resolveSinceNow = firstBatch_ && p_.sinceNow;
  req.checkFilter = firstBatch_;
  // A normal or longpoll answer is one request's worth of work: past the budget ([fabric] request_timeout)
  // it ends at the row it reached, a valid answer the client continues from with since=last_seq. A
  // selector that matches nothing in a huge database then costs a bounded time per request.
  req.finalBatch = (p_.feed == FeedKind::Normal || p_.feed == FeedKind::Longpoll) &&
                   std::chrono::steady_clock::now() - startedAt_ >= call_->svc->config->requestTimeout;
  // A normal feed (and each longpoll round) stops at the update_seq it saw first, so a steady stream
  // of writes cannot keep it going; a continuous feed takes a fresh horizon each batch.
  if (p_.feed == FeedKind::Normal || p_.feed == FeedKind::Longpoll) req.horizon = horizon_;
  bool firstRow = emitted_ == 0;
  auto result = std::make_shared<BatchResult>();
  auto self = shared_from_this();
  // A batch may scan and filter many rows: slow work, behind the gate.
  call_->svc->slowWork->run(
      [self] { return !self->call_->closed(); },
      [self, req, result, firstRow] { *result = readBatch(*self->call_->db, self->p_, req, firstRow); },
      [self, result] { self->onBatch(*result); });
}

void Feed::onBatch(BatchResult& batch) {
  if (state_ == State::Done) return;  // the client left while the batch was read
  if (!batch.status) return fail(batch.status);
  firstBatch_ = false;
  if (!p_.descending && (p_.feed == FeedKind::Normal || p_.feed == FeedKind::Longpoll))
    horizon_ = batch.horizon;
  ensureStarted();
  write(batch.chunk);
  emitted_ += batch.rows;
  cursor_ = batch.cursor;
  Next next{batch.limitReached, batch.caughtUp, batch.pending};
  if (batch.tail) {
    tail_ = std::move(batch.tail);
    afterTail_ = next;
    return readTail();
  }
  advance(next);
}

void Feed::readTail() {
  state_ = State::Tail;
  auto chunk = std::make_shared<std::string>();
  auto status = std::make_shared<Status>();
  auto self = shared_from_this();
  call_->svc->slowWork->run(
      [self] { return !self->call_->closed(); },
      [self, chunk, status] { *status = self->tail_->step(db::storeOf(*self->call_->db), *chunk); },
      [self, chunk, status] {
        if (self->state_ == State::Done) return;
        if (self->call_->closed()) return self->release();  // the step was skipped: nobody to read it
        if (!*status) return self->fail(*status);
        self->write(*chunk);
        if (self->tail_->done()) {
          self->tail_.reset();
          return self->advance(self->afterTail_);
        }
        if (self->call_->res->pendingBytes() > kHighWaterBytes) {
          self->state_ = State::TailDraining;
          return;
        }
        self->readTail();
      });
}

void Feed::advance(const Next& batch) {
  if (batch.limitReached) return finish(batch.pending);
  if (!batch.caughtUp) {
    if (call_->res->pendingBytes() > kHighWaterBytes) {
      state_ = State::Draining;
      return;
    }
    return fetch();
  }
  if (!p_.waits() || (p_.feed == FeedKind::Longpoll && emitted_ > 0)) return finish(0);
  horizon_.reset();                            // the next longpoll round reads a fresh one
  if (notifiedSeq_ > cursor_) return fetch();  // a change arrived while this batch was read
  waitForChange();
}

void Feed::waitForChange() {
  state_ = State::Waiting;
  // A continuous feed about to wait with nothing sent yet sends a blank line first, as CouchDB does
  // (its waiting_for_updates): a client that waits for the first bytes of the body, not just the
  // headers, learns at once that the feed is open, even when a filter lets nothing through for long.
  if (p_.feed == FeedKind::Continuous && emitted_ == 0 && !sentBlankLine_) {
    sentBlankLine_ = true;
    write("\n");
  }
  // With a heartbeat the feed stays open until the client leaves (CouchDB: heartbeat overrides timeout).
  if (p_.heartbeatMs) return;
  if (!timeout_) timeout_ = newTimer();
  if (timeout_) uv_timer_start(timeout_, timeoutFired, p_.timeoutMs, 0);
}

void Feed::onChange(uint64_t seq) {
  notifiedSeq_ = std::max(notifiedSeq_, seq);
  if (state_ != State::Waiting || seq <= cursor_) return;
  if (timeout_) uv_timer_stop(timeout_);
  fetch();
}

void Feed::onDrained() {
  if (state_ == State::Draining)
    fetch();
  else if (state_ == State::TailDraining)
    readTail();
}

void Feed::onHeartbeat() {
  if (state_ == State::Done || state_ == State::Tail || state_ == State::TailDraining) return;
  // Data flowing, or a client not reading, makes a heartbeat pointless.
  if (!wroteSinceTick_ && call_->res->pendingBytes() == 0)
    write(p_.feed == FeedKind::EventSource ? std::string_view("event: heartbeat\ndata: \n\n") : "\n");
  wroteSinceTick_ = false;
}

void Feed::onTimeout() {
  if (state_ == State::Waiting) finish(0);
}

void Feed::ensureStarted() {
  if (started_) return;
  started_ = true;
  Headers headers;
  if (p_.feed == FeedKind::EventSource) {
    headers.emplace_back("Content-Type", "text/event-stream");
    headers.emplace_back("Cache-Control", "no-cache");
  } else {
    headers.emplace_back("Content-Type", "application/json");
  }
  call_->start(200, std::move(headers));
  if (p_.feed == FeedKind::Normal || p_.feed == FeedKind::Longpoll) write("{\"results\":[\n");
  if (p_.waits() && p_.heartbeatMs) {
    heartbeat_ = newTimer();
    if (heartbeat_) uv_timer_start(heartbeat_, heartbeatFired, *p_.heartbeatMs, *p_.heartbeatMs);
  }
}

void Feed::write(std::string_view chunk) {
  if (chunk.empty()) return;
  call_->write(chunk);
  wroteSinceTick_ = true;
}

void Feed::finish(uint64_t pending) {
  ensureStarted();
  uint64_t lastSeq = p_.descending && cursor_ == UINT64_MAX ? 0 : cursor_;
  switch (p_.feed) {
    case FeedKind::Normal:
    case FeedKind::Longpoll:
      // The tail of the results object; the numbers are the only values in it.
      write("\n],\n\"last_seq\":" + std::to_string(lastSeq) + ",\"pending\":" + std::to_string(pending) +
            "}\n");
      break;
    case FeedKind::Continuous:
      write(writeJson([&](db::JsonWriter& w) {
              w.StartObject();
              db::writeKey(w, "last_seq");
              w.Uint64(lastSeq);
              db::writeKey(w, "pending");
              w.Uint64(pending);
              w.EndObject();
            }) +
            "\n");
      break;
    case FeedKind::EventSource:
      break;  // CouchDB just ends the event stream
  }
  call_->end();
  release();
}

void Feed::fail(const Status& status) {
  // Before the status line is out the error is an ordinary CouchDB error; after, all that can be done
  // is to cut the stream short, which the client sees as a truncated body.
  if (!started_)
    call_->send(errorResponse(status));
  else
    call_->end();
  release();
}

// Idempotent; may run inside the Responder's onClose. Callers hold a reference, so `this` outlives it.
void Feed::release() {
  state_ = State::Done;
  if (listening_) {
    call_->db->removeChangeListener(listener_);
    listening_ = false;
  }
  closeTimer(heartbeat_);
  closeTimer(timeout_);
  self_.reset();
}

uv_timer_t* Feed::newTimer() {
  auto* timer = new uv_timer_t;
  if (uv_timer_init(loop_, timer) != 0) {
    delete timer;  // never initialised, so never to be closed
    return nullptr;
  }
  timer->data = this;
  return timer;
}

void Feed::closeTimer(uv_timer_t*& timer) {
  if (!timer) return;
  timer->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer = nullptr;
}

void Feed::heartbeatFired(uv_timer_t* timer) {
  auto* feed = static_cast<Feed*>(timer->data);
  if (!feed) return;
  auto keep = feed->shared_from_this();
  feed->onHeartbeat();
}

void Feed::timeoutFired(uv_timer_t* timer) {
  auto* feed = static_cast<Feed*>(timer->data);
  if (!feed) return;
  auto keep = feed->shared_from_this();
  feed->onTimeout();
}

}  // namespace

void startFeed(std::shared_ptr<Call> call, ChangesParams params) {
  std::make_shared<Feed>(std::move(call), std::move(params))->begin();
}

}  // namespace settee::http::changes
