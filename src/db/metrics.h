// metrics.h — the process's counters and timings, served as /_node/_local/_stats (CouchDB's JSON shape)
// and /_node/_local/_prometheus (Prometheus text).
//
// Names are CouchDB's where CouchDB has the metric ("couchdb.httpd_request_methods.GET",
// "couchdb.httpd_status_codes.200", "couchdb.document_writes") and "settee.<group>.<name>" for ours
// ("settee.sync.conflicts_detected", "settee.sync.conflicts_resolved", "settee.sync.completed",
// "settee.sync.failed", "settee.sync.duration_seconds", "settee.sync.outbox_depth"). Any layer may count:
// this sits below db, http and the replicator and knows none of them.
// A name's first use fixes its kind (counter, gauge, histogram); a call of another kind on it is ignored.
// Histogram values are milliseconds unless the name ends in "_seconds" (CouchDB's request_time is in
// milliseconds; Prometheus wants seconds, and the Prometheus page converts).
// Contract: every call is thread-safe and cheap (an atomic add once the name is known); names are kept
// for the life of the process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace settee::metrics {

// Adds to a monotonic counter.
void count(std::string_view name, uint64_t by = 1);
// Sets a gauge (a value that goes up and down).
void gauge(std::string_view name, int64_t value);
// A gauge read when the metrics are served (e.g. the outbox depth, summed over open databases). A later
// call for the same name replaces the reader; an empty function removes it (the gauge then reads 0). A
// snapshot() already under way may still call a reader just removed, so a reader whose owner goes away
// reaches it through something it shares (a weak_ptr, a guarded pointer), never a raw `this` alone.
// `read` is called without any lock of the registry held.
void gaugeFn(std::string_view name, std::function<int64_t()> read);
// Records one observation of a duration or size (served as a histogram/summary).
void observe(std::string_view name, double value);

// ---- Reading (for the pages that serve the metrics) ----

enum class Kind { Counter, Gauge, Histogram };

// A histogram's statistics over its window: the last kHistogramWindow observations.
inline constexpr size_t kHistogramWindow = 1024;
struct HistogramStats {
  uint64_t total = 0;          // observations ever made
  double totalSum = 0;         // their sum
  std::vector<double> window;  // the latest observations, oldest first (at most kHistogramWindow)
};

struct Sample {
  std::string name;
  Kind kind = Kind::Counter;
  uint64_t counter = 0;
  int64_t gauge = 0;
  HistogramStats histogram;
};

// Every metric known, sorted by name; gauges with a reader are read now.
std::vector<Sample> snapshot();

}  // namespace settee::metrics
