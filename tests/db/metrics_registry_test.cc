// The process's metrics registry (db/metrics.h). The registry is the process's: each test uses names of
// its own.
#include <catch2/catch.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "db/metrics.h"

namespace m = settee::metrics;

namespace {

const m::Sample* find(const std::vector<m::Sample>& all, const std::string& name) {
  for (const auto& s : all) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("Metrics: counts from many threads add up, none lost", "[db][metrics]") {
  constexpr int kThreads = 4, kEach = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < kEach; ++i) m::count("test.registry.counted");
    });
  }
  for (auto& t : threads) t.join();
  m::count("test.registry.counted", 5);
  auto all = m::snapshot();
  const m::Sample* s = find(all, "test.registry.counted");
  REQUIRE(s);
  CHECK(s->kind == m::Kind::Counter);
  CHECK(s->counter == uint64_t{kThreads} * kEach + 5);
}

TEST_CASE("Metrics: a name's first use fixes its kind; a call of another kind on it changes nothing",
          "[db][metrics]") {
  m::count("test.registry.kind", 3);
  m::gauge("test.registry.kind", 99);
  m::observe("test.registry.kind", 1.5);
  auto all = m::snapshot();
  const m::Sample* s = find(all, "test.registry.kind");
  REQUIRE(s);
  CHECK(s->kind == m::Kind::Counter);
  CHECK(s->counter == 3);
}

TEST_CASE("Metrics: a gauge reader is called when read, replaced by a later one, and removed by an empty one",
          "[db][metrics]") {
  auto value = std::make_shared<int64_t>(7);
  m::gaugeFn("test.registry.gauge", [value] { return *value; });
  CHECK(find(m::snapshot(), "test.registry.gauge")->gauge == 7);
  *value = -3;
  CHECK(find(m::snapshot(), "test.registry.gauge")->gauge == -3);
  m::gaugeFn("test.registry.gauge", [] { return int64_t{42}; });
  CHECK(find(m::snapshot(), "test.registry.gauge")->gauge == 42);
  m::gaugeFn("test.registry.gauge", {});
  CHECK(find(m::snapshot(), "test.registry.gauge")->gauge == 0);
  m::gauge("test.registry.gauge", 12);  // a plain gauge again once no reader is left
  CHECK(find(m::snapshot(), "test.registry.gauge")->gauge == 12);
}

TEST_CASE("Metrics: a histogram keeps the latest observations in its window and totals over all of them",
          "[db][metrics]") {
  const size_t n = m::kHistogramWindow + 10;
  for (size_t i = 0; i < n; ++i) m::observe("test.registry.histogram", static_cast<double>(i));
  auto all = m::snapshot();
  const m::Sample* s = find(all, "test.registry.histogram");
  REQUIRE(s);
  CHECK(s->kind == m::Kind::Histogram);
  CHECK(s->histogram.total == n);
  CHECK(s->histogram.totalSum == Approx(static_cast<double>(n * (n - 1) / 2)));
  REQUIRE(s->histogram.window.size() == m::kHistogramWindow);
  CHECK(s->histogram.window.front() == 10.0);  // oldest first: the first ten fell out
  CHECK(s->histogram.window.back() == static_cast<double>(n - 1));
}

TEST_CASE("Metrics: a snapshot lists every metric in name order", "[db][metrics]") {
  m::count("test.registry.order.b");
  m::count("test.registry.order.a");
  auto all = m::snapshot();
  for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].name < all[i].name);
}
