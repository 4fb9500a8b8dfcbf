#include "http/live_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "http/password.h"

namespace settee::http {
namespace {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  size_t b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

void store(IniValues& into, const std::string& section, const std::string& key, const std::string& value) {
  if (value.empty()) {
    auto it = into.find(section);
    if (it == into.end()) return;
    it->second.erase(key);
    if (it->second.empty()) into.erase(it);
  } else {
    into[section][key] = value;
  }
}

// The typed configuration the values of the files make over the defaults: bad_request for a value a
// known key cannot take. CouchDB takes [chttpd_auth] over [couch_httpd_auth], so it goes last.
Status typedFrom(const IniValues& values, ServerConfig& out) {
  for (const auto& [section, keys] : values) {
    if (section == "chttpd_auth") continue;
    for (const auto& [key, value] : keys) {
      if (Status st = applySetting(out, section, key, value); !st) return st;
    }
  }
  if (auto it = values.find("chttpd_auth"); it != values.end()) {
    for (const auto& [key, value] : it->second) {
      if (Status st = applySetting(out, "chttpd_auth", key, value); !st) return st;
    }
  }
  return Status::ok();
}

// Can this be written as one `key = value` line of section `section` and read back the same?
Status writable(const std::string& section, const std::string& key, const std::string& value) {
  auto bad = [](const std::string& s, const char* chars) {
    return s.find_first_of(chars) != std::string::npos;
  };
  if (section.empty() || bad(section, "[]\r\n") || trim(section) != section)
    return badRequest("Config section names must be non-empty, on one line, without brackets.");
  if (key.empty() || bad(key, "=\r\n") || trim(key) != key || key[0] == ';' || key[0] == '#')
    return badRequest("Config keys must be non-empty, on one line, without '='.");
  if (bad(value, "\r\n")) return badRequest("Config values must be on one line.");
  return Status::ok();
}

// Writes `text` to `path` through a temporary beside it, renamed over it once written and synced.
Status replaceFile(const std::string& path, const std::string& text) {
  struct stat st {};
  // The file may hold admin password hashes: a new one is its owner's only; an existing one keeps its mode.
  mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status(ErrorCode::Internal, "cannot write " + temp);
  bool ok = ::fchmod(fd, mode) == 0;
  size_t done = 0;
  while (ok && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0)
      ok = false;
    else
      done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Status(ErrorCode::Internal, "cannot write " + path);
  }
  return Status::ok();
}

}  // namespace

std::shared_ptr<const ServerConfig> ConfigView::operator->() const { return live->current(); }
std::shared_ptr<const ServerConfig> ConfigView::snapshot() const { return live->current(); }

std::string LiveConfig::hashAdminPassword(const std::string& value) {
  if (PasswordHash::fromAdminConfig(value)) return value;
  PasswordHash h = PasswordHash::make(value);
  return "-pbkdf2:" + h.prf + "-" + h.derivedKey + "," + h.salt + "," + std::to_string(h.iterations);
}

LiveConfig::LiveConfig(ServerConfig initial) : files_(initial.iniFiles), queryServer_(initial.queryServer) {
  // What the files alone make; whatever the node was started with beyond that is an override.
  ServerConfig fromFiles;
  (void)typedFrom(initial.ini, fromFiles);
  IniValues started = renderSettings(initial), filed = renderSettings(fromFiles);
  for (const auto& [section, keys] : started) {
    for (const auto& [key, value] : keys) {
      auto s = filed.find(section);
      if (s == filed.end() || !s->second.count(key) || s->second.at(key) != value)
        overrides_[section][key] = value;
    }
  }
  IniValues fileValues = initial.ini;
  std::lock_guard writing(writeMu_);
  std::lock_guard lock(mu_);
  // Plain admin passwords, hashed once and for all; those from the files are written back hashed.
  for (auto* values : {&fileValues, &overrides_}) {
    auto admins = values->find("admins");
    if (admins == values->end()) continue;
    for (auto& [name, password] : admins->second) {
      std::string hashed = hashAdminPassword(password);
      if (hashed == password) continue;
      password = hashed;
      if (values == &fileValues) (void)persist("admins", name, hashed);
    }
  }
  if (!rebuild(std::move(fileValues))) {
    // The files were read and checked by the node's start; should they no longer make a configuration,
    // the node keeps the one it started with.
    typed_ = std::make_shared<const ServerConfig>(std::move(initial));
    values_ = renderSettings(*typed_);
  }
}

Status LiveConfig::rebuild(IniValues fileValues) {
  ServerConfig typed;
  if (Status st = typedFrom(fileValues, typed); !st) return st;
  if (Status st = typedFrom(overrides_, typed); !st) return st;
  typed.queryServer = queryServer_;
  typed.iniFiles = files_;
  IniValues values = fileValues;
  for (auto& [section, keys] : renderSettings(typed)) {
    for (auto& [key, value] : keys) {
      if (!value.empty()) values[section][key] = value;  // an unset uuid is no value
    }
  }
  typed.ini = std::move(fileValues);
  values_ = std::move(values);
  typed_ = std::make_shared<const ServerConfig>(std::move(typed));
  return Status::ok();
}

