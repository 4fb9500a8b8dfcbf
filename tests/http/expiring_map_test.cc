// The bounded map behind auth's caches and lockout counters: bounded in size whatever is inserted, and
// each entry gone a fixed time after it was made (CouchDB's ets_lru max_objects and max_lifetime).
#include "http/expiring_map.h"

#include <catch2/catch.hpp>

using settee::http::ExpiringMap;
using namespace std::chrono_literals;

TEST_CASE("ExpiringMap: a full map drops its oldest entry, so it never holds more than its capacity",
          "[http][auth]") {
  ExpiringMap<int> map(3, 300s);
  auto t = ExpiringMap<int>::Clock::now();
  for (int i = 0; i < 1000; ++i) map.insert("k" + std::to_string(i), i, t);
  CHECK(map.size() == 3);
  CHECK(map.find("k996", t) == nullptr);
  REQUIRE(map.find("k997", t));
  CHECK(*map.find("k999", t) == 999);
  // Re-inserting a key makes it the newest.
  map.insert("k997", 7, t);
  map.insert("new", 0, t);
  CHECK(map.find("k998", t) == nullptr);
  CHECK(*map.find("k997", t) == 7);
}

TEST_CASE("ExpiringMap: an entry lives its lifetime from insertion; changing it does not extend that",
          "[http][auth]") {
  ExpiringMap<int> map(10, 300s);
  auto t = ExpiringMap<int>::Clock::now();
  map.insert("peer/name", 1, t);
  ++*map.find("peer/name", t + 100s);
  CHECK(*map.find("peer/name", t + 299s) == 2);
  CHECK(map.find("peer/name", t + 300s) == nullptr);
  CHECK(map.size() == 0);  // an expired entry found is dropped
  // Expired entries are also dropped by later inserts, without being looked up.
  map.insert("a", 1, t);
  map.insert("b", 1, t + 10s);
  map.insert("c", 1, t + 400s);
  CHECK(map.size() == 1);
}
