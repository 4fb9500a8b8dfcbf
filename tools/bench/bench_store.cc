// bench_store — the embedded store's throughput against bare SQLite, in one run.
//
//   build/bench_store [N=100000] [runs=3]
//
// For each run: bulk-insert N documents of about 1 KB into a new Settee database (batches of 1,000,
// each one transaction), read each back by id, scan the changes feed; then insert the same JSON bytes
// into a bare SQLite table (id TEXT PRIMARY KEY, body BLOB) in one transaction with the same pragmas.
// Prints docs/s (median over runs), Settee's insert rate as a share of bare SQLite's, and peak RSS.
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "settee/database.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 1000;

std::string makeId(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "doc-%08d", i);
  return buf;
}

// About 1 KB of JSON with a realistic mix of fields; the text comes from a pool made once, so making
// a document costs little next to storing it (both Settee and bare SQLite pay it in their timings).
std::string makeDoc(int i) {
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
  std::string doc;
  doc.reserve(1100);
  doc += R"({"_id":")";
  doc += makeId(i);
  doc += R"(","type":"reading","sensor":")";
  doc += std::to_string(i % 97);
  doc += R"(","value":)";
  doc += std::to_string((i * 37) % 1000);
  doc += R"(.25,"ok":true,"tags":["a","b","c"],"note":")";
  doc.append(pool, static_cast<size_t>(i * 7) % 3000, 820);
  doc += "\"}";
  return doc;
}

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

long peakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

struct Run {
  double insert, read, changes, bare;
};

Run runOnce(int n, const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Run r{};
  {
    auto opened = settee::Database::open(dir + "/bench.settee", "bench");
    if (!opened) {
      std::fprintf(stderr, "open failed: %s\n", opened.status().reason().c_str());
      std::exit(1);
    }
    auto& db = *opened;
    auto t0 = Clock::now();
    std::vector<std::string> docs;
    std::vector<std::string_view> views;
    for (int start = 0; start < n; start += kBatch) {
      docs.clear();
      for (int i = start; i < std::min(n, start + kBatch); ++i) docs.push_back(makeDoc(i));
      views.assign(docs.begin(), docs.end());
      for (auto& res : db->bulkDocs(views)) {
        if (!res.status) {
          std::fprintf(stderr, "write failed: %s\n", res.status.reason().c_str());
          std::exit(1);
        }
      }
    }
    auto t1 = Clock::now();
    size_t bytes = 0;
    for (int i = 0; i < n; ++i) {
      auto doc = db->get(makeId(i));
      if (!doc) std::exit(1);
      bytes += doc->size();
    }
    auto t2 = Clock::now();
    uint64_t rows = 0;
    settee::ChangesOptions all;
    all.allLeaves = true;
    auto scanned = db->changes(all, [&](const settee::Change&) { return ++rows, true; });
    auto t3 = Clock::now();
    if (!scanned || rows != static_cast<uint64_t>(n) || bytes == 0) std::exit(1);
    r.insert = n / seconds(t0, t1);
    r.read = n / seconds(t1, t2);
    r.changes = n / seconds(t2, t3);
  }
  {
    sqlite3* db = nullptr;
    sqlite3_open((dir + "/bare.sqlite").c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8192;"
                     "CREATE TABLE t(id TEXT PRIMARY KEY, body BLOB)", nullptr, nullptr, nullptr);
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t(id, body) VALUES(?, ?)", -1, &ins, nullptr);
    auto t0 = Clock::now();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < n; ++i) {
      std::string id = makeId(i), doc = makeDoc(i);
      sqlite3_bind_text(ins, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
      sqlite3_bind_blob(ins, 2, doc.data(), static_cast<int>(doc.size()), SQLITE_STATIC);
      sqlite3_step(ins);
      sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    auto t1 = Clock::now();
    sqlite3_finalize(ins);
    sqlite3_close(db);
    r.bare = n / seconds(t0, t1);
  }
  std::filesystem::remove_all(dir);
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  if (n <= 0 || runs <= 0) {
    std::fprintf(stderr, "usage: bench_store [N] [runs]\n");
    return 2;
  }
  std::string dir = (std::filesystem::temp_directory_path() / "settee-bench-store").string();
  std::vector<double> insert, read, changes, bare, ratio;
  for (int i = 0; i < runs; ++i) {
    Run r = runOnce(n, dir);
    insert.push_back(r.insert);
    read.push_back(r.read);
    changes.push_back(r.changes);
    bare.push_back(r.bare);
    ratio.push_back(r.insert / r.bare);
    std::printf("run %d: insert %.0f docs/s, read %.0f docs/s, changes %.0f docs/s, bare sqlite %.0f docs/s\n", i + 1,
                r.insert, r.read, r.changes, r.bare);
  }
  std::printf("N=%d docs of ~1 KB, median of %d runs:\n", n, runs);
  std::printf("  settee bulk insert   %10.0f docs/s\n", median(insert));
  std::printf("  settee read by id    %10.0f docs/s\n", median(read));
  std::printf("  settee changes scan  %10.0f docs/s\n", median(changes));
  std::printf("  bare sqlite insert   %10.0f docs/s\n", median(bare));
  std::printf("  insert ratio settee/bare sqlite: %.2f\n", median(ratio));
  std::printf("  peak RSS %ld KB\n", peakRssKb());
  return 0;
}
