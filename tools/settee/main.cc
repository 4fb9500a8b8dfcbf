// settee — the command line.
//   settee serve [--port N] [--bind ADDR] [--data DIR] [--config FILE] [--log-level LEVEL] [--loops N]
//   settee version
#include <uv.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "http/config.h"
#include "http/couch_server.h"
#include "replicator/conflict_service.h"
#include "replicator/replicator_service.h"

int replicateCommand(const std::vector<std::string>& args);  // replicate.cc
int syncCommand(const std::vector<std::string>& args);       // sync_command.cc
int statusCommand(const std::vector<std::string>& args);     // sync_command.cc

namespace {

int usage(FILE* out) {
  std::fprintf(out,
               "usage: settee <command> [options]\n"
               "  serve [--port 5984] [--bind 127.0.0.1] [--data ./data] [--config FILE] [--log-level info]\n"
               "        [--loops N]  (event loops serving HTTP; default: one per core)\n"
               "      run a CouchDB-compatible node\n"
               "  replicate SOURCE TARGET [--continuous] [--sync] [--doc-ids ...] [--selector JSON] ...\n"
               "      replicate between two endpoints (settee replicate --help)\n"
               "  sync --data DIR DB URL [--policy keep|lww:F|merge|merge:lww:F] [--priority SEL] ...\n"
               "      keep a local database in two-way sync with a peer (settee sync --help)\n"
               "  status --data DIR DB [--peer URL] [--json] [--limit N]\n"
               "      a local database's sync state: pending, failed, conflicted, last sync\n"
               "  version\n");
  return out == stdout ? 0 : 2;
}

bool isLoopback(const std::string& addr) {
  return addr == "127.0.0.1" || addr == "::1" || addr == "localhost" || addr.rfind("127.", 0) == 0;
}

int serve(const std::vector<std::string>& args) {
  settee::http::ServerConfig config;
  // The config file first, then flags over it.
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--config") {
      if (settee::Status st = settee::http::loadConfig(args[i + 1], config); !st) {
        std::fprintf(stderr, "settee: %s\n", st.reason().c_str());
        return 2;
      }
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "settee: %s needs a value\n", a.c_str());
      return 2;
    }
    const std::string& v = args[++i];
    if (a == "--port") {
      char* end = nullptr;
      long port = std::strtol(v.c_str(), &end, 10);
      if (*end || port < 0 || port > 65535) {
        std::fprintf(stderr, "settee: bad port %s\n", v.c_str());
        return 2;
      }
      config.port = static_cast<int>(port);
    } else if (a == "--bind") {
      config.bind = v;
    } else if (a == "--data") {
      config.dataDir = v;
    } else if (a == "--loops") {
      char* end = nullptr;
      long loops = std::strtol(v.c_str(), &end, 10);
      if (*end || loops < 0 || loops > settee::http::kMaxLoops) {
        std::fprintf(stderr, "settee: bad number of loops %s\n", v.c_str());
        return 2;
      }
      config.loops = static_cast<uint32_t>(loops);
    } else if (a == "--log-level") {
      config.logLevel = v;
    } else if (a != "--config") {
      std::fprintf(stderr, "settee: unknown option %s\n", a.c_str());
      return usage(stderr);
    }
  }
  if (config.admins.empty() && !isLoopback(config.bind)) {
    std::fprintf(stderr,
                 "settee: refusing to bind %s with no admin configured (admin party is for loopback only); "
                 "add one under [admins] in the config file\n",
                 config.bind.c_str());
    return 2;
  }
  if (config.bind == "localhost") config.bind = "127.0.0.1";

  // Request work runs on libuv's thread pool; a one-shot POST /_replicate holds one thread while it
  // runs, so the pool is larger than libuv's default of 4 (unless the environment says otherwise), and
  // has at least two threads per loop, so each loop's share of slow work (WorkGate::defaultLimit) still
  // leaves threads for quick work.
  if (config.loops == 0) config.loops = settee::http::defaultLoops();
  setenv("UV_THREADPOOL_SIZE", std::to_string(std::max<uint32_t>(16, 2 * config.loops)).c_str(), 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto server = std::make_unique<settee::http::CouchServer>(&loop, config);
  if (settee::Status st = server->start(); !st) {
    std::fprintf(stderr, "settee: %s\n", st.reason().c_str());
    return 1;
  }
  // Replications run by the node: /_replicate, the _replicator database, /_scheduler.
  auto replicator = std::make_unique<settee::repl::ReplicatorService>(server->api());
  replicator->start();
  // Conflicts resolved by the node as they arrive, for the databases [conflict_policy] names.
  // (loadConfig checked the policies' texts, so this cannot fail.)
  auto madeConflicts = settee::repl::ConflictService::fromTexts(*server->api().services().data, config.conflictPolicies);
  std::unique_ptr<settee::repl::ConflictService> conflicts = madeConflicts ? std::move(*madeConflicts) : nullptr;
  if (conflicts) conflicts->start();
  if (config.logLevel != "none")
    std::fprintf(stderr, "settee: listening on http://%s:%d (data in %s, %zu loops)\n", config.bind.c_str(),
                 server->port(), config.dataDir.c_str(), server->loops());

  // SIGINT/SIGTERM: stop accepting, close connections, let in-flight work (each one transaction) finish.
  struct Stopper {
    settee::http::CouchServer* server;
    uv_signal_t sigint, sigterm;
    bool stopping = false;
  } stopper{server.get(), {}, {}};
  auto onSignal = [](uv_signal_t* handle, int) {
    auto* s = static_cast<Stopper*>(handle->data);
    if (s->stopping) return;
    s->stopping = true;
    uv_signal_stop(&s->sigint);
    uv_signal_stop(&s->sigterm);
    uv_close(reinterpret_cast<uv_handle_t*>(&s->sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&s->sigterm), nullptr);
    s->server->stop([] {});
  };
  uv_signal_init(&loop, &stopper.sigint);
  uv_signal_init(&loop, &stopper.sigterm);
  stopper.sigint.data = stopper.sigterm.data = &stopper;
  uv_signal_start(&stopper.sigint, onSignal, SIGINT);
  uv_signal_start(&stopper.sigterm, onSignal, SIGTERM);

  uv_run(&loop, UV_RUN_DEFAULT);
  conflicts.reset();
  replicator.reset();
  server.reset();
  uv_loop_close(&loop);
  if (config.logLevel != "none") std::fprintf(stderr, "settee: stopped\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes its socket while we write must cost that connection only, never the process:
  // writes then fail with EPIPE instead of raising SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) return usage(stderr);
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "serve") {
    // Memory that stays flat: glibc gives each thread that allocates its own arena and keeps freed
    // request buffers there, so 16 pool threads each holding a few MB-sized _bulk_docs bodies drove a
    // node to ~150 MB (batches of 2,000 docs) where the live heap was ~40 MB. Two arenas, and blocks of
    // 1 MB and more mapped on their own (returned to the system when freed), keep it near the live
    // heap. Only for serve: `settee replicate` stays ~30 MB without it and its worker threads ran
    // slower sharing two arenas. An app embedding the library keeps its own allocator settings.
#ifdef __GLIBC__
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    return serve(args);
  }
  if (command == "replicate") return replicateCommand(args);
  if (command == "sync") return syncCommand(args);
  if (command == "status") return statusCommand(args);
  if (command == "version" || command == "--version") {
    std::printf("settee 0.1.0\n");
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") return usage(stdout);
  std::fprintf(stderr, "settee: unknown command %s\n", command.c_str());
  return usage(stderr);
}
