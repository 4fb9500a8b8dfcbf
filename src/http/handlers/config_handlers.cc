// The node's own endpoints, as CouchDB 3.4 answers them (chttpd_node): the configuration API
// (/_node/{node}/_config[/{section}[/{key}]], /_config/_reload) over the node's LiveConfig, the node's
// name (/_node/_local), its process figures (/_node/{node}/_system) and /_membership. All of it is for
// server admins, as in CouchDB. {node} is `_local` or this node's name (kNodeName); any other is CouchDB's
// 404 "no such node".
#include <malloc.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "http/design_functions.h"
#include "http/handlers/handlers.h"
#include "js/query_server_pool.h"

namespace settee::http {
namespace {

using db::writeKey;
using db::writeString;

std::optional<Response> checkNode(const Call& call) {
  const std::string& node = call.params["node"];
  if (node == "_local" || node == kNodeName) return std::nullopt;
  return errorResponse(404, "not_found", "no such node: " + node);
}

// CouchDB's couch_util:check_config_blacklist: sections that name code to run are changed in files only.
bool blacklisted(const std::string& section) {
  for (const char* s :
       {"daemons", "external", "httpd_design_handlers", "httpd_db_handlers", "httpd_global_handlers",
        "native_query_servers", "os_daemons", "query_servers", "feature_flags"}) {
    if (section == s) return true;
  }
  return false;
}

// X-Couch-Persist: false keeps a change in memory (until _reload or a restart).
bool persistChange(const Call& call) {
  const std::string* persist = call.req.header("X-Couch-Persist");
  return !persist || *persist != "false";
}

Response jsonString(std::string_view value) {
  return Response::json(200, writeJson([&](db::JsonWriter& w) { writeString(w, value); }));
}

void writeSection(db::JsonWriter& w, const std::map<std::string, std::string>& keys) {
  w.StartObject();
  for (const auto& [key, value] : keys) {
    writeKey(w, key);
    writeString(w, value);
  }
  w.EndObject();
}

// `Name:   123 kB` lines of /proc/self/status, in bytes (or the plain count for other fields).
std::map<std::string, uint64_t> procStatus() {
  std::map<std::string, uint64_t> out;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream rest(line.substr(colon + 1));
    uint64_t n = 0;
    std::string unit;
    if (!(rest >> n)) continue;
    rest >> unit;
    out[line.substr(0, colon)] = unit == "kB" ? n * 1024 : n;
  }
  return out;
}

std::map<std::string, uint64_t> procIo() {
  std::map<std::string, uint64_t> out;
  std::ifstream in("/proc/self/io");
  std::string name;
  uint64_t n = 0;
  while (in >> name >> n) out[name.substr(0, name.size() - 1)] = n;
  return out;
}

// CouchDB's _system figures that this process has: the Erlang VM's memory classes, mapped onto what a
// C++ process holds (the malloc heap for "processes", the mapped binary and libraries for "code", the
// rest of the resident set for "other"); Erlang-only figures that have no counterpart here (atoms, ETS,
// run queues, garbage collection) are 0, as nothing of the kind exists.
std::string systemJson(uint64_t uptimeSeconds, size_t queryServers) {
  auto status = procStatus();
  auto io = procIo();
  struct mallinfo2 heap = mallinfo2();
  const uint64_t rss = status["VmRSS"];
  // glibc's malloc reports its heap; another allocator (a sanitizer's, say) reports zeros, and then the
  // data segment, which holds the heap, stands for it.
  const bool mallocKnown = heap.arena + heap.hblkhd > 0;
  const uint64_t heapTotal = mallocKnown ? heap.arena + heap.hblkhd : status["VmData"];
  const uint64_t heapUsed = mallocKnown ? heap.uordblks + heap.hblkhd : status["VmData"];
  const uint64_t code = status["VmExe"] + status["VmLib"];
  const uint64_t accounted = heapTotal + code;
  return writeJson([&](db::JsonWriter& w) {
    auto number = [&](const char* key, uint64_t n) {
      writeKey(w, key);
      w.Uint64(n);
    };
    w.StartObject();
    number("uptime", uptimeSeconds);
    writeKey(w, "memory");
    w.StartObject();
    number("other", rss > accounted ? rss - accounted : 0);
    number("atom", 0);
    number("atom_used", 0);
    number("processes", heapTotal);
    number("processes_used", heapUsed);
    number("binary", 0);
    number("code", code);
    number("ets", 0);
    w.EndObject();
    number("run_queue", 0);
    number("run_queue_dirty_cpu", 0);
    number("ets_table_count", 0);
    number("context_switches", status["voluntary_ctxt_switches"] + status["nonvoluntary_ctxt_switches"]);
    number("reductions", 0);
    number("garbage_collection_count", 0);
    number("words_reclaimed", 0);
    number("io_input", io["rchar"]);
    number("io_output", io["wchar"]);
    number("os_proc_count", queryServers);
    number("stale_proc_count", 0);
    number("process_count", status["Threads"]);  // threads: what runs concurrently here
    number("process_limit", 0);
    writeKey(w, "message_queues");
    w.StartObject();
    w.EndObject();
    number("internal_replication_jobs", 0);
    writeKey(w, "distribution");
    w.StartObject();
    w.EndObject();
    w.EndObject();
  });
}

}  // namespace

