// The pure pieces of a Sync: its peer key, its backoff, its docs/s window, its selector conjunction.
#include "replicator/sync_parts.h"

#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "settee/sync.h"
#include "test_util.h"

using namespace settee;
using namespace std::chrono_literals;

TEST_CASE("syncPeerKey: the URL without credentials, query, fragment or trailing slash, port always named",
          "[sync][unit]") {
  CHECK(syncPeerKey("http://bob:secret@Example.COM:5984/db/?x=1#frag") == "http://example.com:5984/db");
  CHECK(syncPeerKey("http://example.com:5984/db") == "http://example.com:5984/db");
  CHECK(syncPeerKey("https://example.com/db") == "https://example.com:443/db");
  CHECK(syncPeerKey("http://example.com/db") == syncPeerKey("http://example.com:80/db/"));
  CHECK(syncPeerKey("http://[::1]:5984/a%2Fb") == "http://[::1]:5984/a%2Fb");
  CHECK(syncPeerKey("http://h:1/nested/path//") == "http://h:1/nested/path");
  // Different credentials are the same peer; a different database is not.
  CHECK(syncPeerKey("http://a:x@h:1/db") == syncPeerKey("http://b:y@h:1/db"));
  CHECK(syncPeerKey("http://h:1/db") != syncPeerKey("http://h:1/db2"));
  // Not a URL the client can open: no key, and a Sync with it refuses to start.
  CHECK(syncPeerKey("ftp://h/db").empty());
  CHECK(syncPeerKey("not a url").empty());
}

TEST_CASE("SyncBackoff: delays start at min, their ceiling doubles up to max, and a success starts over",
          "[sync][unit]") {
  std::mt19937_64 rng(42);
  repl::SyncBackoff b(100ms, 1000ms);
  for (int round = 0; round < 2; ++round) {
    std::vector<std::chrono::milliseconds> ceilings = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms};
    for (auto ceiling : ceilings) {
      auto d = b.next(rng);
      CHECK(d >= 100ms);
      CHECK(d <= ceiling);
    }
    b.reset();
    CHECK(b.failures() == 0);
  }
  // Jitter: many draws at the cap spread over the window rather than land together.
  std::set<int64_t> seen;
  for (int i = 0; i < 50; ++i) seen.insert(b.next(rng).count());
  CHECK(seen.size() > 20);
}

TEST_CASE("RateWindow: documents per second over the window, falling to zero once the total stops",
          "[sync][unit]") {
  repl::RateWindow w(1000ms);
  auto t0 = repl::RateWindow::Clock::now();
  CHECK(w.perSecond(t0) == 0);
  w.add(t0, 0);
  w.add(t0 + 500ms, 50);
  w.add(t0 + 1000ms, 100);
  CHECK(w.perSecond(t0 + 1000ms) == Approx(100).epsilon(0.01));
  w.add(t0 + 2000ms, 300);  // 200 in the last second
  CHECK(w.perSecond(t0 + 2000ms) == Approx(200).epsilon(0.01));
  CHECK(w.perSecond(t0 + 3500ms) == 0);  // nothing new for longer than the window
}

TEST_CASE("allOf: a selector both must match, built as JSON, never spliced", "[sync][unit]") {
  CHECK(*repl::allOf("", "") == "");
  CHECK(*repl::allOf(R"({"a":1})", "") == R"({"a":1})");
  CHECK(*repl::allOf("", R"({"b":2})") == R"({"b":2})");
  CHECK(*repl::allOf(R"({"a":1})", R"({"b":"x\"y"})") == R"({"$and":[{"a":1},{"b":"x\"y"}]})");
  CHECK(repl::allOf("[1]", "").status().code() == ErrorCode::BadRequest);
  CHECK(repl::allOf(R"({"a":)", "").status().code() == ErrorCode::BadRequest);
}
