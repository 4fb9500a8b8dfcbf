// A measurement, not run by default ([.]): how long a write takes to reach the other side through a Sync
// with a live `settee serve` peer over loopback, each way — from the write to the Pushed / Pulled event
// (the batch written on the other side). Prints the median and p99 over 200 writes made one at a time.
#include <algorithm>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>

#include "live_server.h"
#include "settee/database.h"
#include "settee/sync.h"

using namespace settee;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_CASE("Sync latency: write to arrival, each way, over loopback", "[.][sync-latency]") {
  settee::test::LiveServer peer;
  REQUIRE(peer("PUT", "/shared").status == 201);
  settee::test::TempDir dir;
  auto opened = Database::open(dir.file("app.settee"), "app");
  REQUIRE(opened);
  std::shared_ptr<Database> db(std::move(*opened));
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Clock::time_point> arrived;
  bool idle = false;
  SyncOptions options;
  Sync sync(db, "http://127.0.0.1:" + std::to_string(peer.port()) + "/shared", options);
  sync.onDocument([&](const DocEvent& e) {
    std::lock_guard lock(mu);
    arrived.emplace(e.id, Clock::now());
    cv.notify_all();
  });
  sync.onStatus([&](const SyncStatus& s) {
    std::lock_guard lock(mu);
    idle = s.state == SyncState::Idle;
    cv.notify_all();
  });
  REQUIRE(sync.start().isOk());
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return idle; }));
  }
  auto measure = [&](const char* what, auto write) {
    std::vector<double> ms;
    for (int i = 0; i < 200; ++i) {
      const std::string id = std::string(what) + std::to_string(i);
      const auto t0 = Clock::now();
      write(id);
      std::unique_lock lock(mu);
      REQUIRE(cv.wait_for(lock, 10s, [&] { return arrived.count(id) > 0; }));
      ms.push_back(std::chrono::duration<double, std::milli>(arrived[id] - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("%s: median %.2f ms, p99 %.2f ms, max %.2f ms (200 writes)\n", what, ms[ms.size() / 2],
                ms[ms.size() * 99 / 100], ms.back());
  };
  measure("push", [&](const std::string& id) { REQUIRE(db->put(R"({"_id":")" + id + R"(","n":1})")); });
  measure("pull",
          [&](const std::string& id) { REQUIRE(peer("PUT", "/shared/" + id, R"({"n":1})").status == 201); });
  sync.stop();
}
