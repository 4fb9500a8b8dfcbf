#include "http/config.h"

#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <charconv>
#include <fstream>
#include <thread>

#include "settee/conflict.h"

namespace settee::http {
namespace {

std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\r");
  size_t b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

template <class T>
bool number(const std::string& text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string> list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

uint32_t defaultLoops() {
#ifdef __linux__
  // The cores this process may run on (a container's or taskset's share), not all the machine's. Linux and
  // Android only; elsewhere (Apple) hardware_concurrency is the count.
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 0)
    return std::min<uint32_t>(kMaxLoops, static_cast<uint32_t>(CPU_COUNT(&cpus)));
#endif
  return std::clamp<uint32_t>(std::thread::hardware_concurrency(), 1, kMaxLoops);
}

Status loadConfig(const std::string& path, ServerConfig& config) {
  std::ifstream in(path);
  if (!in) return notFound("config file " + path + " cannot be read");
  std::string line, section;
  for (int lineNo = 1; std::getline(in, line); ++lineNo) {
    line = trim(line);
    if (line.empty() || line[0] == ';' || line[0] == '#') continue;
    auto where = [&] { return path + ":" + std::to_string(lineNo); };
    if (line.front() == '[') {
      if (line.back() != ']') return badRequest(where() + ": malformed section header");
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) return badRequest(where() + ": expected key = value");
    std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    bool ok = true;
    if (section == "chttpd" && key == "port") ok = number(value, config.port) && config.port >= 0 && config.port < 65536;
    else if (section == "chttpd" && key == "bind_address") config.bind = value;
    else if (section == "chttpd" && key == "max_http_request_size") ok = number(value, config.maxRequestSize);
    else if (section == "chttpd" && key == "max_db_number_for_dbs_info_req") ok = number(value, config.maxDbsInfoKeys);
    else if (section == "chttpd" && key == "allow_jsonp") config.allowJsonp = value == "true";
    else if (section == "couchdb" && key == "database_dir") config.dataDir = value;
    else if (section == "couchdb" && key == "max_document_size") ok = number(value, config.maxDocumentSize);
    else if (section == "couchdb" && key == "uuid") config.uuid = value;
    else if (section == "settee" && key == "revs_limit") ok = number(value, config.revsLimit) && config.revsLimit > 0;
    else if (section == "settee" && key == "log_level") config.logLevel = value;
    else if (section == "settee" && key == "max_buffered_body_bytes") ok = number(value, config.maxBufferedBodies);
    else if (section == "settee" && key == "loops") ok = number(value, config.loops) && config.loops <= kMaxLoops;
    else if (section == "fabric" && key == "request_timeout") {
      uint64_t ms = 0;
      ok = number(value, ms) && ms > 0;
      config.requestTimeout = std::chrono::milliseconds(ms);
    }
    else if (section == "couchdb" && key == "os_process_timeout") {
      uint64_t ms = 0;
      ok = number(value, ms) && ms > 0;
      config.osProcessTimeout = std::chrono::milliseconds(ms);
    }
    else if (section == "admins") config.admins[key] = value;
    else if (section == "httpd" && key == "enable_cors") config.cors.enabled = value == "true";
    else if (section == "cors" && key == "origins") config.cors.origins = list(value);
    else if (section == "cors" && key == "credentials") config.cors.credentials = value == "true";
    else if (section == "cors" && key == "headers") config.cors.headers = value;
    else if (section == "cors" && key == "methods") config.cors.methods = value;
    else if (section == "conflict_policy") {
      auto policy = ConflictPolicy::parse(value);
      if (!policy) return badRequest(where() + ": " + policy.status().reason());
      config.conflictPolicies[key] = value;
    }
    if (!ok) return badRequest(where() + ": bad value for " + key);
  }
  return Status::ok();
}

}  // namespace settee::http
