// `settee sync --data DIR DB URL [options]`: a local database kept in continuous two-way sync with a peer
// (settee::Sync), until SIGINT or SIGTERM stop it cleanly (the Sync stops, so its checkpoints are
// written). On a terminal one status line is rewritten in place; otherwise a line whenever the state, a
// count or the last sync time changed, so a log or a test reads the same facts. `settee status` is in
// status_command.cc.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "settee/sync.h"

using namespace settee;

void syncUsage(FILE* out) {
  const SyncOptions defaults;
  std::fprintf(
      out,
      "usage: settee sync [--data DIR] DB URL [options]\n"
      "  Keeps the local database DB (created if missing) in continuous two-way sync with the peer\n"
      "  database URL (http(s)://[user:pass@]host:port/db) until interrupted: SIGINT (Ctrl-C) or SIGTERM\n"
      "  stop it cleanly, with its checkpoints written. Offline edits wait in DB's outbox (settee status).\n"
      "options:\n"
      "  --data DIR               where local databases live (default ./data)\n"
      "  --policy POLICY          what to do with conflicts the pull brings (default keep):\n"
      "                             keep             CouchDB's rule: a deterministic winner, losers kept\n"
      "                             lww:FIELD        the leaf with the greatest FIELD wins, losers deleted\n"
      "                             merge            three-way merge of fields; a field both sides changed\n"
      "                                              keeps the conflict\n"
      "                             merge:lww:FIELD  three-way merge; FIELD decides fields both changed\n"
      "  --priority SELECTOR      Mango selector (JSON): matching documents go first, both ways (default "
      "none)\n"
      "  --pull-selector SELECTOR pull only documents matching it (default all)\n"
      "  --push-selector SELECTOR push only documents matching it (default all)\n"
      "  --doc-ids a,b,c          pull only these documents (default all)\n"
      "  --large-attachments N    a document with more than N bytes of attachments goes in a second phase,\n"
      "                           after every other document (default %llu; 0: one phase)\n"
      "  --metered                hold the second phase, as on a metered network (default off)\n"
      "  --ca-file FILE           trust these CA certificates for an https peer (default the system's)\n"
      "  --header 'Name: value'   send with every request to the peer (repeatable)\n"
      "  --help, -h               this text\n"
      "output: on a terminal one line kept up to date; otherwise a line whenever the state, a count or\n"
      "  the last sync time changed (looked at four times a second), as\n"
      "  [TIME ]STATE pending=N failed=N conflicted=N docs/s=R last_sync=ISO8601|never[ retry_in=Ns]\n"
      "  [ error=\"...\"] (retry_in: offline after a failure, the next attempt)\n"
      "  STATE is offline, connecting, syncing, idle or stopped; a document the peer refuses prints\n"
      "  `failed ID REV: ERROR: REASON`, a conflict `conflict ID`, a resolution `resolved ID REV` (or\n"
      "  `unresolved ID: ERROR: REASON` when the policy could not write it).\n"
      "exit status: 0 when stopped by a signal, 1 when the sync cannot run, 2 for bad usage\n",
      static_cast<unsigned long long>(defaults.largeAttachmentBytes));
}

namespace {

std::string statusLine(const SyncStatus& st) {
  char buf[256];
  const std::string last = cli::isoTime(st.lastSyncMicros);
  std::snprintf(buf, sizeof buf, "%s pending=%llu failed=%llu conflicted=%llu docs/s=%.1f last_sync=%s",
                syncStateName(st.state), static_cast<unsigned long long>(st.counts.pending),
                static_cast<unsigned long long>(st.counts.failed),
                static_cast<unsigned long long>(st.counts.conflicted), st.progress.docsPerSecond,
                last.empty() ? "never" : last.c_str());
  std::string line = buf;
  if (st.nextRetryMicros) {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const int64_t wait = static_cast<int64_t>(st.nextRetryMicros) - now;
    line += " retry_in=" + std::to_string(wait > 0 ? (wait + 999999) / 1000000 : 0) + "s";
  }
  if (!st.lastError.isOk()) {
    std::string reason = st.lastError.reason();
    for (char& c : reason) c = c == '"' || c == '\n' ? '\'' : c;
    line += std::string(" error=\"") + st.lastError.error() + ": " + reason + "\"";
  }
  return line;
}

// What a line says, to print one only when it changed (the rate and the error text aside).
struct Printed {
  SyncState state;
  uint64_t pending, failed, conflicted, lastSync;
  bool operator==(const Printed&) const = default;
};
Printed printedOf(const SyncStatus& st) {
  return {st.state, st.counts.pending, st.counts.failed, st.counts.conflicted, st.lastSyncMicros};
}

std::string nowIso() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return cli::isoTime(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now).count()));
}

