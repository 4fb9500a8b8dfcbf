// metrics.h — the process's counters and timings, served as /_node/_local/_stats (CouchDB's JSON shape)
// and /_node/_local/_prometheus (Prometheus text).
//
// Names are CouchDB's where CouchDB has the metric ("couchdb.httpd_request_methods.GET",
// "couchdb.httpd_status_codes.200", "couchdb.document_writes") and "settee.<group>.<name>" for ours
// ("settee.sync.conflicts_detected", "settee.sync.conflicts_resolved", "settee.sync.completed",
// "settee.sync.failed", "settee.sync.duration_seconds", "settee.sync.outbox_depth"). Any layer may count:
// this sits below db, http and the replicator and knows none of them.
// Contract: every call is thread-safe and cheap (an atomic add once the name is known); names are kept
// for the life of the process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace settee::metrics {

// Adds to a monotonic counter.
void count(std::string_view name, uint64_t by = 1);
// Sets a gauge (a value that goes up and down).
void gauge(std::string_view name, int64_t value);
// A gauge read when the metrics are served (e.g. the outbox depth, summed over open databases).
void gaugeFn(std::string_view name, std::function<int64_t()> read);
// Records one observation of a duration or size (served as a histogram/summary).
void observe(std::string_view name, double value);

}  // namespace settee::metrics
