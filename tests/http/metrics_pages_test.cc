// The node's metrics pages (http/metrics_pages.h) from samples the test makes: CouchDB's /_stats JSON
// nesting and its Prometheus names.
#include "http/metrics_pages.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "test_util.h"

using settee::test::Json;
namespace m = settee::metrics;

namespace {

m::Sample counter(std::string name, uint64_t v) {
  m::Sample s;
  s.name = std::move(name);
  s.counter = v;
  return s;
}

m::Sample histogram(std::string name, std::vector<double> values) {
  m::Sample s;
  s.name = std::move(name);
  s.kind = m::Kind::Histogram;
  s.histogram.total = values.size();
  for (double v : values) s.histogram.totalSum += v;
  s.histogram.window = std::move(values);
  return s;
}

// Sorted by name, as snapshot() gives them.
const std::vector<m::Sample> kSamples = {
    counter("couchdb.document_writes", 4),
    counter("couchdb.httpd.requests", 9),
    counter("couchdb.httpd_request_methods.GET", 6),
    counter("couchdb.httpd_request_methods.PUT", 3),
    counter("couchdb.httpd_status_codes.200", 6),
    histogram("couchdb.request_time", {1, 2, 3, 4}),
    histogram("settee.sync.duration_seconds", {0.5, 1.5}),
};

}  // namespace

TEST_CASE("Metrics pages: /_stats nests dotted names into objects, each metric with value, type and desc",
          "[http][metrics]") {
  Json all(settee::http::statsJson(kSamples, {}));
  auto get = all["couchdb"]["httpd_request_methods"]["GET"];
  CHECK(get["value"].get_uint64().value() == 6);
  CHECK(std::string(get["type"].get_string().value()) == "counter");
  CHECK(std::string(get["desc"].get_string().value()) == "number of HTTP GET requests");
  CHECK(all["couchdb"]["httpd"]["requests"]["value"].get_uint64().value() == 9);
  CHECK(all["couchdb"]["document_writes"]["value"].get_uint64().value() == 4);
  auto rt = all["couchdb"]["request_time"];
  CHECK(std::string(rt["type"].get_string().value()) == "histogram");
  CHECK(rt["value"]["n"].get_uint64().value() == 4);
  CHECK(rt["value"]["min"].get_double().value() == 1);
  CHECK(rt["value"]["max"].get_double().value() == 4);
  CHECK(rt["value"]["arithmetic_mean"].get_double().value() == 2.5);
  CHECK(rt["value"]["percentile"].at(0).at(0).get_int64().value() == 50);
  CHECK(all["settee"]["sync"]["duration_seconds"]["value"]["n"].get_uint64().value() == 2);

  Json group(settee::http::statsJson(kSamples, {"couchdb", "httpd_request_methods"}));
  CHECK(group["PUT"]["value"].get_uint64().value() == 3);
  CHECK(!group.has("couchdb"));
  Json one(settee::http::statsJson(kSamples, {"couchdb", "httpd", "requests"}));
  CHECK(one["value"].get_uint64().value() == 9);
  CHECK(settee::http::statsJson(kSamples, {"couchdb", "nothing"}) == "null");
  CHECK(settee::http::statsJson(kSamples, {"couchdb", "httpd", "requests", "deeper"}) == "null");
}

TEST_CASE(
    "Metrics pages: Prometheus names as couch_prometheus gives them, histograms as summaries in seconds",
    "[http][metrics]") {
  const std::string text = settee::http::prometheusText(kSamples, 12);
  auto has = [&](const std::string& line) {
    INFO(line);
    CHECK(text.find(line + "\n") != std::string::npos);
  };
  has("# TYPE couchdb_httpd_request_methods counter");
  has("couchdb_httpd_request_methods{method=\"GET\"} 6");
  has("couchdb_httpd_request_methods{method=\"PUT\"} 3");
  has("# TYPE couchdb_httpd_status_codes counter");
  has("couchdb_httpd_status_codes{code=\"200\"} 6");
  has("# TYPE couchdb_httpd_requests_total counter");
  has("couchdb_httpd_requests_total 9");
  has("couchdb_document_writes_total 4");
  // CouchDB's request_time is in milliseconds: served in seconds.
  has("# TYPE couchdb_request_time_seconds summary");
  has("couchdb_request_time_seconds{quantile=\"0.5\"} 0.002");
  has("couchdb_request_time_seconds_sum 0.01");
  has("couchdb_request_time_seconds_count 4");
  // A histogram already in seconds keeps its name and values.
  has("# TYPE couchdb_settee_sync_duration_seconds summary");
  has("couchdb_settee_sync_duration_seconds{quantile=\"0.99\"} 1.5");
  has("couchdb_settee_sync_duration_seconds_sum 2");
  has("couchdb_uptime_seconds 12");
  // One TYPE line per family, however many samples it has.
  size_t types = 0;
  for (size_t at = text.find("# TYPE couchdb_httpd_request_methods "); at != std::string::npos;
       at = text.find("# TYPE couchdb_httpd_request_methods ", at + 1))
    ++types;
  CHECK(types == 1);
}
