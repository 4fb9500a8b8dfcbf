// `settee replicate SOURCE TARGET [options]`: one replication (or a sync) between two endpoints, with a
// live progress bar on a terminal and one line per checkpoint otherwise. Exit status 0 when complete.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "replicator/tuning.h"
#include "settee/database.h"
#include "settee/replicator.h"

using namespace settee;

void replicateUsage(FILE* out) {
  const ReplicationOptions defaults;
  std::fprintf(
      out,
      "usage: settee replicate SOURCE TARGET [options]\n"
      "  One replication from SOURCE to TARGET (and back with --sync). Each is a URL\n"
      "  http(s)://[user:pass@]host:port/db or the name of a database under --data. A progress bar on a\n"
      "  terminal, one line per checkpoint otherwise.\n"
      "options:\n"
      "  --continuous            keep following changes until interrupted (default: stop when caught up)\n"
      "  --sync                  replicate both ways (default: SOURCE to TARGET only)\n"
      "  --create-target         create the target database if missing (default off)\n"
      "  --no-checkpoints        do not read or write checkpoints (default: resume from them)\n"
      "  --doc-ids a,b,c         only these documents (default all)\n"
      "  --selector JSON         only documents matching this Mango selector, a JSON object (default all)\n"
      "  --filter ddoc/name      a named filter of a CouchDB source (default none)\n"
      "  --query-params JSON     the named filter's parameters, a JSON object (default none)\n"
      "  --since SEQ             start at this source sequence (default: the checkpoint, else the start)\n"
      "  --batch-size N          changes per batch, 1 or more (default %zu)\n"
      "  --workers N             batches written at once, 1 or more (default %zu)\n"
      "  --timeout MS            per request to a remote peer, in milliseconds, 1 or more (default %lld)\n"
      "  --retries N             retries of a failing request, 0 or more (default %d; with --continuous:\n"
      "                          for ever)\n"
      "  --ca-file FILE          trust these CA certificates for https (default the system's)\n"
      "  --header 'Name: value'  send with every request (repeatable; default none)\n"
      "  --data DIR              where local databases live (default ./data)\n"
      "  --help, -h              this text\n"
      "exit status: 0 when complete, 1 when a database cannot be opened or the replication failed,\n"
      "  2 for bad usage\n",
      repl::tuning::kChangesBatch, repl::tuning::kWorkers, static_cast<long long>(defaults.timeout.count()),
      repl::tuning::kRetries);
}

