// Live queries and threads: callbacks off the writer's thread, handles destroyed from any thread (their
// own callback included), callbacks that write, a database closed under registered queries.
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "live_query_util.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using namespace settee::test::live;
using settee::test::Json;
using settee::test::TempDir;

TEST_CASE("LiveQuery: callbacks never run on the writer's thread", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", limit(100), rec.callback());
  REQUIRE(live);
  std::thread::id writer;
  std::thread t([&] {
    writer = std::this_thread::get_id();
    for (int i = 0; i < 20; ++i) put(*db, R"({"_id":"w)" + std::to_string(i) + R"(","type":"todo"})");
  });
  t.join();
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 20; }));
  auto threads = rec.threads();
  for (auto id : threads) {
    CHECK(id != writer);
    CHECK(id != std::this_thread::get_id());
    CHECK(id == threads.front());  // one at a time, from the database's worker
  }
}

TEST_CASE("LiveQuery: destroying a handle waits for its running callback and stops the next ones",
          "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, release = false;
  std::atomic<int> calls{0}, running{0};
  auto live = db->liveQuery(R"({"type":"todo"})", {}, [&](const LiveResult&) {
    ++running;
    ++calls;
    std::unique_lock lock(mu);
    inside = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    --running;
  });
  REQUIRE(live);
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, kWait, [&] { return inside; }));
  }
  // The first callback is blocked; destroy the handle from another thread while it runs.
  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    live->reset();
    destroyed = true;
  });
  // The destructor cannot return while the callback runs: let it run a little, then release it.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(destroyed);
  {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  }
  destroyer.join();
  CHECK(destroyed);
  CHECK(running == 0);
  // Later writes deliver nothing to it (the fence: another query sees them).
  Recorder rec;
  auto other = db->liveQuery(R"({"type":"todo"})", {}, rec.callback());
  REQUIRE(other);
  put(*db, R"({"_id":"a","type":"todo"})");
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  CHECK(calls == 1);
}

TEST_CASE("LiveQuery: a callback may destroy its own handle", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::unique_ptr<LiveQuery> self;
  std::mutex mu;
  std::atomic<int> calls{0};
  Recorder first;
  auto live = db->liveQuery(R"({"type":"todo"})", {}, [&](const LiveResult& r) {
    ++calls;
    first.callback()(r);
    if (!r.docs.empty()) {
      std::lock_guard lock(mu);
      self.reset();  // unregisters from inside its own callback: must not wait for itself
    }
  });
  REQUIRE(live);
  {
    std::lock_guard lock(mu);
    self = std::move(*live);
  }
  Recorder rec;
  auto fence = db->liveQuery(R"({"type":"todo"})", {}, rec.callback());
  REQUIRE(fence);
  REQUIRE(first.waitFor(1));
  put(*db, R"({"_id":"a","type":"todo"})");
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  put(*db, R"({"_id":"b","type":"todo"})");
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 2; }));
  // Deliveries run one at a time in a pass: the self-destroyed query was called for `a`, then never.
  CHECK(calls == 2);
  std::lock_guard lock(mu);
  CHECK(self == nullptr);
}

TEST_CASE("LiveQuery: a callback may write to the database and register queries", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  Recorder inner;
  std::unique_ptr<LiveQuery> registered;
  std::atomic<bool> done{false}, registeredOk{false}, wroteOk{false};
  auto live = db->liveQuery(R"({"type":"order"})", {}, [&](const LiveResult& r) {
    if (r.docs.empty() || done.exchange(true)) return;
    // Registered from the worker: its first result (empty) is computed here, on the worker.
    auto q = db->liveQuery(R"({"type":"log"})", {}, inner.callback());
    registeredOk = bool(q);
    if (q) registered = std::move(*q);
    // A write from the worker: its listener wakes the worker itself, whose next pass delivers it.
    wroteOk = bool(db->put(R"({"_id":"log1","type":"log"})"));
  });
  REQUIRE(live);
  put(*db, R"({"_id":"o1","type":"order"})");
  REQUIRE(inner.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  CHECK(registeredOk);
  CHECK(wroteOk);
  CHECK(ids(inner.at(inner.count() - 1)) == std::vector<std::string>{"log1"});
}

TEST_CASE("LiveQuery: several queries are served by one worker, each told only of its own changes",
          "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::vector<std::unique_ptr<Recorder>> recs;
  std::vector<std::unique_ptr<LiveQuery>> lives;
  for (int i = 0; i < 5; ++i) {
    recs.push_back(std::make_unique<Recorder>());
    auto q = db->liveQuery(R"({"list":)" + std::to_string(i) + "}", {}, recs.back()->callback());
    REQUIRE(q);
    lives.push_back(std::move(*q));
  }
  for (auto& r : recs) REQUIRE(r->waitFor(1));
  put(*db, R"({"_id":"x","list":3})");
  REQUIRE(recs[3]->waitFor(2));
  // The fence for the other lists: one write to each.
  for (int i : {0, 1, 2, 4})
    put(*db, R"({"_id":"y)" + std::to_string(i) + R"(","list":)" + std::to_string(i) + "}");
  for (int i : {0, 1, 2, 4}) {
    REQUIRE(recs[i]->waitFor(2));
    CHECK(recs[i]->count() == 2);
  }
  CHECK(recs[3]->count() == 2);
}

TEST_CASE("LiveQuery: closing the database with live queries registered is clean", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::atomic<bool> closed{false};
  std::atomic<int> afterClose{0};
  std::vector<std::unique_ptr<LiveQuery>> handles;
  Recorder rec;
  for (int i = 0; i < 3; ++i) {
    auto q = db->liveQuery(R"({"type":"todo"})", limit(1000), [&, i](const LiveResult& r) {
      if (closed) ++afterClose;
      if (i == 0) rec.callback()(r);
    });
    REQUIRE(q);
    handles.push_back(std::move(*q));
  }
  // Writers keep the worker busy while the database closes.
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) put(*db, R"({"_id":"t)" + std::to_string(i) + R"(","type":"todo"})");
  });
  writer.join();
  // The worker may fold every write into its first delivery: wait for the result, not a count.
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 200; }));
  db.reset();
  closed = true;
  // The handles outlive their database: destroying them touches nothing of it.
  handles.clear();
  CHECK(afterClose == 0);
}

TEST_CASE("LiveQuery: the worker stops with the last handle and starts again with the next", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  for (int round = 0; round < 3; ++round) {
    Recorder rec;
    auto live = db->liveQuery(R"({"r":)" + std::to_string(round) + "}", {}, rec.callback());
    REQUIRE(live);
    put(*db, R"({"_id":"r)" + std::to_string(round) + R"(","r":)" + std::to_string(round) + "}");
    REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  }
}
