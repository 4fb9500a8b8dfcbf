// The node's metrics over HTTP, as CouchDB 3.4 serves them: /_node/{node}/_stats (JSON) and
// /_node/{node}/_prometheus (Prometheus text), against a real `settee serve`.
#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "db/crypto.h"
#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

uint64_t statValue(const Json& stats, const char* group, const char* name) {
  return stats["couchdb"][group][name]["value"].get_uint64().value();
}

// Prometheus text exposition: a sample line is `name{label="value", ...} number`.
const std::regex kSampleLine(
    R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(, ?[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? )"
    R"((-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf)$)");

// The value of the sample line that starts with `prefix` followed by a space; -1 when there is none.
double sample(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix + " ", 0) == 0) return std::stod(line.substr(prefix.size() + 1));
  }
  return -1;
}

}  // namespace

TEST_CASE("Node stats: requests by method and status, and documents written, count what the node served",
          "[http][metrics]") {
  LiveServer node;
  auto before = node("GET", "/_node/_local/_stats");
  REQUIRE(before.status == 200);
  Json b(before.body);
  CHECK(std::string(b["couchdb"]["httpd_request_methods"]["GET"]["type"].get_string().value()) == "counter");
  CHECK(std::string(b["couchdb"]["httpd_request_methods"]["GET"]["desc"].get_string().value()) ==
        "number of HTTP GET requests");
  CHECK(std::string(b["couchdb"]["httpd_status_codes"]["404"]["desc"].get_string().value()) ==
        "number of HTTP 404 Not Found responses");

  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/one", R"({"v":1})").status == 201);
  REQUIRE(node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"a"},{"_id":"b"},{"_id":"c"}]})").status == 201);
  REQUIRE(node("GET", "/db/one").status == 200);
  REQUIRE(node("GET", "/db/nope").status == 404);
  REQUIRE(node("DELETE", "/db/one?rev=1-0123456789abcdef0123456789abcdef").status ==
          409);  // a refused write is no document written

  auto after = node("GET", "/_node/_local/_stats");
  REQUIRE(after.status == 200);
  Json a(after.body);
  // The first stats request is counted once it answered, so it is among these.
  CHECK(statValue(a, "httpd_request_methods", "GET") - statValue(b, "httpd_request_methods", "GET") == 3);
  CHECK(statValue(a, "httpd_request_methods", "PUT") - statValue(b, "httpd_request_methods", "PUT") == 2);
  CHECK(statValue(a, "httpd_request_methods", "POST") - statValue(b, "httpd_request_methods", "POST") == 1);
  CHECK(statValue(a, "httpd_request_methods", "DELETE") - statValue(b, "httpd_request_methods", "DELETE") ==
        1);
  CHECK(statValue(a, "httpd_status_codes", "201") - statValue(b, "httpd_status_codes", "201") == 3);
  CHECK(statValue(a, "httpd_status_codes", "200") - statValue(b, "httpd_status_codes", "200") == 2);
  CHECK(statValue(a, "httpd_status_codes", "404") - statValue(b, "httpd_status_codes", "404") == 1);
  CHECK(statValue(a, "httpd_status_codes", "409") - statValue(b, "httpd_status_codes", "409") == 1);
  CHECK(statValue(a, "httpd", "requests") - statValue(b, "httpd", "requests") == 7);
  CHECK(a["couchdb"]["document_writes"]["value"].get_uint64().value() -
            b["couchdb"]["document_writes"]["value"].get_uint64().value() ==
        4);
  CHECK(a["couchdb"]["database_reads"]["value"].get_uint64().value() >
        b["couchdb"]["database_reads"]["value"].get_uint64().value());
  // The request time is a histogram, in CouchDB's shape.
  auto rt = a["couchdb"]["request_time"];
  CHECK(std::string(rt["type"].get_string().value()) == "histogram");
  CHECK(rt["value"]["n"].get_uint64().value() >= 7);
  CHECK(rt["value"]["percentile"].get_array().size() == 6);
  CHECK(rt["value"]["max"].get_double().value() >= rt["value"]["min"].get_double().value());
}

TEST_CASE(
    "Node stats: a path below _stats answers that part, null for one that names nothing, 404 for "
    "another node",
    "[http][metrics]") {
  LiveServer node;
  REQUIRE(node("GET", "/_up").status == 200);
  auto group = node("GET", "/_node/_local/_stats/couchdb/httpd_request_methods");
  REQUIRE(group.status == 200);
  Json g(group.body);
  CHECK(g["GET"]["value"].get_uint64().value() >= 1);
  CHECK(!g.has("couchdb"));

  auto one = node("GET", "/_node/_local/_stats/couchdb/httpd_request_methods/GET");
  REQUIRE(one.status == 200);
  CHECK(Json(one.body).has("value"));

  auto none = node("GET", "/_node/_local/_stats/couchdb/no_such_thing");
  CHECK(none.status == 200);
  CHECK(none.body == "null");

  CHECK(node("GET", "/_node/node1@127.0.0.1/_stats").status == 200);
  auto other = node("GET", "/_node/elsewhere@10.0.0.1/_stats");
  CHECK(other.status == 404);
  CHECK(Json(other.body).str("error") == "not_found");
  CHECK(node("POST", "/_node/_local/_stats", "{}").status == 405);
}

