// The C API's embedded node (settee.h, "An HTTP node inside the app"): `settee serve` inside the app's
// process — a CouchServer with the ReplicatorService and ConflictService wired as tools/settee serve()
// wires them — on a libuv loop of its own, run by a thread of its own.
//
// The node serves the process's one DataDir for its directory (capi::dataDir), so settee_db handles on
// the same directory and the node share open databases (SQLite files are opened exclusively, once per
// process). Everything on the loop is made before its thread starts and taken apart after the thread has
// ended, so only the thread touches the loop while it runs. Stopping, from any thread: a uv_async wakes
// the loop, whose callback stops the server (in-flight requests finish, each one transaction); the loop
// then runs out of handles, uv_run returns, the thread ends and is joined; the services go after, as in
// serve(). Request logs are off unless the config file asks (`[settee] log_level`): an app's stderr is
// not a server log.
#include <uv.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "capi/capi_internal.h"
#include "capi/options.h"
#include "http/api.h"
#include "http/config.h"
#include "http/couch_server.h"
#include "js/query_server_pool.h"
#include "replicator/conflict_service.h"
#include "replicator/replicator_service.h"


struct settee_node {
  uv_loop_t loop;
  uv_async_t wake;  // sent by settee_node_stop; closed by its callback on the loop
  std::shared_ptr<settee::DataDir> dir;
  std::unique_ptr<settee::http::CouchServer> server;
  std::unique_ptr<settee::repl::ReplicatorService> replicator;
  std::unique_ptr<settee::repl::ConflictService> conflicts;
  std::thread thread;
  int port = 0;
};

namespace settee::capi {
namespace {

const std::initializer_list<std::string_view> kNodeOptions = {"bind_address", "port", "config_file", "admins",
                                                              "loops", "query_server"};

bool isLoopback(const std::string& addr) {
  return addr == "127.0.0.1" || addr == "::1" || addr == "localhost" || addr.rfind("127.", 0) == 0;
}

// The node's configuration: the config file first (as `settee serve --config`), then the options over it.
Result<http::ServerConfig> nodeConfig(const std::string& dir, const char* json) {
  Options reader;
  if (Status st = reader.parse(json, kNodeOptions); !st) return st;
  http::ServerConfig config;
  config.logLevel = "warn";
  config.loops = 1;  // settee.h's default: an app's node serves few clients
  std::string file;
  if (Status st = reader.getString("config_file", file); !st) return st;
  if (!file.empty()) {
    if (Status st = http::loadConfig(file, config); !st) return st;
  }
  config.dataDir = dir;  // the directory given wins over the file's database_dir
  if (Status st = reader.getString("bind_address", config.bind); !st) return st;
  uint64_t n = static_cast<uint64_t>(config.port);
  if (Status st = reader.getUint("port", n); !st || n > 65535) return badRequest("port must be 0 to 65535");
  config.port = static_cast<int>(n);
  n = config.loops;
  if (Status st = reader.getUint("loops", n); !st || n > http::kMaxLoops)
    return badRequest("loops must be 0 to " + std::to_string(http::kMaxLoops));
  config.loops = n ? static_cast<uint32_t>(n) : http::defaultLoops();
  // JavaScript (validate_doc_update, filters) runs in a `settee js` process: the app names the settee
  // binary; without it (and without COUCHDB_QUERY_SERVER_JAVASCRIPT) there is none, and a write that a
  // design document's validate_doc_update must judge fails rather than passing unchecked.
  std::string queryServer;
  if (Status st = reader.getString("query_server", queryServer); !st) return st;
  const char* envServer = std::getenv("COUCHDB_QUERY_SERVER_JAVASCRIPT");
  config.queryServer = !queryServer.empty() || (envServer && *envServer)
                           ? js::queryServerCommand(queryServer)
                           : std::vector<std::string>{};
  std::vector<std::pair<std::string, std::string>> admins;
  if (Status st = reader.getStringMap("admins", admins); !st) return st;
  // Plain passwords, hashed by the node's Auth at start as it hashes those of its ini file.
  for (auto& [name, password] : admins) config.admins[name] = password;
  if (config.admins.empty() && !isLoopback(config.bind))
    return badRequest("refusing to bind " + config.bind +
                      " with no admin configured (admin party is for loopback only); give one in admins");
  if (config.bind == "localhost") config.bind = "127.0.0.1";
  return config;
}

void onWake(uv_async_t* async) {
  auto* node = static_cast<settee_node*>(async->data);
  uv_close(reinterpret_cast<uv_handle_t*>(async), nullptr);
  node->server->stop([] {});
}

// Takes apart what start made, the loop's thread having ended (or never started).
void destroy(settee_node* node) {
  node->conflicts.reset();
  node->replicator.reset();
  node->server.reset();
  uv_loop_close(&node->loop);
  delete node;
}

}  // namespace
}  // namespace settee::capi