// Waits up to `tick` for one of `stop` (blocked in every thread) and returns it, or returns 0.
int waitForSignal(const sigset_t& stop, const timespec& tick) {
#ifdef __APPLE__
  // Apple's libc has no sigtimedwait: take a stop signal already pending, else sleep the tick.
  sigset_t pending;
  sigemptyset(&pending);
  int sig = 0;
  if (sigpending(&pending) == 0 &&
      (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1) &&
      sigwait(&stop, &sig) == 0)
    return sig;
  nanosleep(&tick, nullptr);
  return 0;
#else
  return sigtimedwait(&stop, nullptr, &tick);
#endif
}

}  // namespace

int syncCommand(const std::vector<std::string>& argv) {
  // SIGINT and SIGTERM are taken by this thread alone (waitForSignal below): blocked before any thread
  // starts (the database's, the Sync's), which inherit the mask, so no other thread ever receives one.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  cli::Args args("sync", argv);
  std::string dataDir = "./data";
  std::vector<std::string> positional;
  SyncOptions options;
  std::string policyText = "keep";
  while (!args.done()) {
    const std::string a = args.next();
    if (cli::isHelp(a)) {
      syncUsage(stdout);
      return 0;
    }
    if (a == "--metered") {
      options.metered = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      positional.push_back(a);
      continue;
    }
    static const char* kWithValue[] = {
        "--data",          "--policy",  "--priority",          "--pull-selector",
        "--push-selector", "--doc-ids", "--large-attachments", "--ca-file",
        "--header"};
    bool known = false;
    for (const char* k : kWithValue) known = known || a == k;
    if (!known) return args.fail("unknown option " + a);
    auto v = args.value(a);
    if (!v) return 2;
    if (a == "--data") {
      dataDir = *v;
    } else if (a == "--policy") {
      auto policy = ConflictPolicy::parse(*v);
      if (!policy) return args.fail("--policy " + *v + ": " + policy.status().reason());
      options.policy = std::move(*policy);
      policyText = *v;
    } else if (a == "--priority" || a == "--pull-selector" || a == "--push-selector") {
      if (!cli::isJsonObject(*v)) return args.fail(a + " must be a JSON object (a Mango selector)");
      (a == "--priority"        ? options.prioritySelector
       : a == "--pull-selector" ? options.pullSelector
                                : options.pushSelector) = *v;
    } else if (a == "--doc-ids") {
      options.pullDocIds = cli::splitList(*v);
    } else if (a == "--large-attachments") {
      auto bytes = cli::parseCount(*v);
      if (!bytes) return args.fail("--large-attachments takes a number of bytes, not " + *v);
      options.largeAttachmentBytes = *bytes;
    } else if (a == "--ca-file") {
      options.caFile = *v;
    } else if (a == "--header") {
      const size_t colon = v->find(':');
      if (colon == std::string::npos || colon == 0)
        return args.fail("--header takes 'Name: value', not " + *v);
      const size_t start = v->find_first_not_of(' ', colon + 1);
      options.headers.emplace_back(v->substr(0, colon), start == std::string::npos ? "" : v->substr(start));
    }
  }
  if (positional.size() != 2)
    return args.fail("expected DB and URL, got " + std::to_string(positional.size()) + " arguments");
  const std::string& dbName = positional[0];
  const std::string& url = positional[1];
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return args.fail("URL must be http:// or https://, not " + url);

  // Shared with other processes, so `settee status` can read the database while this one syncs it.
  DatabaseOptions shared;
  shared.exclusive = false;
  DataDir data(dataDir, shared);
  auto db = data.open(dbName);
  if (!db && db.status().code() == ErrorCode::NotFound) db = data.create(dbName);
  if (!db) {
    std::fprintf(stderr, "settee sync: %s: %s\n", dbName.c_str(), db.status().reason().c_str());
    return 1;
  }

  const bool tty = isatty(STDOUT_FILENO);
  std::mutex outMu;  // one writer at a time: listeners run on the Sync's threads, the status line here
  // What the listeners share, declared before the Sync so that it outlives the Sync's threads.
  std::atomic<bool> startedRunning{false};
  std::optional<Printed> lastPrinted;  // guarded by outMu
  // Not a terminal: a line whenever what it says (state, counts, last sync) changed, from the listener
  // (state changes) or the main thread's check (counts that move without one).
  auto printIfChanged = [&](const SyncStatus& st) {
    std::lock_guard lock(outMu);
    const Printed now = printedOf(st);
    if (lastPrinted && *lastPrinted == now) return;
    lastPrinted = now;
    std::printf("%s %s\n", nowIso().c_str(), statusLine(st).c_str());
    std::fflush(stdout);
  };
  Sync sync(*db, url, std::move(options));
  sync.onStatus([&](const SyncStatus& st) {
    if (st.state != SyncState::Stopped) startedRunning = true;
    if (!tty) printIfChanged(st);  // on a terminal the main thread redraws the line
  });
  sync.onDocument([&](const DocEvent& e) {
    std::string line;
    switch (e.kind) {
      case DocEventKind::Failed:
        line = "failed " + e.id + " " + e.rev + ": " + e.error.error() + ": " + e.error.reason();
        break;
      case DocEventKind::ConflictDetected:
        line = "conflict " + e.id;
        break;
      case DocEventKind::ConflictResolved:
        line = e.error.isOk() ? "resolved " + e.id + " " + e.rev
                              : "unresolved " + e.id + ": " + e.error.error() + ": " + e.error.reason();
        break;
      default:
        return;  // pulled and pushed show in the counts
    }
    std::lock_guard lock(outMu);
    std::printf("%s%s\n", tty ? "\r\x1b[K" : "", line.c_str());
    std::fflush(stdout);
  });
  if (Status st = sync.start(); !st) {
    std::fprintf(stderr, "settee sync: %s\n", st.reason().c_str());
    return 1;
  }
  std::fprintf(stderr, "settee sync: %s with %s (policy %s); Ctrl-C stops\n", dbName.c_str(),
               sync.peer().c_str(), policyText.c_str());

  // Wait for a stop signal; on a terminal redraw the status line four times a second meanwhile.
  const timespec tick{0, 250'000'000};
  int exitCode = 0;
  for (;;) {
    const int sig = waitForSignal(stopSignals, tick);
    if (sig == SIGINT || sig == SIGTERM) break;
    const SyncStatus st = sync.status();
    if (tty) {
      std::lock_guard lock(outMu);
      std::printf("\r\x1b[K%s", statusLine(st).c_str());
      std::fflush(stdout);
    } else {
      printIfChanged(st);
    }
    // A sync that stopped by itself (it cannot go on) ends the command with its error.
    if (startedRunning && st.state == SyncState::Stopped) {
      std::fprintf(stderr, "%ssettee sync: stopped: %s\n", tty ? "\n" : "", st.lastError.reason().c_str());
      exitCode = 1;
      break;
    }
  }
  sync.stop();
  const SyncStatus final = sync.status();
  if (tty) {
    std::printf("\r\x1b[K%s\n", statusLine(final).c_str());
    std::fflush(stdout);
  } else {
    printIfChanged(final);
  }
  return exitCode;
}
