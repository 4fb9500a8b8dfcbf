// http/live_config.h — the running node's configuration: what the configuration API
// (/_node/{node}/_config) reads and changes, and what handlers read on every request.
//
// Two views of one state, changed together under one lock:
// - the values, section -> key -> string, as CouchDB's config holds them: every key the ini files gave
//   (unknown ones too), over the value the node uses for each key it knows (config.h's list), so a
//   reader sees what is in force whether a file set it or not;
// - the typed ServerConfig those values make, handed out as an immutable snapshot (`current()`): a
//   handler takes one and reads it for the length of its request, never seeing half a change.
// A change takes effect at once for the settings config.h marks live (max_document_size, log level,
// require_valid_user, session timeout, CORS, admins, ...); the others (port, database_dir, loops, ...)
// are stored and written and take effect at the next start, as in CouchDB.
// Admin passwords are never kept in plain text: a plain value (from a file or the API) is replaced by
// its PBKDF2 hash in CouchDB's "-pbkdf2:sha256-<key>,<salt>,<iterations>" form before it is stored, and
// that hash is what is written back to the file.
// Persistence: a change is written to the last ini file (ServerConfig::iniFiles.back()), one line
// replaced, added or (for a delete) set empty, as CouchDB's config writer does, and the file replaced
// whole by a rename of a fully written temporary, so a crash leaves the old file or the new one. With
// no ini file, changes live in memory only. `reload()` reads the files again (dropping changes made
// with persist=false), keeping what the command line set over them.
// Thread-safe: every method may be called from any thread; readers never wait for a file to be written.
// Listeners run on the thread that made the change, in the order they were added, one change at a time
// (so they must not change the configuration themselves); add them before the node serves.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/config.h"
#include "settee/status.h"

namespace settee::http {

class LiveConfig {
 public:
  using Listener = std::function<void(const ServerConfig&)>;

  // `initial`: the configuration the node starts with (files read, command line applied). Plain admin
  // passwords are hashed here, and the hashes written back to the last ini file.
  explicit LiveConfig(ServerConfig initial);
  LiveConfig(const LiveConfig&) = delete;
  LiveConfig& operator=(const LiveConfig&) = delete;

  // The typed configuration in force; the snapshot never changes (a change makes a new one).
  std::shared_ptr<const ServerConfig> current() const;

  IniValues all() const;
  // The keys of one section ({} for a section nobody set, as CouchDB answers).
  std::map<std::string, std::string> section(const std::string& name) const;
  std::optional<std::string> get(const std::string& section, const std::string& key) const;

  // Sets a value (trimmed): the old value ("" when there was none), or bad_request for a value a known
  // key cannot take, or a section, key or value that cannot be written to an ini file. `persist` writes
  // it to the ini file too (an error when that fails: the change is then not made).
  Result<std::string> set(const std::string& section, const std::string& key, std::string value,
                          bool persist);
  // Removes a value: the old one, or not_found "unknown_config_value".
  Result<std::string> remove(const std::string& section, const std::string& key, bool persist);
  // Reads the ini files again over the defaults, then the command line's settings over them.
  Status reload();

  void onChange(Listener listener);

  // A plain admin password as CouchDB 3.4 stores it ("-pbkdf2:sha256-..."); a value that already is a
  // hash comes back unchanged.
  static std::string hashAdminPassword(const std::string& value);

 private:
  // Builds values_ and typed_ from ini files' values and the overrides. mu_ held.
  Status rebuild(IniValues fileValues);
  // Replaces (or, for "", blanks) one key in the last ini file. writeMu_ held.
  Status persist(const std::string& section, const std::string& key, const std::string& value);
  void notify(const std::shared_ptr<const ServerConfig>& config);

  // One change at a time, held while the file is written (readers never wait for it); taken before mu_.
  std::mutex writeMu_;
  const std::vector<std::string> files_;
  mutable std::mutex mu_;  // guards everything below, held briefly
  // What the node was started with beyond its files (command-line flags, the C API's options): known
  // keys whose value differs from what the files alone give, kept over the files by reload().
  IniValues overrides_;
  IniValues values_;
  std::shared_ptr<const ServerConfig> typed_;
  // Settings the files cannot hold (the query server's command); carried into every new snapshot.
  std::optional<std::vector<std::string>> queryServer_;
  std::vector<Listener> listeners_;
};

// How handlers read the configuration (Services::config): `svc->config->maxDocumentSize` reads the
// snapshot in force for that one expression. To read several fields that must agree, or to keep a
// reference to one, take `snapshot()` and keep it for as long as the reference is used.
struct ConfigView {
  LiveConfig* live = nullptr;
  std::shared_ptr<const ServerConfig> operator->() const;
  std::shared_ptr<const ServerConfig> snapshot() const;
};

}  // namespace settee::http
