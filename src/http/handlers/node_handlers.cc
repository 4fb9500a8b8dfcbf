// The node's metrics (db/metrics.h), as CouchDB 3.4 serves them: GET /_node/{node}/_stats[/{group}/...] in
// CouchDB's JSON shape ({"couchdb":{"httpd_request_methods":{"GET":{"value":N,"type":"counter",
// "desc":"..."}}}}) and GET /_node/{node}/_prometheus in Prometheus text. Admin only, as all of /_node is
// in CouchDB. The node is `_local` or this node's name; any other is CouchDB's 404 "no such node".
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "db/metrics.h"
#include "http/handlers/handlers.h"
#include "http/metrics_pages.h"

namespace settee::http {
namespace {

// The methods and status codes CouchDB lists from its start, at 0 until they happen.
constexpr const char* kMethods[] = {"COPY", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"};
constexpr int kStatusCodes[] = {200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404,
                                405, 406, 409, 412, 413, 414, 415, 416, 417, 500, 501, 503};

// The node part of the path: this node, or CouchDB's answer for another.
std::optional<Response> checkNode(const Call& call) {
  const std::string& node = call.params["node"];
  if (node == "_local" || node == kNodeName) return std::nullopt;
  return errorResponse(404, "not_found", "no such node: " + node);
}

}  // namespace

void registerNodeRoutes(Api& api) {
  // CouchDB lists these from its start; counting them once now makes them known at 0.
  for (const char* m : kMethods) metrics::count(std::string("couchdb.httpd_request_methods.") + m, 0);
  for (int c : kStatusCodes) metrics::count("couchdb.httpd_status_codes." + std::to_string(c), 0);
  metrics::count("couchdb.httpd.requests", 0);
  metrics::count("couchdb.document_writes", 0);
  metrics::count("couchdb.database_reads", 0);
  const auto started = std::chrono::steady_clock::now();

  auto stats = [](Call& call) -> Response {
    if (auto refused = checkNode(call)) return std::move(*refused);
    // /_stats/couchdb/httpd_request_methods: each segment one part of the metrics' dotted names.
    std::vector<std::string> segments;
    if (const std::string* rest = call.params.get("path")) {
      size_t start = 0;
      for (;;) {
        size_t slash = rest->find('/', start);
        segments.push_back(
            rest->substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
    }
    return Response::json(200, statsJson(metrics::snapshot(), segments));
  };
  api.sync("GET", "/_node/{node}/_stats", Access::ServerAdmin, stats, Cost::Quick);
  api.sync("GET", "/_node/{node}/_stats/{path...}", Access::ServerAdmin, stats, Cost::Quick);
  api.sync(
      "GET", "/_node/{node}/_prometheus", Access::ServerAdmin,
      [started](Call& call) -> Response {
        if (auto refused = checkNode(call)) return std::move(*refused);
        auto uptime =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
        Response r;
        r.status = 200;
        r.body = prometheusText(metrics::snapshot(), static_cast<uint64_t>(uptime.count()));
        r.setHeader("Content-Type", "text/plain; version=2.0");
        return r;
      },
      Cost::Quick);
}

}  // namespace settee::http
