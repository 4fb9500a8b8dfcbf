// `settee serve [options]`: a CouchDB-compatible node on one port until SIGINT or SIGTERM. The settings
// come from the config file (--config) first, then the flags over it, whatever their order on the line;
// every flag is checked before anything starts, so a bad one costs nothing but its error.
#include <uv.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "http/config.h"
#include "http/couch_server.h"
#include "replicator/conflict_service.h"
#include "replicator/replicator_service.h"

namespace {

using namespace settee;

constexpr const char* kLogLevels[] = {"debug", "info", "warn", "error", "none"};

bool isLoopback(const std::string& addr) {
  return addr == "127.0.0.1" || addr == "::1" || addr == "localhost" || addr.rfind("127.", 0) == 0;
}

// The flags as given, checked; applied over the config file once it is read.
struct ServeFlags {
  std::vector<std::string> configFiles;  // read in order, each over the one before
  std::optional<int> port;
  std::optional<std::string> bind, dataDir, logLevel;
  std::optional<uint32_t> loops;
};

// Reads the flags; nullopt after printing the error (or the help, with *exitCode 0).
std::optional<ServeFlags> parseFlags(const std::vector<std::string>& argv, int* exitCode) {
  cli::Args args("serve", argv);
  ServeFlags flags;
  *exitCode = 2;
  while (!args.done()) {
    const std::string a = args.next();
    if (cli::isHelp(a)) {
      serveUsage(stdout);
      *exitCode = 0;
      return std::nullopt;
    }
    if (a.rfind("-", 0) != 0) {
      args.fail("unexpected argument '" + a + "' (serve takes options only)");
      return std::nullopt;
    }
    if (a != "--port" && a != "--bind" && a != "--data" && a != "--config" && a != "--log-level" &&
        a != "--loops") {
      args.fail("unknown option " + a);
      return std::nullopt;
    }
    auto v = args.value(a);
    if (!v) return std::nullopt;
    if (a == "--port") {
      auto port = args.number(a, *v, 0, 65535);
      if (!port) return std::nullopt;
      flags.port = static_cast<int>(*port);
    } else if (a == "--loops") {
      auto loops = args.number(a, *v, 0, http::kMaxLoops);
      if (!loops) return std::nullopt;
      flags.loops = static_cast<uint32_t>(*loops);
    } else if (a == "--log-level") {
      if (std::none_of(std::begin(kLogLevels), std::end(kLogLevels),
                       [&](const char* l) { return *v == l; })) {
        args.fail("--log-level takes debug, info, warn, error or none, not '" + *v + "'");
        return std::nullopt;
      }
      flags.logLevel = *v;
    } else if (a == "--bind") {
      if (v->empty()) {
        args.fail("--bind takes an address, not an empty one");
        return std::nullopt;
      }
      flags.bind = *v;
    } else if (a == "--data") {
      flags.dataDir = *v;
    } else {
      flags.configFiles.push_back(*v);
    }
  }
  return flags;
}

}  // namespace

void serveUsage(FILE* out) {
  const http::ServerConfig defaults;
  std::fprintf(
      out,
      "usage: settee serve [options]\n"
      "  Runs a node that speaks CouchDB 3.4's HTTP API until SIGINT (Ctrl-C) or SIGTERM, which stop it\n"
      "  cleanly: no new connections, and requests in flight finish. The --config file is read first and\n"
      "  the flags then override it, whatever their order.\n"
      "options:\n"
      "  --port N           TCP port, 0 to 65535; 0 picks a free one (default %d; [chttpd] port)\n"
      "  --bind ADDR        address to listen on (default %s; [chttpd] bind_address). An address other\n"
      "                     than loopback needs an admin under [admins] in the config file\n"
      "  --data DIR         where the databases live (default %s; [couchdb] database_dir)\n"
      "  --config FILE      an ini file shaped like CouchDB's local.ini (default DIR/local.ini when it\n"
      "                     exists; see src/http/config.h for the keys read). Changes made through\n"
      "                     /_node/_local/_config are written to the last one\n"
      "  --log-level LEVEL  debug, info, warn, error or none; info and debug log every request on stderr\n"
      "                     (default %s; [settee] log_level)\n"
      "  --loops N          event loops serving HTTP, 0 to %u; 0 is one per core (default %u, here %u;\n"
      "                     [settee] loops)\n"
      "  --help, -h         this text\n"
      "exit status: 0 when stopped by a signal, 1 when the node cannot start (the port is taken, the data\n"
      "  directory is unusable), 2 for bad usage, a bad config file or a refused --bind\n",
      defaults.port, defaults.bind.c_str(), defaults.dataDir.c_str(), defaults.logLevel.c_str(),
      http::kMaxLoops, defaults.loops, http::defaultLoops());
}

