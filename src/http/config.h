// http/config.h — the node's configuration, read from an ini file shaped like CouchDB's local.ini.
//
// Sections and keys understood (anything else is ignored, as CouchDB ignores unknown keys):
//   [chttpd]   port, bind_address, max_http_request_size, max_db_number_for_dbs_info_req, allow_jsonp
//   [settee]   max_buffered_body_bytes (request bodies held whole at once, all connections; 503 past it)
//   [settee]   loops (event loops serving HTTP, each on a thread of its own; 0, the default: one per core)
//   [couchdb]  database_dir, max_document_size, uuid, os_process_timeout (milliseconds)
//   [settee]   revs_limit (default for new databases), log_level (debug|info|warn|error|none)
//   [fabric]   request_timeout (milliseconds one request's long work may take)
//   [admins]   name = password   (plain text or "-pbkdf2-<hex key>,<hex salt>,<iterations>")
//   [httpd]    enable_cors = true|false
//   [cors]     origins (comma-separated, or *), credentials, headers, methods
//   [conflict_policy]  dbname = keep|lww:FIELD|merge|merge:lww:FIELD (settee/conflict.h), resolved by the
//              node as conflicts arrive; `default = ...` for every database not named
//   [chttpd]   require_valid_user = true|false (every request needs valid credentials; 401 otherwise),
//              require_valid_user_except_for_up = true|false (the same, but /_up stays open)
//   [couchdb]  users_db_security_editable = true|false (may _users' _security be changed; default false)
//   [chttpd_auth] (or CouchDB's older name [couch_httpd_auth]; chttpd_auth wins) timeout (seconds a
//              session cookie lasts), allow_persistent_cookies = true|false (the cookie gets Max-Age)
// Other sections and keys are kept as read (the configuration API shows them) and otherwise ignored, as
// CouchDB ignores keys it does not know. An empty value (`key =`) unsets the key, as in CouchDB, so a
// later file can take back what an earlier one set. Command-line flags are applied after the files, so
// they win. Plain values; no threads involved (http/live_config.h is the node's running copy).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "settee/status.h"

namespace settee::http {

struct CorsConfig {
  bool enabled = false;
  bool credentials = false;
  std::vector<std::string> origins;  // "*" allows any origin
  std::string headers = "accept, authorization, content-type, origin, referer";
  std::string methods = "GET, PUT, POST, HEAD, DELETE";
};

// An ini file's contents: section -> key -> value, unknown keys included.
using IniValues = std::map<std::string, std::map<std::string, std::string>>;

// The most loops `[settee] loops` accepts: a loop is a thread and its handles, not worth more than cores.
inline constexpr uint32_t kMaxLoops = 256;

struct ServerConfig {
  std::string bind = "127.0.0.1";
  int port = 5984;
  std::string dataDir = "./data";
  size_t maxDocumentSize = 8 * 1024 * 1024;     // CouchDB's max_document_size
  size_t maxRequestSize = 64 * 1024 * 1024;     // bytes of one request body
  size_t maxBufferedBodies = 64 * 1024 * 1024;  // request bodies held whole at once, all connections
  // Most database names one POST /_dbs_info may ask about (CouchDB's max_db_number_for_dbs_info_req):
  // each opens a database file, so one request cannot open them all.
  size_t maxDbsInfoKeys = 100;
  // CouchDB's [chttpd] allow_jsonp (off by default): a JSON answer to a request with `callback=NAME` is
  // sent as the script `NAME(json);`, which is how pages read other origins before CORS.
  bool allowJsonp = false;
  // Event loops that serve HTTP, each on its own thread, sharing the port ([settee] loops). 0 (the
  // default) means one per core this process may run on (defaultLoops()): a loop moves bytes and parses
  // HTTP, and one loop is what one core can serve, so more cores serve more only with more loops.
  uint32_t loops = 0;
  uint32_t revsLimit = 1000;
  // The time one request's long work may take ([fabric] request_timeout, CouchDB's default): a normal or
  // longpoll _changes scan past it ends with the last_seq it reached.
  std::chrono::milliseconds requestTimeout{60000};
  // CouchDB's os_process_timeout: the longest a query server (validate_doc_update, filters) may take
  // to answer one command before it is killed.
  std::chrono::milliseconds osProcessTimeout{5000};
  // The JavaScript query server's argv. Unset: this binary's own `settee js` (or the command in
  // COUCHDB_QUERY_SERVER_JAVASCRIPT, as CouchDB). Empty: none, so every JavaScript call fails with
  // os_process_error — an app embedding a node (the C API) is not the settee binary, and spawning
  // "itself js" would start the app again.
  std::optional<std::vector<std::string>> queryServer;
  std::string logLevel = "info";
  // [chttpd] require_valid_user: anonymous requests are refused (401 "Authentication required.").
  bool requireValidUser = false;
  // [chttpd] require_valid_user_except_for_up: the same, with /_up left open for health checks.
  bool requireValidUserExceptForUp = false;
  // [chttpd_auth] timeout: how long a session cookie stays valid, in seconds (CouchDB's default).
  uint64_t sessionTimeout = 600;
  // [chttpd_auth] allow_persistent_cookies: the AuthSession cookie carries Max-Age (it outlives the
  // browser session) as CouchDB 3 does by default.
  bool persistentCookies = true;
  // [couchdb] users_db_security_editable: may `_users`' security object be changed (CouchDB 3: no, it
  // stays admin-only)?
  bool usersDbSecurityEditable = false;
  std::string uuid;                           // empty: made once and kept in the data directory
  std::map<std::string, std::string> admins;  // name -> password or its pbkdf2 hash
  CorsConfig cors;
  // [conflict_policy]: database name (or "default") -> the policy's text form, checked when read.
  std::map<std::string, std::string> conflictPolicies;
  // Every section and key the ini files gave, as read (later files over earlier ones, empty values
  // taking a key back), known or not; and the files, in the order read. The last one is where the
  // configuration API writes its changes (CouchDB writes its last ini file); none: changes stay in memory.
  IniValues ini;
  std::vector<std::string> iniFiles;
};

// The loops `loops = 0` stands for: one per core this process may run on (its CPU affinity, so a node
// started under `taskset -c 0` runs one loop), at least one.
uint32_t defaultLoops();

// Reads `path` over `config` (its values, `ini` and `iniFiles`). Errors: not_found for a missing file,
// bad_request for a malformed line or a bad value (the reason names the line).
Status loadConfig(const std::string& path, ServerConfig& config);

// Reads an ini file into section -> key -> value over `into` (an empty value erases the key). Errors as
// loadConfig's, for the file's syntax only.
Status readIni(const std::string& path, IniValues& into);

// Sets one value on `config` as the ini key `section`/`key` would: bad_request when a known key gets a
// value it cannot take (the reason says which); unknown keys change nothing. An empty value sets the
// key's default.
Status applySetting(ServerConfig& config, const std::string& section, const std::string& key,
                    const std::string& value);

// The value `config` holds for every known key, as the ini would spell it (admins and conflict policies
// included), so the configuration API can show what the node uses whether a file set it or not.
IniValues renderSettings(const ServerConfig& config);

// Does a change to this key take effect in a running node? (Otherwise it is kept, written, and takes
// effect at the next start, as CouchDB's port or database_dir do.)
bool appliesLive(const std::string& section, const std::string& key);

}  // namespace settee::http
