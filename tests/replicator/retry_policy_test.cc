// The retry policy alone: which failures are asked again, how the waits between tries grow, and how a
// call in trouble is reported and cut short by a stop.
#include "replicator/retry_policy.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

using namespace settee;
using namespace settee::repl;
using namespace std::chrono_literals;

namespace {

struct Observer : TroubleObserver {
  int begun = 0, ended = 0, recovered = 0;
  Status firstError;
  void beginTrouble(const Status& why) override {
    if (begun++ == 0) firstError = why;
  }
  void endTrouble(bool ok) override {
    ++ended;
    recovered += ok;
  }
};

// A generator whose every draw is `value`: the jitter is then known.
struct FixedRng {
  uint64_t value;
  uint64_t operator()() const { return value; }
};

}  // namespace

TEST_CASE(
    "RetryPolicy: the network, timeouts and server errors are transient; refusals and bad input are not",
    "[repl][retry]") {
  const struct {
    ErrorCode code;
    bool transient;
  } table[] = {
      {ErrorCode::Internal, true},        {ErrorCode::PreconditionFailed, true},
      {ErrorCode::Conflict, false},       {ErrorCode::TooLarge, false},
      {ErrorCode::BadContentType, false}, {ErrorCode::Unauthorized, false},
      {ErrorCode::Forbidden, false},      {ErrorCode::BadRequest, false},
      {ErrorCode::NotFound, false},       {ErrorCode::IllegalDatabaseName, false},
  };
  for (const auto& row : table) {
    INFO(errorName(row.code));
    CHECK(isTransient(Status(row.code, "x")) == row.transient);
  }
}

TEST_CASE("Backoff: each wait doubles up to the cap, plus at most half of it at random", "[repl][retry]") {
  Backoff none(100ms, 700ms);
  FixedRng zero{0};
  CHECK(none.next(zero) == 100ms);
  CHECK(none.next(zero) == 200ms);
  CHECK(none.next(zero) == 400ms);
  CHECK(none.next(zero) == 700ms);  // capped
  CHECK(none.next(zero) == 700ms);

  Backoff most(100ms, 700ms);
  FixedRng top{50};  // rng() % (delay / 2 + 1) == delay / 2 for the first delay
  CHECK(most.next(top) == 150ms);
  std::mt19937 rng{42};
  Backoff random(250ms, 30000ms);
  for (int i = 0; i < 8; ++i) (void)random.next(rng);  // 250 ms doubled 7 times passes the cap
  for (int i = 0; i < 100; ++i) {
    auto wait = random.next(rng);
    CHECK(wait >= 30000ms);
    CHECK(wait <= 45000ms);
  }
}

TEST_CASE("RetryPolicy: a transient failure is retried until it succeeds, reported once as trouble",
          "[repl][retry]") {
  StopSignal stop;
  Observer observer;
  RetryPolicy policy(8, stop, observer, 1ms, 4ms);
  int calls = 0;
  auto r = policy.run([&]() -> Result<int> {
    if (++calls < 4) return Status(ErrorCode::Internal, "connection refused");
    return 7;
  });
  REQUIRE(r);
  CHECK(*r == 7);
  CHECK(calls == 4);
  CHECK(observer.begun == 1);
  CHECK(observer.firstError.reason() == "connection refused");
  CHECK(observer.ended == 1);
  CHECK(observer.recovered == 1);
}

TEST_CASE("RetryPolicy: a permanent failure is answered at once, without trouble", "[repl][retry]") {
  StopSignal stop;
  Observer observer;
  RetryPolicy policy(8, stop, observer, 1ms, 4ms);
  int calls = 0;
  auto st = policy.runStatus([&] {
    ++calls;
    return Status(ErrorCode::Forbidden, "no");
  });
  CHECK(st.code() == ErrorCode::Forbidden);
  CHECK(calls == 1);
  CHECK(observer.begun == 0);
}

TEST_CASE("RetryPolicy: after its retries the last failure is answered and the trouble ends unrecovered",
          "[repl][retry]") {
  StopSignal stop;
  Observer observer;
  RetryPolicy policy(3, stop, observer, 1ms, 4ms);
  int calls = 0;
  auto r = policy.run(
      [&]() -> Result<int> { return Status(ErrorCode::Internal, "try " + std::to_string(++calls)); });
  REQUIRE_FALSE(r);
  CHECK(calls == 4);  // the first try and 3 retries
  CHECK(r.status().reason() == "try 4");
  CHECK(observer.ended == 1);
  CHECK(observer.recovered == 0);
}

TEST_CASE("RetryPolicy: a stop ends a backoff at once and the call is not tried again", "[repl][retry]") {
  StopSignal stop;
  Observer observer;
  RetryPolicy policy(8, stop, observer, 60s, 60s);  // a wait that would outlast the test
  int calls = 0;
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    stop.raise();
  });
  auto started = std::chrono::steady_clock::now();
  auto r = policy.run([&]() -> Result<int> {
    ++calls;
    return Status(ErrorCode::Internal, "down");
  });
  stopper.join();
  CHECK_FALSE(r);
  CHECK(calls == 2);  // the try before the stop, and the one the woken backoff makes, which sees the stop
  CHECK(std::chrono::steady_clock::now() - started < 10s);
}