TEST_CASE("Node stats and Prometheus metrics are for server admins only, as all of /_node is in CouchDB",
          "[http][metrics]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  const std::pair<std::string, std::string> admin{"Authorization",
                                                  "Basic " + settee::db::base64Encode("admin:s3cret")};
  for (const char* path :
       {"/_node/_local/_stats", "/_node/_local/_stats/couchdb", "/_node/_local/_prometheus"}) {
    INFO(path);
    auto anonymous = node("GET", path);
    CHECK(anonymous.status == 401);
    CHECK(Json(anonymous.body).str("error") == "unauthorized");
    CHECK(node("GET", path, "", {admin}).status == 200);
  }
}

TEST_CASE(
    "Prometheus metrics: every sample line is `name{labels} value` under a TYPE of its family, with "
    "CouchDB's names",
    "[http][metrics]") {
  LiveServer node;
  // The node writes documents of its own at its first start (_users/_design/_auth): counted from here.
  auto before = node("GET", "/_node/_local/_prometheus");
  REQUIRE(before.status == 200);
  const double writesBefore = sample(before.body, "couchdb_document_writes_total");
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/one", R"({"v":1})").status == 201);
  REQUIRE(node("GET", "/db/one").status == 200);

  auto reply = node("GET", "/_node/_local/_prometheus");
  REQUIRE(reply.status == 200);
  REQUIRE(reply.header("Content-Type"));
  CHECK(*reply.header("Content-Type") == "text/plain; version=2.0");
  const std::string& text = reply.body;

  std::istringstream in(text);
  std::string line;
  std::set<std::string> typed;
  size_t samples = 0;
  while (std::getline(in, line)) {
    INFO(line);
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream parts(line.substr(7));
      std::string name, type;
      parts >> name >> type;
      CHECK((type == "counter" || type == "gauge" || type == "summary" || type == "histogram"));
      CHECK(typed.insert(name).second);  // one TYPE per family
      continue;
    }
    if (line[0] == '#') continue;
    CHECK(std::regex_match(line, kSampleLine));
    std::string name = line.substr(0, line.find_first_of("{ "));
    bool hasType = typed.count(name) > 0;
    for (const char* suffix : {"_sum", "_count"}) {
      if (!hasType && name.ends_with(suffix))
        hasType = typed.count(name.substr(0, name.size() - std::strlen(suffix)));
    }
    CHECK(hasType);
    ++samples;
  }
  CHECK(samples > 30);
  CHECK(sample(text, R"(couchdb_httpd_request_methods{method="GET"})") >= 1);
  CHECK(sample(text, R"(couchdb_httpd_request_methods{method="PUT"})") == 2);
  CHECK(sample(text, R"(couchdb_httpd_status_codes{code="201"})") == 2);
  CHECK(sample(text, "couchdb_httpd_requests_total") >= 3);
  CHECK(sample(text, "couchdb_document_writes_total") == writesBefore + 1);
  CHECK(sample(text, R"(couchdb_request_time_seconds{quantile="0.5"})") >= 0);
  CHECK(sample(text, "couchdb_request_time_seconds_count") >= 3);
  CHECK(sample(text, "couchdb_couch_replicator_jobs_running") == 0);
  CHECK(sample(text, "couchdb_uptime_seconds") >= 0);
}

TEST_CASE("Prometheus metrics: the replicator's jobs are counted by state", "[http][metrics][repl]") {
  LiveServer node;
  REQUIRE(node("PUT", "/src").status == 201);
  REQUIRE(node("PUT", "/dst").status == 201);
  auto started = node("POST", "/_replicate", R"({"source":"src","target":"dst","continuous":true})");
  REQUIRE(started.status == 202);
  auto text = node("GET", "/_node/_local/_prometheus").body;
  CHECK(sample(text, "couchdb_couch_replicator_jobs_total") == 1);
  CHECK(sample(text, "couchdb_couch_replicator_jobs_running") +
            sample(text, "couchdb_couch_replicator_jobs_pending") +
            sample(text, "couchdb_couch_replicator_jobs_crashed") ==
        1);
  auto stats = Json(node("GET", "/_node/_local/_stats/couch_replicator/jobs").body);
  CHECK(stats["total"]["value"].get_int64().value() == 1);
  CHECK(std::string(stats["total"]["type"].get_string().value()) == "gauge");
}
