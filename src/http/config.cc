#include "http/config.h"

#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
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
    std::string item =
        trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
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

namespace {

// One known key: how a value sets the typed config, and how the typed config spells it back. `apply`
// returns false for a value the key cannot take.
struct Setting {
  const char* section;
  const char* key;
  bool (*apply)(ServerConfig&, const std::string&);
  std::string (*render)(const ServerConfig&);
  bool live;  // takes effect in a running node (see appliesLive)
};

template <class T>
std::string text(T n) {
  return std::to_string(n);
}
std::string flag(bool b) { return b ? "true" : "false"; }
bool boolean(const std::string& v, bool& out) {
  if (v != "true" && v != "false") return false;
  out = v == "true";
  return true;
}
bool milliseconds(const std::string& v, std::chrono::milliseconds& out) {
  uint64_t ms = 0;
  if (!number(v, ms) || ms == 0) return false;
  out = std::chrono::milliseconds(ms);
  return true;
}
bool setteeLogLevel(const std::string& v, std::string& out) {
  for (const char* l : {"debug", "info", "warn", "error", "none"}) {
    if (v == l) {
      out = v;
      return true;
    }
  }
  return false;
}
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = {
      {"chttpd", "port",
       [](ServerConfig& c, const std::string& v) {
         return number(v, c.port) && c.port >= 0 && c.port < 65536;
       },
       [](const ServerConfig& c) { return text(c.port); }, false},
      {"chttpd", "bind_address",
       [](ServerConfig& c, const std::string& v) {
         c.bind = v;
         return !v.empty();
       },
       [](const ServerConfig& c) { return c.bind; }, false},
      {"chttpd", "max_http_request_size",
       [](ServerConfig& c, const std::string& v) { return number(v, c.maxRequestSize); },
       [](const ServerConfig& c) { return text(c.maxRequestSize); }, false},
      {"chttpd", "max_db_number_for_dbs_info_req",
       [](ServerConfig& c, const std::string& v) { return number(v, c.maxDbsInfoKeys); },
       [](const ServerConfig& c) { return text(c.maxDbsInfoKeys); }, true},
      {"chttpd", "allow_jsonp",
       [](ServerConfig& c, const std::string& v) { return boolean(v, c.allowJsonp); },
       [](const ServerConfig& c) { return flag(c.allowJsonp); }, true},
      {"chttpd", "require_valid_user",
       [](ServerConfig& c, const std::string& v) { return boolean(v, c.requireValidUser); },
       [](const ServerConfig& c) { return flag(c.requireValidUser); }, true},
      {"chttpd", "require_valid_user_except_for_up",
       [](ServerConfig& c, const std::string& v) { return boolean(v, c.requireValidUserExceptForUp); },
       [](const ServerConfig& c) { return flag(c.requireValidUserExceptForUp); }, true},
      {"couchdb", "database_dir",
       [](ServerConfig& c, const std::string& v) {
         c.dataDir = v;
         return !v.empty();
       },
       [](const ServerConfig& c) { return c.dataDir; }, false},
      {"couchdb", "max_document_size",
       [](ServerConfig& c, const std::string& v) {
         return number(v, c.maxDocumentSize) && c.maxDocumentSize > 0;
       },
       [](const ServerConfig& c) { return text(c.maxDocumentSize); }, true},
      {"couchdb", "users_db_security_editable",
       [](ServerConfig& c, const std::string& v) { return boolean(v, c.usersDbSecurityEditable); },
       [](const ServerConfig& c) { return flag(c.usersDbSecurityEditable); }, true},
      {"couchdb", "uuid",
       [](ServerConfig& c, const std::string& v) {
         c.uuid = v;
         return true;
       },
       [](const ServerConfig& c) { return c.uuid; }, false},
      {"couchdb", "os_process_timeout",
       [](ServerConfig& c, const std::string& v) { return milliseconds(v, c.osProcessTimeout); },
       [](const ServerConfig& c) { return text(c.osProcessTimeout.count()); }, false},
      {"settee", "revs_limit",
       [](ServerConfig& c, const std::string& v) { return number(v, c.revsLimit) && c.revsLimit > 0; },
       [](const ServerConfig& c) { return text(c.revsLimit); }, false},
      {"settee", "log_level",
       [](ServerConfig& c, const std::string& v) { return setteeLogLevel(v, c.logLevel); },
       [](const ServerConfig& c) { return c.logLevel; }, true},
      {"settee", "max_buffered_body_bytes",
       [](ServerConfig& c, const std::string& v) { return number(v, c.maxBufferedBodies); },
       [](const ServerConfig& c) { return text(c.maxBufferedBodies); }, false},
      {"settee", "loops",
       [](ServerConfig& c, const std::string& v) { return number(v, c.loops) && c.loops <= kMaxLoops; },
       [](const ServerConfig& c) { return text(c.loops); }, false},
      {"fabric", "request_timeout",
       [](ServerConfig& c, const std::string& v) { return milliseconds(v, c.requestTimeout); },
       [](const ServerConfig& c) { return text(c.requestTimeout.count()); }, true},
      // CouchDB reads [chttpd_auth] first and falls back to the older [couch_httpd_auth]; both are
      // applied, chttpd_auth last (see applyAll).
      {"couch_httpd_auth", "timeout",
       [](ServerConfig& c, const std::string& v) {
         return number(v, c.sessionTimeout) && c.sessionTimeout > 0;
       },
       [](const ServerConfig& c) { return text(c.sessionTimeout); }, true},
      {"couch_httpd_auth", "allow_persistent_cookies",
       [](ServerConfig& c, const std::string& v) { return boolean(v, c.persistentCookies); },
       [](const ServerConfig& c) { return flag(c.persistentCookies); }, true},
      {"chttpd_auth", "timeout",
       [](ServerConfig& c, const std::string& v) {
         return number(v, c.sessionTimeout) && c.sessionTimeout > 0;
       },
       [](const ServerConfig& c) { return text(c.sessionTimeout); }, true},
      {"chttpd_auth", "allow_persistent_cookies",
       [](ServerConfig& c, const std::string& v) { return boolean(v, c.persistentCookies); },
       [](const ServerConfig& c) { return flag(c.persistentCookies); }, true},
      {"httpd", "enable_cors",
       [](ServerConfig& c, const std::string& v) { return boolean(v, c.cors.enabled); },
       [](const ServerConfig& c) { return flag(c.cors.enabled); }, true},
      {"cors", "origins",
       [](ServerConfig& c, const std::string& v) {
         c.cors.origins = list(v);
         return true;
       },
       [](const ServerConfig& c) { return joined(c.cors.origins); }, true},
      {"cors", "credentials",
       [](ServerConfig& c, const std::string& v) { return boolean(v, c.cors.credentials); },
       [](const ServerConfig& c) { return flag(c.cors.credentials); }, true},
      {"cors", "headers",
       [](ServerConfig& c, const std::string& v) {
         c.cors.headers = v;
         return true;
       },
       [](const ServerConfig& c) { return c.cors.headers; }, true},
      {"cors", "methods",
       [](ServerConfig& c, const std::string& v) {
         c.cors.methods = v;
         return true;
       },
       [](const ServerConfig& c) { return c.cors.methods; }, true},
  };
  return table;
}

