// The node's metrics pages (metrics_pages.h).
#include "http/metrics_pages.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string_view>

#include "db/json.h"
#include "http/response.h"

namespace settee::http {
namespace {

using db::writeKey;
using db::writeString;
using metrics::Kind;
using metrics::Sample;

// What CouchDB's "desc" says of a metric (and Prometheus's HELP).
std::string describe(std::string_view name) {
  auto last = name.substr(name.rfind('.') + 1);
  if (name.starts_with("couchdb.httpd_request_methods."))
    return "number of HTTP " + std::string(last) + " requests";
  if (name.starts_with("couchdb.httpd_status_codes.")) {
    // The standard phrases, as CouchDB's descriptions give them (reasonPhrase has mochiweb's own).
    static const std::map<std::string_view, std::string_view> kPhrases = {
        {"200", "OK"},
        {"201", "Created"},
        {"202", "Accepted"},
        {"204", "No Content"},
        {"206", "Partial Content"},
        {"301", "Moved Permanently"},
        {"302", "Found"},
        {"304", "Not Modified"},
        {"400", "Bad Request"},
        {"401", "Unauthorized"},
        {"403", "Forbidden"},
        {"404", "Not Found"},
        {"405", "Method Not Allowed"},
        {"406", "Not Acceptable"},
        {"409", "Conflict"},
        {"412", "Precondition Failed"},
        {"413", "Request Entity Too Large"},
        {"414", "Request URI Too Long"},
        {"415", "Unsupported Media Type"},
        {"416", "Requested Range Not Satisfiable"},
        {"417", "Expectation Failed"},
        {"500", "Internal Server Error"},
        {"501", "Not Implemented"},
        {"503", "Service Unavailable"},
    };
    auto phrase = kPhrases.find(last);
    return "number of HTTP " + std::string(last) + " " +
           (phrase != kPhrases.end() ? std::string(phrase->second)
                                     : std::string(reasonPhrase(std::atoi(std::string(last).c_str())))) +
           " responses";
  }
  static const std::map<std::string_view, std::string_view> kKnown = {
      {"couchdb.httpd.requests", "number of HTTP requests"},
      {"couchdb.request_time", "length of a request inside CouchDB without MochiWeb"},
      {"couchdb.document_writes", "number of document write operations"},
      {"couchdb.database_reads", "number of times a document was read from a database"},
      {"couch_replicator.jobs.running", "replicator scheduler running jobs"},
      {"couch_replicator.jobs.pending", "replicator scheduler pending jobs"},
      {"couch_replicator.jobs.crashed", "replicator scheduler crashed jobs"},
      {"couch_replicator.jobs.total", "total number of replicator scheduler jobs"},
      {"settee.sync.completed", "number of complete syncs (both directions caught up)"},
      {"settee.sync.failed", "number of syncs that failed and backed off"},
      {"settee.sync.conflicts_detected", "number of conflicts a sync's pull brought"},
      {"settee.sync.conflicts_resolved", "number of conflicts resolved by a policy"},
      {"settee.sync.duration_seconds", "length of a sync until both directions were caught up"},
      {"settee.sync.outbox_depth", "documents pending for a peer (the outbox), over the syncs running"},
  };
  if (auto it = kKnown.find(name); it != kKnown.end()) return std::string(it->second);
  return std::string(name);
}

const char* kindName(Kind k) {
  switch (k) {
    case Kind::Counter:
      return "counter";
    case Kind::Gauge:
      return "gauge";
    case Kind::Histogram:
      return "histogram";
  }
  return "counter";
}

// folsom's statistics over a histogram's window, as CouchDB's /_stats gives them.
struct Summary {
  double min = 0, max = 0, mean = 0, geometricMean = 0, harmonicMean = 0, median = 0, variance = 0,
         stddev = 0, skewness = 0, kurtosis = 0;
  std::vector<std::pair<int, double>> percentiles;  // 50, 75, 90, 95, 99, 999 (99.9)
  std::vector<std::pair<double, uint64_t>> bins;    // upper bound, observations
  size_t n = 0;
};

Summary summarize(std::vector<double> values) {
  Summary s;
  std::sort(values.begin(), values.end());
  s.n = values.size();
  auto at = [&](double fraction) {
    if (values.empty()) return 0.0;
    auto i = static_cast<size_t>(std::ceil(fraction * static_cast<double>(values.size())));
    return values[std::min(values.size() - 1, i == 0 ? 0 : i - 1)];
  };
  for (int p : {50, 75, 90, 95, 99, 999}) s.percentiles.emplace_back(p, at(p == 999 ? 0.999 : p / 100.0));
  if (values.empty()) {
    s.bins.emplace_back(0, 0);
    return s;
  }
  const double n = static_cast<double>(values.size());
  s.min = values.front();
  s.max = values.back();
  s.median = at(0.5);
  double sum = 0, logSum = 0, invSum = 0;
  bool positive = true;
  for (double v : values) {
    sum += v;
    positive = positive && v > 0;
    if (v > 0) logSum += std::log(v), invSum += 1 / v;
  }
  s.mean = sum / n;
  if (positive) s.geometricMean = std::exp(logSum / n), s.harmonicMean = n / invSum;
  double m2 = 0, m3 = 0, m4 = 0;
  for (double v : values) {
    const double d = v - s.mean;
    m2 += d * d, m3 += d * d * d, m4 += d * d * d * d;
  }
  s.variance = values.size() > 1 ? m2 / (n - 1) : 0;
  s.stddev = std::sqrt(s.variance);
  if (m2 > 0) {
    s.skewness = (m3 / n) / std::pow(m2 / n, 1.5);
    s.kurtosis = (m4 / n) / ((m2 / n) * (m2 / n)) - 3;
  }
  // Ten bins of equal width over [min, max] (one when every value is the same).
  const int binCount = s.max > s.min ? 10 : 1;
  const double width = (s.max - s.min) / binCount;
  size_t i = 0;
  for (int b = 1; b <= binCount; ++b) {
    const double upper = b == binCount ? s.max : s.min + width * b;
    uint64_t c = 0;
    while (i < values.size() && values[i] <= upper) ++i, ++c;
    s.bins.emplace_back(upper, c);
  }
  return s;
}

void writeHistogramValue(db::JsonWriter& w, const metrics::HistogramStats& h) {
  Summary s = summarize(h.window);
  w.StartObject();
  const std::pair<const char*, double> fields[] = {{"min", s.min},
                                                   {"max", s.max},
                                                   {"arithmetic_mean", s.mean},
                                                   {"geometric_mean", s.geometricMean},
                                                   {"harmonic_mean", s.harmonicMean},
                                                   {"median", s.median},
                                                   {"variance", s.variance},
                                                   {"standard_deviation", s.stddev},
                                                   {"skewness", s.skewness},
                                                   {"kurtosis", s.kurtosis}};
  for (auto [k, v] : fields) {
    writeKey(w, k);
    w.Double(v);
  }
  writeKey(w, "percentile");
  w.StartArray();
  for (auto [p, v] : s.percentiles) {
    w.StartArray();
    w.Int(p);
    w.Double(v);
    w.EndArray();
  }
  w.EndArray();
  writeKey(w, "histogram");
  w.StartArray();
  for (auto [upper, c] : s.bins) {
    w.StartArray();
    w.Double(upper);
    w.Uint64(c);
    w.EndArray();
  }
  w.EndArray();
  writeKey(w, "n");
  w.Uint64(s.n);
  w.EndObject();
}

void writeMetric(db::JsonWriter& w, const Sample& s) {
  w.StartObject();
  writeKey(w, "value");
  switch (s.kind) {
    case Kind::Counter:
      w.Uint64(s.counter);
      break;
    case Kind::Gauge:
      w.Int64(s.gauge);
      break;
    case Kind::Histogram:
      writeHistogramValue(w, s.histogram);
      break;
  }
  writeKey(w, "type");
  writeString(w, kindName(s.kind));
  writeKey(w, "desc");
  writeString(w, describe(s.name));
  w.EndObject();
}

std::vector<std::string_view> splitName(std::string_view name) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    parts.push_back(name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

// ---- Prometheus text, named as couch_prometheus names CouchDB's metrics ----

// The shortest text that reads back as the same double.
std::string promNumber(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

struct Family {
  std::string type, help;
  std::vector<std::string> lines;
};

void addLine(std::map<std::string, Family>& families, const std::string& family, const char* type,
             std::string help, std::string line) {
  Family& f = families[family];
  if (f.type.empty()) f.type = type, f.help = std::move(help);
  f.lines.push_back(std::move(line));
}

// "couchdb.httpd.requests" -> "couchdb_httpd_requests": CouchDB drops its own leading group and prefixes
// every name with "couchdb_"; dots (and anything else Prometheus does not allow) become underscores.
std::string promName(std::string_view name) {
  if (name.starts_with("couchdb.")) name.remove_prefix(8);
  std::string out = "couchdb_";
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

}  // namespace

std::string statsJson(const std::vector<Sample>& all, const std::vector<std::string>& path) {
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  [&] {
    // Sorted by name, the metrics under one prefix are consecutive: keep the open objects as a stack.
    std::vector<std::string_view> open;
    bool any = false;
    for (const Sample& s : all) {
      auto parts = splitName(s.name);
      if (parts.size() < path.size() || !std::equal(path.begin(), path.end(), parts.begin())) continue;
      parts.erase(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(path.size()));
      if (parts.empty()) {  // the path names one metric (sorted first among those under it)
        if (any) continue;
        writeMetric(w, s);
        return;
      }
      if (!any) w.StartObject();
      any = true;
      size_t common = 0;
      while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
      while (open.size() > common) {
        w.EndObject();
        open.pop_back();
      }
      for (size_t i = common; i + 1 < parts.size(); ++i) {
        writeKey(w, parts[i]);
        w.StartObject();
        open.push_back(parts[i]);
      }
      writeKey(w, parts.back());
      writeMetric(w, s);
    }
    if (!any) {
      w.Null();
      return;
    }
    for (size_t i = 0; i < open.size(); ++i) w.EndObject();
    w.EndObject();
  }();
  return std::string(db::bufferView(buf));
}

std::string prometheusText(const std::vector<Sample>& all, uint64_t uptimeSeconds) {
  std::map<std::string, Family> families;
  for (const Sample& s : all) {
    std::string_view name = s.name;
    auto last = std::string(name.substr(name.rfind('.') + 1));
    if (name.starts_with("couchdb.httpd_request_methods.")) {
      addLine(families, "couchdb_httpd_request_methods", "counter", "number of HTTP requests by method",
              "couchdb_httpd_request_methods{method=\"" + last + "\"} " + std::to_string(s.counter));
      continue;
    }
    if (name.starts_with("couchdb.httpd_status_codes.")) {
      addLine(families, "couchdb_httpd_status_codes", "counter", "number of HTTP responses by status code",
              "couchdb_httpd_status_codes{code=\"" + last + "\"} " + std::to_string(s.counter));
      continue;
    }
    std::string base = promName(name);
    switch (s.kind) {
      case Kind::Counter: {
        std::string metric = base.ends_with("_total") ? base : base + "_total";
        addLine(families, metric, "counter", describe(s.name), metric + " " + std::to_string(s.counter));
        break;
      }
      case Kind::Gauge:
        addLine(families, base, "gauge", describe(s.name), base + " " + std::to_string(s.gauge));
        break;
      case Kind::Histogram: {
        // A summary in seconds: CouchDB's histograms are in milliseconds, ours named *_seconds already are.
        const bool seconds = base.ends_with("_seconds");
        const double scale = seconds ? 1 : 1.0 / 1000;
        std::string metric = seconds ? base : base + "_seconds";
        Summary sum = summarize(s.histogram.window);
        for (auto [p, v] : sum.percentiles) {
          const char* q = p == 50   ? "0.5"
                          : p == 75 ? "0.75"
                          : p == 90 ? "0.9"
                          : p == 95 ? "0.95"
                          : p == 99 ? "0.99"
                                    : "0.999";
          addLine(families, metric, "summary", describe(s.name),
                  metric + "{quantile=\"" + q + "\"} " + promNumber(v * scale));
        }
        // Sum and count over every observation, so a scraper's rate() over them is right.
        addLine(families, metric, "summary", "", metric + "_sum " + promNumber(s.histogram.totalSum * scale));
        addLine(families, metric, "summary", "", metric + "_count " + std::to_string(s.histogram.total));
        break;
      }
    }
  }
  addLine(families, "couchdb_uptime_seconds", "counter", "uptime of the node in seconds",
          "couchdb_uptime_seconds " + std::to_string(uptimeSeconds));
  std::string out;
  for (const auto& [name, f] : families) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& line : f.lines) out += line + "\n";
  }
  return out;
}

}  // namespace settee::http
