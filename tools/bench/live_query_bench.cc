// live_query_bench — what live queries cost a writer, and how soon a write reaches its query.
//
//   build/live_query_bench [docs=10000] [queries=10] [runs=5] [project]
//
// With `project` the queries ask for fields ["_id","list","n"]: such a query is re-run (a full scan
// here) after each write that touches it, where a query for whole documents has its rows patched.
//
// Each run fills a new database with `docs` documents of about 1 KB, spread over 100 lists (`list`
// 0..99), and registers `queries` live queries {"list": q} (q < queries, limit 1000). No index: each
// re-run is a full scan, the worst case. Then:
// - unrelated writes: 2,000 single-document puts to lists no query watches; the writer's time per put,
//   and the whole process's CPU time per put (writer + worker deciding that nothing changed), measured
//   until a fence write to a watched list has been delivered, so every check is counted. The same with
//   no live query registered gives the baseline.
// - latency: 50 puts, one at a time after a quiet 30 ms, each to a watched list; the time from the put
//   call to the delivery of that query's new result (the put's own commit included).
// - related burst: 1,000 puts to watched lists as fast as one writer can; the writer's time per put,
//   the process CPU per put, and how many results the queries delivered.
// Prints the median over runs of each figure.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "settee/database.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace settee;

constexpr int kLists = 100;
constexpr int kUnrelatedWrites = 2000;
constexpr int kLatencySamples = 50;
constexpr int kBurstWrites = 1000;

std::string makeDoc(const std::string& id, int list, int i) {
  static const std::string pool = [] {
    std::string text;
    uint32_t x = 2654435761u;
    while (text.size() < 4096) {
      x = x * 1103515245u + 12345u;
      text.push_back(static_cast<char>('a' + (x >> 16) % 26));
      if ((x >> 8) % 7 == 0) text.push_back(' ');
    }
    return text;
  }();
  std::string doc = R"({"_id":")" + id + R"(","type":"item","list":)" + std::to_string(list) + R"(,"n":)" +
                    std::to_string(i) + R"(,"note":")";
  doc.append(pool, static_cast<size_t>(i * 7) % 3000, 900);
  doc += "\"}";
  return doc;
}

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Counts deliveries per query; waits for a given query's count to pass a value.
struct Deliveries {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> count;
  std::vector<Clock::time_point> last;

  explicit Deliveries(int n) : count(n, 0), last(n) {}
  void record(int q) {
    auto now = Clock::now();
    std::lock_guard lock(mu);
    ++count[q];
    last[q] = now;
    cv.notify_all();
  }
  uint64_t get(int q) {
    std::lock_guard lock(mu);
    return count[q];
  }
  uint64_t total() {
    std::lock_guard lock(mu);
    uint64_t t = 0;
    for (auto c : count) t += c;
    return t;
  }
  Clock::time_point waitPast(int q, uint64_t seen) {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return count[q] > seen; })) {
      std::fprintf(stderr, "no delivery within 60 s\n");
      std::exit(1);
    }
    return last[q];
  }
};

struct Figures {
  double baselinePutUs = 0, baselineCpuUs = 0;
  double unrelatedPutUs = 0, unrelatedCpuUs = 0;
  double latencyUs = 0;
  double burstPutUs = 0, burstCpuUs = 0, burstDeliveries = 0;
};

void put(Database& db, const std::string& json) {
  if (!db.put(json)) {
    std::fprintf(stderr, "put failed\n");
    std::exit(1);
  }
}

// Puts `n` documents to unwatched lists (then a fence to list 0 when live queries watch it); returns
// the writer's time per put and the process CPU per put, both in microseconds.
std::pair<double, double> unrelatedWrites(Database& db, Deliveries* d, int queries, const std::string& tag) {
  uint64_t seen = d ? d->get(0) : 0;
  double cpu0 = cpuSeconds();
  auto t0 = Clock::now();
  for (int i = 0; i < kUnrelatedWrites; ++i) {
    put(db, makeDoc(tag + std::to_string(i), queries + i % (kLists - queries), i));
  }
  auto t1 = Clock::now();
  if (d) {
    put(db, makeDoc(tag + "-fence", 0, 0));
    d->waitPast(0, seen);
  }
  double cpu = cpuSeconds() - cpu0;
  return {micros(t1 - t0) / kUnrelatedWrites, cpu * 1e6 / kUnrelatedWrites};
}

