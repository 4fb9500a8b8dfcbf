// sync_bench_device — the device side of tools/bench/sync_bench.mjs's write-to-arrival latency: an app
// that owns a local database, keeps it in sync with a peer through settee::Sync, and writes documents.
//
//   build/sync_bench_device DIR PEER_URL N INTERVAL_MS [PREFIX]
//   build/sync_bench_device --register DATA_DIR DB PEER_URL
//   build/sync_bench_device --pending DATA_DIR DB PEER_URL
//
// Opens (or creates) DIR/app.settee, starts a Sync with PEER_URL and waits until it is idle (prints
// "ready"). Then writes N documents, one every INTERVAL_MS, each {"_id": PREFIX-i, "t": <microseconds
// since the epoch at the write, system clock>}, so whoever watches the peer's changes feed on this machine
// can tell each one's time from the local write to its arrival. Then waits until the outbox is empty
// (prints "done <seconds>") or 60 s have passed (exit 1), and stops the Sync. Exit 2 for bad arguments or
// a Sync that cannot start. Output lines are flushed at once: the driver reads them as they come.
//
// --register makes PEER_URL (given as a key: no credentials, no trailing slash) a sync peer of database
// DB under the data directory DATA_DIR (as `settee serve --data DATA_DIR` keeps it), and nothing else:
// from then on every write keeps that peer's pending entry, which is the bookkeeping sync_bench.mjs
// measures. The ledger alone, so the measure needs neither `settee sync` nor a reachable peer.
// --pending prints that peer's outbox depth (SyncCounts::pending).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "settee/database.h"
#include "settee/sync.h"

namespace {

uint64_t nowMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Polls `done` every 5 ms until it holds or `limit` passes.
template <typename F>
bool waitUntil(F done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// --register or --pending.
int ledger(const std::string& mode, const std::string& dataDir, const std::string& name,
           const std::string& peer) {
  settee::DataDir data(dataDir);
  auto db = data.open(name);
  if (!db) {
    std::fprintf(stderr, "sync_bench_device: %s: %s\n", name.c_str(), db.status().reason().c_str());
    return 2;
  }
  if (mode == "--register") {
    if (settee::Status st = (*db)->registerSyncPeer(peer); !st) {
      std::fprintf(stderr, "sync_bench_device: registering %s: %s\n", peer.c_str(), st.reason().c_str());
      return 2;
    }
    return 0;
  }
  auto counts = (*db)->syncCounts(peer);
  if (!counts) {
    std::fprintf(stderr, "sync_bench_device: counts of %s: %s\n", peer.c_str(),
                 counts.status().reason().c_str());
    return 2;
  }
  std::printf("%llu\n", static_cast<unsigned long long>(counts->pending));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && (std::string(argv[1]) == "--register" || std::string(argv[1]) == "--pending"))
    return ledger(argv[1], argv[2], argv[3], argv[4]);
  if (argc < 5) {
    std::fprintf(stderr, "usage: sync_bench_device DIR PEER_URL N INTERVAL_MS [PREFIX]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string peer = argv[2];
  const int n = std::atoi(argv[3]);
  const int intervalMs = std::atoi(argv[4]);
  const std::string prefix = argc > 5 ? argv[5] : "lat";
  if (n <= 0 || intervalMs < 0) {
    std::fprintf(stderr, "sync_bench_device: N must be positive and INTERVAL_MS not negative\n");
    return 2;
  }
  std::filesystem::create_directories(dir);
  auto opened = settee::Database::open(dir + "/app.settee", "app");
  if (!opened) {
    std::fprintf(stderr, "sync_bench_device: %s\n", opened.status().reason().c_str());
    return 2;
  }
  std::shared_ptr<settee::Database> db = std::move(*opened);
  settee::SyncOptions options;
  options.minBackoff = std::chrono::milliseconds(100);
  settee::Sync sync(db, peer, options);
  if (settee::Status st = sync.start(); !st) {
    std::fprintf(stderr, "sync_bench_device: the sync does not start: %s\n", st.reason().c_str());
    return 2;
  }
  if (!waitUntil([&] { return sync.status().state == settee::SyncState::Idle; }, std::chrono::seconds(30))) {
    std::fprintf(stderr, "sync_bench_device: the sync never became idle (state %s: %s)\n",
                 settee::syncStateName(sync.status().state), sync.status().lastError.reason().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);

  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    char body[128];
    std::snprintf(body, sizeof body, R"({"_id":"%s-%06d","t":%llu})", prefix.c_str(), i,
                  static_cast<unsigned long long>(nowMicros()));
    if (auto r = db->put(body); !r) {
      std::fprintf(stderr, "sync_bench_device: write %d failed: %s\n", i, r.status().reason().c_str());
      return 1;
    }
    if (intervalMs > 0)
      std::this_thread::sleep_until(start + std::chrono::milliseconds(intervalMs) * (i + 1));
  }
  bool drained = waitUntil(
      [&] {
        auto c = sync.counts();
        return c && c->pending == 0;
      },
      std::chrono::seconds(60));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(drained ? "done %.3f\n" : "not drained %.3f\n", secs);
  std::fflush(stdout);
  sync.stop();
  return drained ? 0 : 1;
}