const Setting* findSetting(const std::string& section, const std::string& key) {
  for (const Setting& s : settings()) {
    if (section == s.section && key == s.key) return &s;
  }
  return nullptr;
}

}  // namespace

Status applySetting(ServerConfig& config, const std::string& section, const std::string& key,
                    const std::string& value) {
  if (section == "admins") {
    if (value.empty())
      config.admins.erase(key);
    else
      config.admins[key] = value;
    return Status::ok();
  }
  if (section == "conflict_policy") {
    if (value.empty()) {
      config.conflictPolicies.erase(key);
      return Status::ok();
    }
    auto policy = ConflictPolicy::parse(value);
    if (!policy) return badRequest(policy.status().reason());
    config.conflictPolicies[key] = value;
    return Status::ok();
  }
  const Setting* setting = findSetting(section, key);
  if (!setting) return Status::ok();
  static const ServerConfig defaults;
  ServerConfig changed = config;
  if (!setting->apply(changed, value.empty() ? setting->render(defaults) : value))
    return badRequest("bad value for " + section + "/" + key + ": " + value);
  config = std::move(changed);
  return Status::ok();
}

IniValues renderSettings(const ServerConfig& config) {
  IniValues out;
  for (const Setting& s : settings()) out[s.section][s.key] = s.render(config);
  for (const auto& [name, password] : config.admins) out["admins"][name] = password;
  for (const auto& [db, policy] : config.conflictPolicies) out["conflict_policy"][db] = policy;
  return out;
}

bool appliesLive(const std::string& section, const std::string& key) {
  if (section == "admins") return true;
  const Setting* setting = findSetting(section, key);
  return !setting || setting->live;
}

namespace {

// Calls `fn` for each `key = value` line of the file, in order; a malformed line is a bad_request naming it.
Status forEachValue(const std::string& path,
                    const std::function<Status(const std::string& section, const std::string& key,
                                               const std::string& value)>& fn) {
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
    if (Status st = fn(section, trim(line.substr(0, eq)), trim(line.substr(eq + 1))); !st)
      return badRequest(where() + ": " + st.reason());
  }
  return Status::ok();
}

void store(IniValues& into, const std::string& section, const std::string& key, const std::string& value) {
  if (value.empty())
    into[section].erase(key);
  else
    into[section][key] = value;
}

}  // namespace

Status readIni(const std::string& path, IniValues& into) {
  return forEachValue(path,
                      [&](const std::string& section, const std::string& key, const std::string& value) {
                        store(into, section, key, value);
                        return Status::ok();
                      });
}

Status loadConfig(const std::string& path, ServerConfig& config) {
  Status st =
      forEachValue(path, [&](const std::string& section, const std::string& key, const std::string& value) {
        store(config.ini, section, key, value);
        return applySetting(config, section, key, value);
      });
  if (!st) return st;
  // CouchDB takes [chttpd_auth] over the older [couch_httpd_auth], whichever a file names last.
  if (auto sec = config.ini.find("chttpd_auth"); sec != config.ini.end()) {
    for (const auto& [key, value] : sec->second) (void)applySetting(config, "chttpd_auth", key, value);
  }
  config.iniFiles.push_back(path);
  return Status::ok();
}

}  // namespace settee::http
