// http/metrics_pages.h — the process's metrics (db/metrics.h) as the node serves them: CouchDB 3.4's
// /_stats JSON and its Prometheus text, with CouchDB's names and descriptions.
//
// Pure functions of a metrics::snapshot(): no I/O, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "db/metrics.h"

namespace settee::http {

// The metrics under `path` (leading parts of their dotted names), nested by the rest of their names, as
// CouchDB nests "couchdb.httpd_status_codes.200" into {"couchdb":{"httpd_status_codes":{"200":{"value":N,
// "type":"counter","desc":"..."}}}}; one metric when the path names it; `null` when nothing is there, as
// CouchDB answers a path it does not know. Histograms carry folsom's statistics of their window.
std::string statsJson(const std::vector<metrics::Sample>& all, const std::vector<std::string>& path);

// Prometheus text exposition as couch_prometheus writes it: "couchdb_" names (a leading "couchdb." group
// dropped, dots as underscores), counters with "_total", requests by method and by status code as one
// family each with a label, histograms as summaries in seconds (quantiles over the window, _sum and _count
// over every observation), and couchdb_uptime_seconds. Every family has one # HELP and one # TYPE line.
std::string prometheusText(const std::vector<metrics::Sample>& all, uint64_t uptimeSeconds);

}  // namespace settee::http
