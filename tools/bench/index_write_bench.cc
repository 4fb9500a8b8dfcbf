// index_write_bench — what json indexes cost a write, and what building one costs, in one run.
//
//   build/index_write_bench [N=100000] [runs=3]
//   build/index_write_bench update [N=100000] [runs=3]
//
// For no index, one index (keys scattered, keys clustered) and 3 indexes: a new database, the indexes created
// first (so every row is kept in the write's own transaction), then N documents of about 1 KB bulk-written in
// batches of 1,000 (one transaction each). Then, on a database holding N documents, one index created and
// built by updateIndex (the catch-up a query runs before it reads an index created after its documents).
// Prints docs/s by the wall clock and by the process's CPU time (user + system: what a loaded machine's
// other work does not inflate), medians of `runs`, and peak RSS.
//
// `update` measures edits instead: for each configuration N documents are written (not timed), then every
// one is updated twice in batches of 1,000 — first a field no index holds (the note: the common edit, whose
// index rows stay as they are), then an indexed field (the value: each index on it moves the row).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "db/database_internal.h"
#include "settee/database.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 1000;

// About 1 KB of JSON: a type, a sensor, a number, a boolean, tags and a note of text.
// `rev` (when given) makes it an update; `edit` 1 changes the note, 2 the value.
std::string makeDoc(int i, std::string_view rev = {}, int edit = 0) {
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
  char id[32];
  std::snprintf(id, sizeof id, "doc-%08d", i);
  std::string doc;
  doc.reserve(1100);
  doc += R"({"_id":")";
  doc += id;
  if (!rev.empty()) {
    doc += R"(","_rev":")";
    doc += rev;
  }
  doc += R"(","type":")";
  doc += (i % 3 == 0 ? "order" : i % 3 == 1 ? "reading" : "customer");
  doc += R"(","sensor":"s)";
  doc += std::to_string(i % 97);
  doc += R"(","value":)";
  doc += std::to_string((i * 37 + (edit == 2 ? 501 : 0)) % 1000);
  doc += R"(.25,"ok":true,"tags":["a","b","c"],"note":")";
  doc.append(pool, static_cast<size_t>(i * 7 + (edit == 1 ? 13 : 0)) % 3000, 800);
  doc += "\"}";
  return doc;
}

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

long peakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

settee::IndexDefinition index(std::vector<const char*> fields, const char* name) {
  settee::IndexDefinition def;
  for (const char* f : fields) def.fields.push_back({f, false});
  def.ddoc = "bench";
  def.name = name;
  return def;
}

// What is measured. Where an index's keys fall decides its cost: each write transaction rewrites every
// index page it touches, so keys scattered over the index (a value of 1,000 spread over every batch)
// dirty about one page per document, while keys that cluster (3 types, ids ascending within each) append
// to a few pages.
struct Config {
  const char* label;
  std::vector<settee::IndexDefinition> indexes;
};

const std::vector<Config>& configs() {
  static const std::vector<Config> all = {
      {"no index", {}},
      {"1 index, scattered keys [type, value]", {index({"type", "value"}, "type-value")}},
      {"1 index, clustered keys [type]", {index({"type"}, "type")}},
      {"3 indexes [type, value] [sensor] [value]",
       {index({"type", "value"}, "type-value"), index({"sensor"}, "sensor"), index({"value"}, "value")}},
  };
  return all;
}

std::unique_ptr<settee::Database> openFresh(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto opened = settee::Database::open(dir + "/bench.settee", "bench");
  if (!opened) {
    std::fprintf(stderr, "open failed: %s\n", opened.status().reason().c_str());
    std::exit(1);
  }
  return std::move(*opened);
}

void createIndex(settee::Database& db, const settee::IndexDefinition& def) {
  auto created = db.createIndex(def);
  if (!created) {
    std::fprintf(stderr, "createIndex failed: %s\n", created.status().reason().c_str());
    std::exit(1);
  }
}

struct Rate {
  double wall = 0;  // docs/s by the wall clock
  double cpu = 0;   // docs/s by the process's CPU time
};

double cpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// Bulk-writes N documents: new ones, or (with `revs`, which it then advances) an edit of each.
Rate writeAll(settee::Database& db, int n, std::vector<std::string>* revs = nullptr, int edit = 0) {
  std::vector<std::string> docs;
  std::vector<std::string_view> views;
  const double c0 = cpuSeconds();
  auto t0 = Clock::now();
  for (int start = 0; start < n; start += kBatch) {
    docs.clear();
    for (int i = start; i < std::min(n, start + kBatch); ++i)
      docs.push_back(edit ? makeDoc(i, (*revs)[i], edit) : makeDoc(i));
    views.assign(docs.begin(), docs.end());
    auto results = db.bulkDocs(views);
    for (size_t k = 0; k < results.size(); ++k) {
      if (!results[k].status) {
        std::fprintf(stderr, "write failed: %s\n", results[k].status.reason().c_str());
        std::exit(1);
      }
      if (revs) {
        if (revs->size() < static_cast<size_t>(n)) revs->resize(n);
        (*revs)[start + k] = std::move(results[k].rev);
      }
    }
  }
  return {n / seconds(t0, Clock::now()), n / (cpuSeconds() - c0)};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The `update` mode: rates of edits that keep the indexed values and of edits that change them.
int updateMode(int n, int runs, const std::string& dir) {
  const size_t nc = configs().size();
  const char* edits[] = {"", "edit unindexed note", "edit indexed value"};
  std::vector<std::vector<double>> rates[3], cpuRates[3];
  for (int e = 1; e <= 2; ++e) rates[e].resize(nc), cpuRates[e].resize(nc);
  for (int run = 1; run <= runs; ++run) {
    for (size_t c = 0; c < nc; ++c) {
      auto db = openFresh(dir);
      for (const auto& def : configs()[c].indexes) createIndex(*db, def);
      std::vector<std::string> revs;
      writeAll(*db, n, &revs);
      for (int e = 1; e <= 2; ++e) {
        Rate r = writeAll(*db, n, &revs, e);
        rates[e][c].push_back(r.wall);
        cpuRates[e][c].push_back(r.cpu);
        std::printf("run %d: %s: %s %.0f docs/s (CPU %.0f docs/s)\n", run, configs()[c].label, edits[e],
                    r.wall, r.cpu);
      }
    }
  }
  std::filesystem::remove_all(dir);
  std::printf("N=%d updates of ~1 KB docs, batches of %d, median of %d runs:\n", n, kBatch, runs);
  for (int e = 1; e <= 2; ++e) {
    std::printf(" %s:\n", edits[e]);
    for (size_t c = 0; c < nc; ++c)
      std::printf("  %-42s %8.0f docs/s (%3.0f%%)  CPU %8.0f docs/s (%3.0f%%)\n", configs()[c].label,
                  median(rates[e][c]), 100 * median(rates[e][c]) / median(rates[e][0]),
                  median(cpuRates[e][c]), 100 * median(cpuRates[e][c]) / median(cpuRates[e][0]));
  }
  std::printf("  peak RSS %ld KB\n", peakRssKb());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool update = argc > 1 && std::string_view(argv[1]) == "update";
  if (update) --argc, ++argv;
  int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  if (n <= 0 || runs <= 0) {
    std::fprintf(stderr, "usage: index_write_bench [update] [N] [runs]\n");
    return 2;
  }
  const std::string dir = (std::filesystem::temp_directory_path() / "settee-bench-index").string();
  if (update) return updateMode(n, runs, dir);
  const size_t nc = configs().size();
  std::vector<std::vector<double>> rates(nc), cpuRates(nc);
  std::vector<double> build, cpuBuild;
  for (int run = 1; run <= runs; ++run) {
    for (size_t c = 0; c < nc; ++c) {
      auto db = openFresh(dir);
      for (const auto& def : configs()[c].indexes) createIndex(*db, def);
      Rate r = writeAll(*db, n);
      rates[c].push_back(r.wall);
      cpuRates[c].push_back(r.cpu);
      std::printf("run %d: %s: bulk write %.0f docs/s (CPU %.0f docs/s)\n", run, configs()[c].label, r.wall,
                  r.cpu);
    }
    auto db = openFresh(dir);
    writeAll(*db, n);
    createIndex(*db, configs()[1].indexes[0]);
    auto& store = settee::db::storeOf(*db);
    auto specs = store.indexes();
    if (!specs || specs->size() != 1) std::exit(1);
    const double c0 = cpuSeconds();
    auto t0 = Clock::now();
    if (auto st = store.updateIndex(specs->front()); !st) {
      std::fprintf(stderr, "build failed: %s\n", st.reason().c_str());
      std::exit(1);
    }
    build.push_back(n / seconds(t0, Clock::now()));
    cpuBuild.push_back(n / (cpuSeconds() - c0));
    std::printf("run %d: building [type, value] over %d docs: %.0f docs/s (CPU %.0f docs/s)\n", run, n,
                build.back(), cpuBuild.back());
  }
  std::filesystem::remove_all(dir);
  std::printf("N=%d docs of ~1 KB, batches of %d, median of %d runs:\n", n, kBatch, runs);
  for (size_t c = 0; c < nc; ++c)
    std::printf("  %-42s %8.0f docs/s (%3.0f%%)  CPU %8.0f docs/s (%3.0f%%)\n", configs()[c].label,
                median(rates[c]), 100 * median(rates[c]) / median(rates[0]), median(cpuRates[c]),
                100 * median(cpuRates[c]) / median(cpuRates[0]));
  std::printf("  %-42s %8.0f docs/s         CPU %8.0f docs/s\n", "building [type, value] (updateIndex)",
              median(build), median(cpuBuild));
  std::printf("  peak RSS %ld KB\n", peakRssKb());
  return 0;
}