using namespace settee;
using namespace settee::capi;

extern "C" {

settee_error* settee_node_start(const char* dir, const char* options_json, settee_node** out_node) {
  return guard([&]() -> settee_error* {
    if (out_node) *out_node = nullptr;
    if (!dir || !*dir || !out_node) return badArgument("settee_node_start needs a directory and out_node");
    auto config = nodeConfig(dir, options_json);
    if (!config) return toError(config.status());
    // Request work runs on libuv's thread pool, which a one-shot POST /_replicate holds while it runs:
    // as serve() does, a larger pool than libuv's 4 unless the environment says otherwise (read once,
    // when the process first queues work).
    setenv("UV_THREADPOOL_SIZE", std::to_string(std::max<uint32_t>(16, 2 * config->loops)).c_str(), 0);
    DatabaseOptions defaults;
    defaults.revsLimit = config->revsLimit;
    defaults.maxDocumentSize = config->maxDocumentSize;
    auto data = capi::dataDir(dir, defaults);

    auto* node = new settee_node;
    if (int rc = uv_loop_init(&node->loop); rc != 0) {
      delete node;
      return makeError(SETTEE_INTERNAL, "internal_server_error",
                       std::string("cannot make a loop: ") + uv_strerror(rc));
    }
    node->dir = data;
    // Whatever fails from here takes the node apart on this thread: its loop has no thread yet.
    bool wakeReady = false;
    auto fail = [node, &wakeReady](Status st) {
      if (wakeReady) uv_close(reinterpret_cast<uv_handle_t*>(&node->wake), nullptr);
      if (node->server) {
        node->server->stop([] {});
        uv_run(&node->loop, UV_RUN_DEFAULT);  // until the server's handles are closed
      }
      destroy(node);
      return toError(st);
    };
    try {
      node->server = std::make_unique<http::CouchServer>(&node->loop, *config, data);
      if (Status st = node->server->start(); !st) return fail(st);
      node->port = node->server->port();
      node->replicator = std::make_unique<repl::ReplicatorService>(node->server->api());
      node->replicator->start();
      auto conflicts =
          repl::ConflictService::fromTexts(*node->server->api().services().data, config->conflictPolicies);
      if (!conflicts) return fail(conflicts.status());
      node->conflicts = std::move(*conflicts);
      node->conflicts->start();
      if (int rc = uv_async_init(&node->loop, &node->wake, onWake); rc != 0)
        return fail(
            Status(ErrorCode::Internal, std::string("cannot make the stop signal: ") + uv_strerror(rc)));
      wakeReady = true;
      node->wake.data = node;
      node->thread = std::thread([node] { uv_run(&node->loop, UV_RUN_DEFAULT); });
    } catch (...) {
      if (!node->thread.joinable()) fail(Status::ok());
      throw;
    }
    *out_node = node;
    return nullptr;
  });
}

int settee_node_port(const settee_node* node) { return node ? node->port : 0; }

void settee_node_stop(settee_node* node) {
  guardVoid([&] {
    if (!node) return;
    uv_async_send(&node->wake);
    node->thread.join();  // uv_run returns once the server has closed every handle
    destroy(node);
  });
}

}  // extern "C"