namespace {

bool isUrl(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

// The options that take a value; the others (--continuous, --sync, --create-target, --no-checkpoints)
// are switches.
constexpr const char* kWithValue[] = {"--doc-ids", "--selector",   "--filter",  "--query-params",
                                      "--since",   "--batch-size", "--workers", "--timeout",
                                      "--retries", "--ca-file",    "--header",  "--data"};

}  // namespace

int replicateCommand(const std::vector<std::string>& argv) {
  cli::Args args("replicate", argv);
  std::vector<std::string> positional;
  ReplicationOptions options;
  bool sync = false;
  std::string dataDir = "./data";
  while (!args.done()) {
    const std::string a = args.next();
    if (cli::isHelp(a)) {
      replicateUsage(stdout);
      return 0;
    }
    if (a == "--continuous") {
      options.continuous = true;
      continue;
    }
    if (a == "--sync") {
      sync = true;
      continue;
    }
    if (a == "--create-target") {
      options.createTarget = true;
      continue;
    }
    if (a == "--no-checkpoints") {
      options.useCheckpoints = false;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      positional.push_back(a);
      continue;
    }
    if (std::none_of(std::begin(kWithValue), std::end(kWithValue), [&](const char* k) { return a == k; }))
      return args.fail("unknown option " + a);
    auto v = args.value(a);
    if (!v) return 2;
    if (a == "--doc-ids") {
      options.docIds = cli::splitList(*v);
    } else if (a == "--selector" || a == "--query-params") {
      if (!cli::isJsonObject(*v)) return args.fail(a + " must be a JSON object, not '" + *v + "'");
      (a == "--selector" ? options.selector : options.queryParams) = *v;
    } else if (a == "--filter") {
      options.filter = *v;
    } else if (a == "--since") {
      options.sinceSeq = *v;
    } else if (a == "--batch-size" || a == "--workers") {
      auto n = args.number(a, *v, 1, std::numeric_limits<uint32_t>::max());
      if (!n) return 2;
      (a == "--batch-size" ? options.batchSize : options.workers) = static_cast<size_t>(*n);
    } else if (a == "--timeout") {
      auto ms = args.number(a, *v, 1, std::numeric_limits<uint32_t>::max());
      if (!ms) return 2;
      options.timeout = std::chrono::milliseconds(*ms);
    } else if (a == "--retries") {
      auto n = args.number(a, *v, 0, std::numeric_limits<int>::max());
      if (!n) return 2;
      options.retries = static_cast<int>(*n);
    } else if (a == "--ca-file") {
      options.caFile = *v;
    } else if (a == "--data") {
      dataDir = *v;
    } else if (a == "--header") {
      const size_t colon = v->find(':');
      if (colon == std::string::npos || colon == 0)
        return args.fail("--header takes 'Name: value', not '" + *v + "'");
      const size_t start = v->find_first_not_of(' ', colon + 1);
      options.headers.emplace_back(v->substr(0, colon), start == std::string::npos ? "" : v->substr(start));
    }
  }
  if (positional.size() != 2)
    return args.fail("expected SOURCE and TARGET, got " + std::to_string(positional.size()) + " arguments");

  std::unique_ptr<DataDir> data;
  auto peer = [&](const std::string& spec, bool create) -> Result<ReplicationPeer> {
    if (isUrl(spec)) return ReplicationPeer::remote(spec);
    if (!data) data = std::make_unique<DataDir>(dataDir);
    auto db = data->open(spec);
    if (!db && create && db.status().code() == ErrorCode::NotFound) db = data->create(spec);
    if (!db) return Status(db.status().code(), spec + ": " + db.status().reason());
    return ReplicationPeer::local(*db);
  };
  auto source = peer(positional[0], false), target = peer(positional[1], options.createTarget);
  if (!source || !target) {
    std::fprintf(stderr, "settee: %s\n", (!source ? source : target).status().reason().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<Replication>> reps;
  reps.push_back(std::make_unique<Replication>(*source, *target, options));
  if (sync) reps.push_back(std::make_unique<Replication>(*target, *source, options));

  const bool tty = isatty(STDERR_FILENO);
  std::mutex outMu;
  auto started = std::chrono::steady_clock::now();
  auto line = [&](size_t which, ReplicationState s, const ReplicationStats& st) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "%s%s: %llu written, %llu failed, %llu pending, %.0f docs/s, checkpoint %s\n",
                 sync ? (which == 0 ? "push " : "pull ") : "", stateName(s),
                 static_cast<unsigned long long>(st.docsWritten),
                 static_cast<unsigned long long>(st.docWriteFailures),
                 static_cast<unsigned long long>(st.pending),
                 secs > 0 ? static_cast<double>(st.docsWritten) / secs : 0.0, st.endLastSeq.c_str());
  };
  // --sync --create-target: the way back reads from the database the way out creates, so it starts once
  // the first replication is past its start (target verified or created, its id known) or has ended. The
  // first one's listener opens this gate on the state change that says so; every state change reaches it.
  std::mutex gateMu;
  std::condition_variable gateCv;
  bool pastStart = false;
  for (size_t i = 0; i < reps.size(); ++i) {
    if (i > 0 && options.createTarget) {
      std::unique_lock lock(gateMu);
      gateCv.wait(lock, [&] { return pastStart; });
    }
    reps[i]->start([&, i](ReplicationState s, const ReplicationStats& st, const Status& err) {
      if (i == 0 && s != ReplicationState::Starting &&
          !(s == ReplicationState::Retrying && reps[0]->id().empty())) {
        {
          std::lock_guard lock(gateMu);
          pastStart = true;
        }
        gateCv.notify_all();
      }
      std::lock_guard lock(outMu);
      if (!tty) line(i, s, st);
      if (!err.isOk())
        std::fprintf(stderr, "%ssettee: %s: %s\n", tty ? "\n" : "",
                     s == ReplicationState::Retrying ? "retrying after" : "replication failed",
                     err.reason().c_str());
    });
  }
  std::atomic<bool> done{false};
  std::thread bar;
  if (tty) {
    bar = std::thread([&] {
      while (!done) {
        uint64_t written = 0, pending = 0;
        std::string state;
        for (auto& r : reps) {
          auto st = r->stats();
          written += st.docsWritten;
          pending += st.pending;
          state = stateName(r->state());
        }
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        uint64_t total = written + pending;
        int filled =
            total ? static_cast<int>(30.0 * static_cast<double>(written) / static_cast<double>(total)) : 30;
        {
          std::lock_guard lock(outMu);
          std::fprintf(stderr, "\r[%-30s] %llu/%llu docs  %.0f docs/s  %-10s",
                       std::string(static_cast<size_t>(filled), '#').c_str(),
                       static_cast<unsigned long long>(written), static_cast<unsigned long long>(total),
                       secs > 0 ? static_cast<double>(written) / secs : 0.0, state.c_str());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }
  bool ok = true;
  for (auto& r : reps) ok = r->wait().isOk() && ok;
  done = true;
  if (bar.joinable()) bar.join();
  if (tty) {
    std::fprintf(stderr, "\n");
    for (size_t i = 0; i < reps.size(); ++i) line(i, reps[i]->state(), reps[i]->stats());
  }
  return ok ? 0 : 1;
}
