// `settee replicate SOURCE TARGET [options]`: one replication (or a sync) between two endpoints, with a
// live progress bar on a terminal and one line per checkpoint otherwise. Exit status 0 when complete.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli_args.h"
#include "settee/database.h"
#include "settee/replicator.h"

namespace {

using namespace settee;

int usage() {
  std::fprintf(stderr,
               "usage: settee replicate SOURCE TARGET [options]\n"
               "  SOURCE, TARGET: http(s)://[user:pass@]host:port/db, or a database name under --data\n"
               "  --continuous            keep following changes until interrupted\n"
               "  --sync                  replicate both ways\n"
               "  --doc-ids a,b,c         only these documents\n"
               "  --selector JSON         only documents matching this Mango selector\n"
               "  --filter ddoc/name      a named filter of a CouchDB source (--query-params JSON)\n"
               "  --since SEQ             start at this source sequence instead of the checkpoint\n"
               "  --create-target         create the target database if missing\n"
               "  --no-checkpoints        do not read or write checkpoints\n"
               "  --batch-size N --workers N --timeout MS --retries N\n"
               "  --ca-file FILE          trust these CA certificates for https\n"
               "  --header 'Name: value'  send with every request (repeatable)\n"
               "  --data DIR              where local databases live (default ./data)\n");
  return 2;
}

bool isUrl(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

}  // namespace

int replicateCommand(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  ReplicationOptions options;
  bool sync = false;
  std::string dataDir = "./data";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    const std::string* v = nullptr;
    if (a == "--help" || a == "-h") return usage();
    if (a == "--continuous") options.continuous = true;
    else if (a == "--sync") sync = true;
    else if (a == "--create-target") options.createTarget = true;
    else if (a == "--no-checkpoints") options.useCheckpoints = false;
    else if (a.rfind("--", 0) == 0 && !(v = value())) {
      std::fprintf(stderr, "settee: %s needs a value\n", a.c_str());
      return 2;
    } else if (a == "--doc-ids") options.docIds = cli::splitList(*v);
    else if (a == "--selector") options.selector = *v;
    else if (a == "--filter") options.filter = *v;
    else if (a == "--query-params") options.queryParams = *v;
    else if (a == "--since") options.sinceSeq = *v;
    else if (a == "--batch-size") options.batchSize = std::stoul(*v);
    else if (a == "--workers") options.workers = std::stoul(*v);
    else if (a == "--timeout") options.timeout = std::chrono::milliseconds(std::stol(*v));
    else if (a == "--retries") options.retries = std::stoi(*v);
    else if (a == "--ca-file") options.caFile = *v;
    else if (a == "--data") dataDir = *v;
    else if (a == "--header") {
      size_t colon = v->find(':');
      if (colon == std::string::npos) return usage();
      size_t start = v->find_first_not_of(' ', colon + 1);
      options.headers.emplace_back(v->substr(0, colon), start == std::string::npos ? "" : v->substr(start));
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "settee: unknown option %s\n", a.c_str());
      return usage();
    } else {
      positional.push_back(a);
      if (v) --i;
    }
  }
  if (positional.size() != 2) return usage();

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
                 static_cast<unsigned long long>(st.docsWritten), static_cast<unsigned long long>(st.docWriteFailures),
                 static_cast<unsigned long long>(st.pending), secs > 0 ? static_cast<double>(st.docsWritten) / secs : 0.0,
                 st.endLastSeq.c_str());
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
                     s == ReplicationState::Retrying ? "retrying after" : "replication failed", err.reason().c_str());
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
        int filled = total ? static_cast<int>(30.0 * static_cast<double>(written) / static_cast<double>(total)) : 30;
        {
          std::lock_guard lock(outMu);
          std::fprintf(stderr, "\r[%-30s] %llu/%llu docs  %.0f docs/s  %-10s", std::string(static_cast<size_t>(filled), '#').c_str(),
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