Figures runOnce(const std::string& dir, int docs, int queries, int run, bool project) {
  Figures f;
  std::string path = dir + "/live-" + std::to_string(run) + ".settee";
  auto opened = Database::open(path, "bench");
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.status().reason().c_str());
    std::exit(1);
  }
  auto db = std::move(*opened);
  for (int start = 0; start < docs; start += 1000) {
    std::vector<std::string> batch;
    for (int i = start; i < std::min(docs, start + 1000); ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "doc-%08d", i);
      batch.push_back(makeDoc(id, i % kLists, i));
    }
    std::vector<std::string_view> views(batch.begin(), batch.end());
    db->bulkDocs(views);
  }

  // The baseline: the same writes with no live query registered.
  std::tie(f.baselinePutUs, f.baselineCpuUs) = unrelatedWrites(*db, nullptr, queries, "base-");

  Deliveries d(queries);
  std::vector<std::unique_ptr<LiveQuery>> live;
  for (int q = 0; q < queries; ++q) {
    FindOptions options;
    options.limit = 1000;
    if (project) options.fields = {"_id", "list", "n"};
    auto h = db->liveQuery(R"({"list":)" + std::to_string(q) + "}", options,
                           [&d, q](const LiveResult&) { d.record(q); });
    if (!h) {
      std::fprintf(stderr, "liveQuery: %s\n", h.status().reason().c_str());
      std::exit(1);
    }
    live.push_back(std::move(*h));
  }
  for (int q = 0; q < queries; ++q) d.waitPast(q, 0);

  std::tie(f.unrelatedPutUs, f.unrelatedCpuUs) = unrelatedWrites(*db, &d, queries, "unrel-");

  std::vector<double> latencies;
  for (int i = 0; i < kLatencySamples; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    int q = i % queries;
    uint64_t seen = d.get(q);
    auto t0 = Clock::now();
    put(*db, makeDoc("lat-" + std::to_string(i), q, i));
    latencies.push_back(micros(d.waitPast(q, seen) - t0));
  }
  f.latencyUs = median(latencies);

  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  uint64_t before = d.total();
  uint64_t seen0 = d.get(0);
  double cpu0 = cpuSeconds();
  auto t0 = Clock::now();
  for (int i = 0; i < kBurstWrites; ++i) put(*db, makeDoc("burst-" + std::to_string(i), i % queries, i));
  auto t1 = Clock::now();
  put(*db, makeDoc("burst-fence", 0, 0));
  d.waitPast(0, seen0);
  // Let the other queries' last passes finish: their deliveries follow the fence's within one pass.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  f.burstCpuUs = (cpuSeconds() - cpu0) * 1e6 / kBurstWrites;
  f.burstPutUs = micros(t1 - t0) / kBurstWrites;
  f.burstDeliveries = static_cast<double>(d.total() - before);

  live.clear();
  db.reset();
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int docs = argc > 1 ? std::atoi(argv[1]) : 10000;
  int queries = argc > 2 ? std::atoi(argv[2]) : 10;
  int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  bool project = argc > 4 && std::string(argv[4]) == "project";
  if (docs <= 0 || queries <= 0 || queries >= kLists || runs <= 0) {
    std::fprintf(stderr, "usage: live_query_bench [docs>0] [queries 1..99] [runs>0]\n");
    return 2;
  }
  auto dir = std::filesystem::temp_directory_path() / ("settee-live-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::vector<Figures> all;
  for (int r = 0; r < runs; ++r) all.push_back(runOnce(dir.string(), docs, queries, r, project));
  std::filesystem::remove_all(dir);

  auto med = [&](double Figures::*field) {
    std::vector<double> v;
    for (const auto& f : all) v.push_back(f.*field);
    return median(v);
  };
  std::printf(
      "live queries: %d docs (~1 KB), %d live queries of ~%d docs each (%s), no index; median of %d runs\n",
      docs, queries, docs / kLists, project ? "projected: re-run" : "whole documents: patched", runs);
  std::printf("  unrelated put, no live query:   %8.1f us/put writer, %8.1f us/put process CPU\n",
              med(&Figures::baselinePutUs), med(&Figures::baselineCpuUs));
  std::printf("  unrelated put, %2d live queries: %8.1f us/put writer, %8.1f us/put process CPU\n", queries,
              med(&Figures::unrelatedPutUs), med(&Figures::unrelatedCpuUs));
  std::printf("  write to delivery (quiet db):   %8.1f us median\n", med(&Figures::latencyUs));
  std::printf(
      "  related burst of %d puts:     %8.1f us/put writer, %8.1f us/put process CPU, %.0f results "
      "delivered\n",
      kBurstWrites, med(&Figures::burstPutUs), med(&Figures::burstCpuUs), med(&Figures::burstDeliveries));
  return 0;
}