int serveCommand(const std::vector<std::string>& args) {
  int exitCode = 0;
  const auto flags = parseFlags(args, &exitCode);
  if (!flags) return exitCode;
  http::ServerConfig config;
  for (const std::string& file : flags->configFiles) {
    if (Status st = http::loadConfig(file, config); !st) {
      std::fprintf(stderr, "settee serve: --config: %s\n", st.reason().c_str());
      return 2;
    }
  }
  if (flags->configFiles.empty()) {
    // No --config: the node keeps its own ini in its data directory, read at start when it is there,
    // and written by the configuration API (/_node/_local/_config), so changes survive a restart.
    std::string own = (flags->dataDir ? *flags->dataDir : config.dataDir) + "/local.ini";
    if (Status st = http::loadConfig(own, config); !st && st.code() != ErrorCode::NotFound) {
      std::fprintf(stderr, "settee serve: %s\n", st.reason().c_str());
      return 2;
    }
    if (config.iniFiles.empty()) config.iniFiles.push_back(own);
  }
  if (flags->port) config.port = *flags->port;
  if (flags->bind) config.bind = *flags->bind;
  if (flags->dataDir) config.dataDir = *flags->dataDir;
  if (flags->logLevel) config.logLevel = *flags->logLevel;
  if (flags->loops) config.loops = *flags->loops;
  if (config.admins.empty() && !isLoopback(config.bind)) {
    std::fprintf(stderr,
                 "settee serve: refusing to bind %s with no admin configured (admin party is for loopback "
                 "only); add one under [admins] in the config file\n",
                 config.bind.c_str());
    return 2;
  }
  if (config.bind == "localhost") config.bind = "127.0.0.1";

    // Memory that stays flat: glibc gives each thread that allocates its own arena and keeps freed
    // request buffers there, so 16 pool threads each holding a few MB-sized _bulk_docs bodies drove a
    // node to ~150 MB (batches of 2,000 docs) where the live heap was ~40 MB. Two arenas, and blocks of
    // 1 MB and more mapped on their own (returned to the system when freed), keep it near the live
    // heap. Only for serve, set before its first thread: `settee replicate` stays ~30 MB without it and
    // its worker threads ran slower sharing two arenas. An app embedding the library keeps its own
    // allocator settings.
#ifdef __GLIBC__
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif

  // Request work runs on libuv's thread pool; a one-shot POST /_replicate holds one thread while it
  // runs, so the pool is larger than libuv's default of 4 (unless the environment says otherwise), and
  // has at least two threads per loop, so each loop's share of slow work (WorkGate::defaultLimit) still
  // leaves threads for quick work.
  if (config.loops == 0) config.loops = http::defaultLoops();
  setenv("UV_THREADPOOL_SIZE", std::to_string(std::max<uint32_t>(16, 2 * config.loops)).c_str(), 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto server = std::make_unique<http::CouchServer>(&loop, config);
  if (Status st = server->start(); !st) {
    std::fprintf(stderr, "settee serve: %s\n", st.reason().c_str());
    return 1;
  }
  // Replications run by the node: /_replicate, the _replicator database, /_scheduler.
  auto replicator = std::make_unique<repl::ReplicatorService>(server->api());
  replicator->start();
  // Conflicts resolved by the node as they arrive, for the databases [conflict_policy] names.
  // (loadConfig checked the policies' texts, so this cannot fail.)
  auto madeConflicts =
      repl::ConflictService::fromTexts(*server->api().services().data, config.conflictPolicies);
  std::unique_ptr<repl::ConflictService> conflicts = madeConflicts ? std::move(*madeConflicts) : nullptr;
  if (conflicts) conflicts->start();
  if (config.logLevel != "none")
    std::fprintf(stderr, "settee: listening on http://%s:%d (data in %s, %zu loops)\n", config.bind.c_str(),
                 server->port(), config.dataDir.c_str(), server->loops());

  // SIGINT/SIGTERM: stop accepting, close connections, let in-flight work (each one transaction) finish.
  struct Stopper {
    http::CouchServer* server;
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