std::shared_ptr<const ServerConfig> LiveConfig::current() const {
  std::lock_guard lock(mu_);
  return typed_;
}

IniValues LiveConfig::all() const {
  std::lock_guard lock(mu_);
  return values_;
}

std::map<std::string, std::string> LiveConfig::section(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(name);
  return it == values_.end() ? std::map<std::string, std::string>() : it->second;
}

std::optional<std::string> LiveConfig::get(const std::string& section, const std::string& key) const {
  std::lock_guard lock(mu_);
  auto s = values_.find(section);
  if (s == values_.end()) return std::nullopt;
  auto k = s->second.find(key);
  if (k == s->second.end()) return std::nullopt;
  return k->second;
}

Result<std::string> LiveConfig::set(const std::string& section, const std::string& key, std::string value,
                                    bool persistIt) {
  value = trim(value);
  if (Status st = writable(section, key, value); !st) return st;
  // The hash costs a PBKDF2: made before the lock, so readers never wait for it.
  if (section == "admins" && !value.empty()) value = hashAdminPassword(value);
  std::lock_guard writing(writeMu_);
  std::string old;
  IniValues fileValues;
  {
    std::lock_guard lock(mu_);
    if (auto s = values_.find(section); s != values_.end()) {
      if (auto k = s->second.find(key); k != s->second.end()) old = k->second;
    }
    fileValues = typed_->ini;
  }
  store(fileValues, section, key, value);
  // Checked before anything is written: a value the node cannot take changes nothing.
  ServerConfig check;
  if (Status st = typedFrom(fileValues, check); !st) return st;
  // The file is written outside mu_, so requests reading the configuration never wait for the disk;
  // writeMu_ keeps any other change from coming between.
  if (persistIt) {
    if (Status st = persist(section, key, value); !st) return st;
  }
  std::shared_ptr<const ServerConfig> changed;
  {
    std::lock_guard lock(mu_);
    // A change made now is newer than the command line the node started with.
    IniValues overrides = overrides_;
    store(overrides_, section, key, "");
    if (Status st = rebuild(std::move(fileValues)); !st) {
      overrides_ = std::move(overrides);
      return st;
    }
    changed = typed_;
  }
  notify(changed);
  return old;
}

Result<std::string> LiveConfig::remove(const std::string& section, const std::string& key, bool persistIt) {
  auto old = get(section, key);
  if (!old) return notFound("unknown_config_value");
  if (auto st = set(section, key, "", persistIt); !st) return st.status();
  return *old;
}

Status LiveConfig::reload() {
  IniValues fileValues;
  for (const std::string& file : files_) {
    Status st = readIni(file, fileValues);
    if (!st && !(st.code() == ErrorCode::NotFound && &file == &files_.back())) return st;
  }
  std::vector<std::pair<std::string, std::string>> hashed;
  if (auto admins = fileValues.find("admins"); admins != fileValues.end()) {
    for (auto& [name, password] : admins->second) {
      std::string hash = hashAdminPassword(password);
      if (hash != password) hashed.emplace_back(name, hash);
      password = std::move(hash);
    }
  }
  std::lock_guard writing(writeMu_);
  for (const auto& [name, hash] : hashed) (void)persist("admins", name, hash);
  std::shared_ptr<const ServerConfig> changed;
  {
    std::lock_guard lock(mu_);
    if (Status st = rebuild(std::move(fileValues)); !st) return st;
    changed = typed_;
  }
  notify(changed);
  return Status::ok();
}

void LiveConfig::onChange(Listener listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

void LiveConfig::notify(const std::shared_ptr<const ServerConfig>& config) {
  std::vector<Listener> listeners;
  {
    std::lock_guard lock(mu_);
    listeners = listeners_;
  }
  for (const auto& l : listeners) l(*config);
}

Status LiveConfig::persist(const std::string& section, const std::string& key, const std::string& value) {
  if (files_.empty()) return Status::ok();
  const std::string& path = files_.back();
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  // The key's last line in the section (the one a reader takes), and where the section's last
  // instance ends, for a key it does not have yet.
  std::optional<size_t> keyLine, sectionEnd;
  std::string current;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string t = trim(lines[i]);
    if (t.empty() || t[0] == ';' || t[0] == '#') continue;
    if (t.front() == '[' && t.back() == ']') {
      current = trim(t.substr(1, t.size() - 2));
      if (current == section) sectionEnd = i + 1;
      continue;
    }
    if (current != section) continue;
    sectionEnd = i + 1;
    size_t eq = t.find('=');
    if (eq != std::string::npos && trim(t.substr(0, eq)) == key) keyLine = i;
  }
  // An empty value is how an ini file takes back a key an earlier file set (CouchDB writes the same).
  std::string entry = key + " = " + value;
  if (keyLine) {
    lines[*keyLine] = entry;
  } else if (sectionEnd) {
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(*sectionEnd), entry);
  } else {
    if (!lines.empty() && !trim(lines.back()).empty()) lines.emplace_back();
    lines.push_back("[" + section + "]");
    lines.push_back(entry);
  }
  std::ostringstream text;
  for (const auto& l : lines) text << l << '\n';
  return replaceFile(path, text.str());
}

}  // namespace settee::http
