// The metrics registry (metrics.h).
//
// One process-wide table of metrics by name, each at a stable address for the life of the process (the
// table never removes one). A thread looks a name up in the table once, under a shared lock, and keeps
// the pointer in a cache of its own: after that a count is a hash lookup in thread-local memory and one
// relaxed atomic add, with no lock that another thread could hold.
#include "db/metrics.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace settee::metrics {
namespace {

struct Metric {
  explicit Metric(Kind k) : kind(k) {}
  const Kind kind;
  std::atomic<uint64_t> counter{0};
  std::atomic<int64_t> gauge{0};
  // Guarded by the registry's mutex: replaced by gaugeFn while snapshot() may be copying it.
  std::shared_ptr<const std::function<int64_t()>> read;
  // A histogram's observations: a ring of the latest kHistogramWindow, and running totals.
  std::mutex histMu;
  std::vector<double> ring;  // guarded by histMu, as the three below
  size_t next = 0;
  uint64_t total = 0;
  double totalSum = 0;
};

struct Registry {
  std::shared_mutex mu;
  std::map<std::string, std::unique_ptr<Metric>, std::less<>> byName;  // guarded by mu
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: threads may count during static destruction
  return *r;
}

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Cache = std::unordered_map<std::string, Metric*, NameHash, std::equal_to<>>;

// A thread's cache, and whether it is gone: a count made while the thread exits (a destructor of another
// thread-local, or of a static on the main thread) must not touch the destroyed map. The flag has no
// destructor, so it stays readable to the end.
thread_local bool cacheGone = false;
struct CacheHolder {
  Cache map;
  ~CacheHolder() { cacheGone = true; }
};
thread_local CacheHolder cacheHolder;

// The metric called `name`, made with `kind` when new. Its kind may differ (the first use decided it).
Metric& lookup(std::string_view name, Kind kind) {
  Cache* cache = cacheGone ? nullptr : &cacheHolder.map;
  if (cache) {
    if (auto it = cache->find(name); it != cache->end()) return *it->second;
  }
  Registry& r = registry();
  Metric* m = nullptr;
  {
    std::shared_lock lock(r.mu);
    if (auto it = r.byName.find(name); it != r.byName.end()) m = it->second.get();
  }
  if (!m) {
    std::unique_lock lock(r.mu);
    auto [it, added] = r.byName.try_emplace(std::string(name), nullptr);
    if (added) it->second = std::make_unique<Metric>(kind);
    m = it->second.get();
  }
  if (cache) cache->emplace(std::string(name), m);
  return *m;
}

}  // namespace

void count(std::string_view name, uint64_t by) {
  Metric& m = lookup(name, Kind::Counter);
  if (m.kind == Kind::Counter) m.counter.fetch_add(by, std::memory_order_relaxed);
}

void gauge(std::string_view name, int64_t value) {
  Metric& m = lookup(name, Kind::Gauge);
  if (m.kind == Kind::Gauge) m.gauge.store(value, std::memory_order_relaxed);
}

void gaugeFn(std::string_view name, std::function<int64_t()> read) {
  Metric& m = lookup(name, Kind::Gauge);
  if (m.kind != Kind::Gauge) return;
  std::shared_ptr<const std::function<int64_t()>> fn;
  if (read) fn = std::make_shared<const std::function<int64_t()>>(std::move(read));
  std::unique_lock lock(registry().mu);
  m.read = std::move(fn);
  if (!m.read) m.gauge.store(0, std::memory_order_relaxed);
}

void observe(std::string_view name, double value) {
  Metric& m = lookup(name, Kind::Histogram);
  if (m.kind != Kind::Histogram) return;
  std::lock_guard lock(m.histMu);
  if (m.ring.size() < kHistogramWindow) {
    m.ring.push_back(value);
  } else {
    m.ring[m.next] = value;
  }
  m.next = (m.next + 1) % kHistogramWindow;
  ++m.total;
  m.totalSum += value;
}

std::vector<Sample> snapshot() {
  std::vector<Sample> out;
  std::vector<std::pair<size_t, std::shared_ptr<const std::function<int64_t()>>>> readers;
  {
    Registry& r = registry();
    std::shared_lock lock(r.mu);
    out.reserve(r.byName.size());
    for (const auto& [name, m] : r.byName) {
      Sample s;
      s.name = name;
      s.kind = m->kind;
      switch (m->kind) {
        case Kind::Counter:
          s.counter = m->counter.load(std::memory_order_relaxed);
          break;
        case Kind::Gauge:
          s.gauge = m->gauge.load(std::memory_order_relaxed);
          if (m->read) readers.emplace_back(out.size(), m->read);
          break;
        case Kind::Histogram: {
          std::lock_guard hist(m->histMu);
          s.histogram.total = m->total;
          s.histogram.totalSum = m->totalSum;
          // Oldest first: once the ring is full, the oldest is the one `next` overwrites next.
          const size_t n = m->ring.size();
          const size_t start = n < kHistogramWindow ? 0 : m->next;
          s.histogram.window.reserve(n);
          for (size_t i = 0; i < n; ++i) s.histogram.window.push_back(m->ring[(start + i) % n]);
          break;
        }
      }
      out.push_back(std::move(s));
    }
  }
  // Readers may take their owners' locks (or count): called with no lock of ours held.
  for (auto& [index, read] : readers) out[index].gauge = (*read)();
  return out;
}

}  // namespace settee::metrics