void registerConfigRoutes(Api& api) {
  const auto started = std::chrono::steady_clock::now();

  api.sync(
      "GET", "/_membership", Access::ServerAdmin,
      [](Call&) {
        return Response::json(200, writeJson([](db::JsonWriter& w) {
                                w.StartObject();
                                for (const char* key : {"all_nodes", "cluster_nodes"}) {
                                  writeKey(w, key);
                                  w.StartArray();
                                  writeString(w, kNodeName);
                                  w.EndArray();
                                }
                                w.EndObject();
                              }));
      },
      Cost::Quick);

  // GET /_node alone: CouchDB's answer for a path that names no node.
  api.sync(
      "GET", "/_node", Access::ServerAdmin,
      [](Call&) { return errorResponse(badRequest("Incomplete path to _node request")); }, Cost::Quick);
  api.sync(
      "GET", "/_node/{node}", Access::ServerAdmin,
      [](Call& call) -> Response {
        if (auto refused = checkNode(call)) return std::move(*refused);
        return Response::json(200, writeJson([](db::JsonWriter& w) {
                                w.StartObject();
                                writeKey(w, "name");
                                writeString(w, kNodeName);
                                w.EndObject();
                              }));
      },
      Cost::Quick);
  api.sync(
      "GET", "/_node/{node}/_system", Access::ServerAdmin,
      [started](Call& call) -> Response {
        if (auto refused = checkNode(call)) return std::move(*refused);
        auto uptime =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
        size_t queryServers = call.svc->design ? call.svc->design->pool().pids().size() : 0;
        return Response::json(200, systemJson(static_cast<uint64_t>(uptime.count()), queryServers));
      },
      Cost::Quick);

  api.sync(
      "GET", "/_node/{node}/_config", Access::ServerAdmin,
      [](Call& call) -> Response {
        if (auto refused = checkNode(call)) return std::move(*refused);
        IniValues all = call.svc->config.live->all();
        return Response::json(200, writeJson([&](db::JsonWriter& w) {
                                w.StartObject();
                                for (const auto& [section, keys] : all) {
                                  writeKey(w, section);
                                  writeSection(w, keys);
                                }
                                w.EndObject();
                              }));
      },
      Cost::Quick);
  api.sync("POST", "/_node/{node}/_config/_reload", Access::ServerAdmin, [](Call& call) -> Response {
    if (auto refused = checkNode(call)) return std::move(*refused);
    if (Status st = call.svc->config.live->reload(); !st) return errorResponse(badRequest(st.reason()));
    return jsonOk();
  });
  api.sync(
      "GET", "/_node/{node}/_config/{section}", Access::ServerAdmin,
      [](Call& call) -> Response {
        if (auto refused = checkNode(call)) return std::move(*refused);
        auto keys = call.svc->config.live->section(call.params["section"]);
        return Response::json(200, writeJson([&](db::JsonWriter& w) { writeSection(w, keys); }));
      },
      Cost::Quick);
  api.sync(
      "GET", "/_node/{node}/_config/{section}/{key}", Access::ServerAdmin,
      [](Call& call) -> Response {
        if (auto refused = checkNode(call)) return std::move(*refused);
        auto value = call.svc->config.live->get(call.params["section"], call.params["key"]);
        if (!value) return errorResponse(notFound("unknown_config_value"));
        return jsonString(*value);
      },
      Cost::Quick);
  // Slow work: setting an admin hashes a password (a PBKDF2 of 600,000 iterations).
  api.sync("PUT", "/_node/{node}/_config/{section}/{key}", Access::ServerAdmin, [](Call& call) -> Response {
    if (auto refused = checkNode(call)) return std::move(*refused);
    const std::string& section = call.params["section"];
    if (blacklisted(section))
      return errorResponse(
          Status(ErrorCode::Forbidden, "Config section blacklisted for modification over HTTP API."));
    simdjson::dom::parser parser;
    auto body = jsonBody(call.req, parser, false);
    if (!body) return errorResponse(body.status());
    std::string_view value;
    if (body->get(value)) return errorResponse(badRequest("a JSON string expected"));
    auto old =
        call.svc->config.live->set(section, call.params["key"], std::string(value), persistChange(call));
    if (!old) return errorResponse(old.status());
    return jsonString(*old);
  });
  api.sync(
      "DELETE", "/_node/{node}/_config/{section}/{key}", Access::ServerAdmin, [](Call& call) -> Response {
        if (auto refused = checkNode(call)) return std::move(*refused);
        const std::string& section = call.params["section"];
        if (blacklisted(section))
          return errorResponse(
              Status(ErrorCode::Forbidden, "Config section blacklisted for modification over HTTP API."));
        auto old = call.svc->config.live->remove(section, call.params["key"], persistChange(call));
        if (!old) return errorResponse(old.status());
        return jsonString(*old);
      });
  // Deeper paths under a key name nothing (CouchDB's plain not_found).
  api.sync(
      "GET", "/_node/{node}/_config/{section}/{key}/{rest...}", Access::ServerAdmin,
      [](Call&) { return errorResponse(404, "not_found", "missing"); }, Cost::Quick);
}

}  // namespace settee::http
