// Regression: a continuous pull from a quiet CouchDB-style peer. The longpoll asked for heartbeats, which
// such a peer sends past the request's timeout until a change comes, so every quiet feed ended at the
// client's deadline as a failed request: Retrying, again and again, with a growing backoff that delayed
// the next change by up to 30 s.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>

#include "live_server.h"
#include "settee/database.h"
#include "settee/replicator.h"

using namespace settee;
using namespace std::chrono_literals;
using settee::test::LiveServer;
using settee::test::TempDir;

TEST_CASE(
    "Replication over HTTP: a quiet continuous pull stays idle past its feed's deadline and takes the "
    "next change at once",
    "[repl][remote]") {
  LiveServer source;
  REQUIRE(source("PUT", "/src").status == 201);
  TempDir dir;
  auto opened = Database::open(dir.file("copy.settee"), "copy");
  REQUIRE(opened);
  std::shared_ptr<Database> local(std::move(*opened));
  ReplicationOptions o;
  o.continuous = true;
  o.heartbeat = 300ms;  // longpoll timeout 450 ms; the old deadline was 450 + 750 = 1.2 s
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ReplicationState> seen;
  Replication rep(ReplicationPeer::remote("http://127.0.0.1:" + std::to_string(source.port()) + "/src"),
                  ReplicationPeer::local(local), o);
  rep.start([&](ReplicationState s, const ReplicationStats&, const Status&) {
    std::lock_guard lock(mu);
    seen.push_back(s);
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return !seen.empty() && seen.back() == ReplicationState::Idle; }));
  }
  std::this_thread::sleep_for(3s);  // several deadlines of the old feed
  {
    std::lock_guard lock(mu);
    CHECK(std::count(seen.begin(), seen.end(), ReplicationState::Retrying) == 0);
  }
  CHECK(rep.state() == ReplicationState::Idle);
  const auto written = std::chrono::steady_clock::now();
  REQUIRE(source("PUT", "/src/late", "{}").status == 201);
  bool arrived = false;
  while (!arrived && std::chrono::steady_clock::now() - written < 5s) {
    arrived = local->get("late").isOk();
    if (!arrived) std::this_thread::sleep_for(20ms);  // the local database has no change wait here
  }
  CHECK(arrived);
  CHECK(std::chrono::steady_clock::now() - written < 1s);
  rep.stop();
}
