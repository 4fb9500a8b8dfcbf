// The view index (db/view_index.h) under load and faults: offsets exact through edits, deletes and
// segment splits, an update killed with SIGKILL, scans during an update, concurrent updates, purges,
// sizes, and a timing test to run by hand.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "db/database_internal.h"
#include "db/view_index.h"
#include "db/view_reduce.h"
#include "view_test_support.h"

using namespace settee::test::views;

// Not run by default: `settee_tests "[.views-bench]"` prints how fast an index builds and answers.
TEST_CASE("View index: build and lookup timing", "[.views-bench]") {
  TempDir dir;
  auto db = openDb(dir);
  // SETTEE_VIEWS_BENCH_DOCS sets the size (default 200,000).
  const char* size = std::getenv("SETTEE_VIEWS_BENCH_DOCS");
  const int kDocs = size ? std::atoi(size) : 200000;
  std::vector<std::string> docs;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kDocs; i += 1000) {
    docs.clear();
    for (int j = i; j < i + 1000; ++j)
      docs.push_back(R"({"_id":"doc)" + std::to_string(j) + R"(","k":)" + std::to_string((j * 7919) % kDocs) +
                     R"(,"v":1,"name":"user )" + std::to_string(j) + R"("})");
    std::vector<std::string_view> views(docs.begin(), docs.end());
    db->bulkDocs(views);
  }
  auto seconds = [](auto since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  };
  const double load = seconds(started);
  auto index = openIndex(dir, kvSpec("_sum"));
  started = std::chrono::steady_clock::now();
  REQUIRE(index->update(*db, kvMapper()));
  const double build = seconds(started);
  const int kLookups = 2000;
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < kLookups; ++i) {
    ViewScan scan;
    scan.key = std::to_string((i * 104729) % kDocs);
    uint64_t offset = 0;
    REQUIRE(index->scan(
        0, scan, [](const ViewRow&) { return true; }, &offset));
  }
  const double lookupsWithOffset = seconds(started);
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < kLookups; ++i) {
    ViewScan scan;
    scan.key = std::to_string((i * 104729) % kDocs);
    REQUIRE(index->scan(0, scan, [](const ViewRow&) { return true; }));
  }
  const double lookups = seconds(started);
  started = std::chrono::steady_clock::now();
  auto total = reduceOf(*index, 0, {});
  const double reduceAll = seconds(started);
  CHECK(total == std::vector<std::string>{"null " + std::to_string(kDocs)});
  auto sizes = index->sizes();
  REQUIRE(sizes);
  WARN(kDocs << " docs written in " << load << " s; index built in " << build
             << " s = " << static_cast<int>(kDocs / build) << " docs/s (C++ map, 2 views); " << kLookups
             << " key lookups: " << static_cast<int>(kLookups / lookups) << "/s without offset, "
             << static_cast<int>(kLookups / lookupsWithOffset) << "/s with offset; _sum over all rows "
             << reduceAll * 1000 << " ms; file " << sizes->file / 1048576 << " MiB, active "
             << sizes->active / 1048576 << " MiB");
}

TEST_CASE("View index: offsets stay exact through many edits, deletes and segment splits", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::mt19937 rng(42);
  std::map<std::string, std::pair<std::string, int>> live;  // id -> (rev, key)
  auto write = [&](int count, bool ascending) {
    std::vector<std::string> docs;
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      std::string id = "doc" + std::to_string(rng() % 20000);
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
      int key = ascending ? 100000 + static_cast<int>(live.size()) : static_cast<int>(rng() % 1000);
      std::string doc = R"({"_id":")" + id + R"(","k":)" + std::to_string(key);
      auto it = live.find(id);
      if (it != live.end()) doc += R"(,"_rev":")" + it->second.first + R"(")";
      docs.push_back(doc + "}");
      ids.push_back(id);
    }
    std::vector<std::string_view> views(docs.begin(), docs.end());
    auto results = db->bulkDocs(views);
    for (size_t i = 0; i < results.size(); ++i) {
      REQUIRE(results[i].status);
      simdjson::dom::parser p;
      live[ids[i]] = {results[i].rev, static_cast<int>(p.parse(docs[i]).value()["k"].get_int64().value())};
    }
  };
  auto removeSome = [&](int count) {
    for (int i = 0; i < count && !live.empty(); ++i) {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      REQUIRE(db->remove(it->first, it->second.first));
      live.erase(it);
    }
  };
  auto index = openIndex(dir, kvSpec());
  auto check = [&] {
    REQUIRE(index->update(*db, kvMapper(), {}, 700));
    std::vector<int> keys;
    for (const auto& [id, doc] : live) keys.push_back(doc.second);
    std::sort(keys.begin(), keys.end());
    CHECK(scanOf(*index, 0).totalRows == keys.size());
    for (int probe : {-1, 0, 1, 250, 499, 500, 777, 999, 1000, 100000, 100500, 200000}) {
      ViewScan scan;
      scan.startKey = std::to_string(probe);
      scan.limit = 1;
      auto asc = scanOf(*index, 0, scan);
      CHECK(asc.offset ==
            static_cast<uint64_t>(std::lower_bound(keys.begin(), keys.end(), probe) - keys.begin()));
      scan.descending = true;
      auto desc = scanOf(*index, 0, scan);
      CHECK(desc.offset ==
            static_cast<uint64_t>(keys.end() - std::upper_bound(keys.begin(), keys.end(), probe)));
    }
  };
  write(6000, false);
  check();
  write(3000, false);  // edits of many, new documents too
  removeSome(2000);
  check();
  write(5000, true);  // keys arriving in ascending order split the last segment again and again
  check();
  removeSome(6000);
  check();
}

TEST_CASE("View index: an update killed with SIGKILL resumes from its last commit, rows matching update_seq",
          "[views]") {
  TempDir dir;
  const int kDocs = 3000;
  {
    auto db = openDb(dir);
    std::vector<std::string> docs;
    for (int i = 0; i < kDocs; ++i)
      docs.push_back(R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + "}");
    std::vector<std::string_view> views(docs.begin(), docs.end());
    for (const auto& r : db->bulkDocs(views)) REQUIRE(r.status);
  }
  auto spec = kvSpec();
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    auto db = Database::open(dir.file("db.settee"), "db");
    if (!db) _exit(3);
    auto index = ViewIndex::open(db::viewFileFor(dir.file("views"), spec.signature), spec);
    if (!index) _exit(4);
    auto inner = kvMapper();
    // A slow map: the update commits on its two-second clock, then goes on until killed.
    Mapper slow = [&](const std::vector<std::string_view>& docs) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      char c = 1;
      if (write(fds[1], &c, 1) != 1) _exit(5);
      return inner(docs);
    };
    (void)(*index)->update(**db, slow, {}, 20);
    _exit(6);  // not reached: 150 batches take longer than the parent waits
  }
  close(fds[1]);
  char c;
  for (int calls = 0; calls < 50; ++calls) REQUIRE(read(fds[0], &c, 1) == 1);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  close(fds[0]);
  CHECK(WIFSIGNALED(status));

  auto db = openDb(dir);
  auto index = openIndex(dir, spec);
  const uint64_t seq = index->updateSeq();
  CHECK(seq > 0);
  CHECK(seq < static_cast<uint64_t>(kDocs));
  CHECK(seq % 20 == 0);
  // Every document up to update_seq has its row, none after it.
  auto rows = scanOf(*index, 0);
  CHECK(rows.totalRows == seq);
  CHECK(rows.rows.size() == seq);
  REQUIRE(index->update(*db, kvMapper()));
  CHECK(scanOf(*index, 0).totalRows == static_cast<uint64_t>(kDocs));
}

TEST_CASE("View index: scans read committed rows while an update runs; updates are serialised", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  for (int i = 0; i < 30; ++i)
    put(*db, R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + "}");
  auto index = openIndex(dir, kvSpec());
  auto inner = kvMapper();
  size_t mappedDocs = 0;
  std::vector<uint64_t> seen;
  Mapper watching = [&](const std::vector<std::string_view>& docs) {
    CHECK(index->updating());
    // The scan runs on a reader of its own while the writer holds its transaction open.
    seen.push_back(scanOf(*index, 0).totalRows);
    mappedDocs += docs.size();
    return inner(docs);
  };
  std::thread other;
  {
    auto first = index->update(*db, watching, {}, 10);
    REQUIRE(first);
  }
  CHECK(seen == std::vector<uint64_t>{0, 0, 0});  // nothing committed until the update ends
  CHECK_FALSE(index->updating());
  CHECK(scanOf(*index, 0).totalRows == 30);
  // Two updates at once: the second waits, then finds nothing left to map.
  for (int i = 30; i < 60; ++i)
    put(*db, R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + "}");
  mappedDocs = 0;
  Mapper slow = [&](const std::vector<std::string_view>& docs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    mappedDocs += docs.size();
    return inner(docs);
  };
  other = std::thread([&] { REQUIRE(index->update(*db, slow, {}, 10)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(index->update(*db, slow, {}, 10));
  other.join();
  CHECK(mappedDocs == 30);
  CHECK(scanOf(*index, 0).totalRows == 60);
}

TEST_CASE("View index: sizes report the file and the bytes the rows hold", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::vector<std::string> revs;
  for (int i = 0; i < 20; ++i)
    revs.push_back(
        put(*db, R"({"_id":"d)" + std::to_string(i) + R"(","k":)" + std::to_string(i) + R"(,"v":"value"})"));
  auto index = openIndex(dir, kvSpec());
  REQUIRE(index->update(*db, kvMapper()));
  auto full = index->sizes();
  REQUIRE(full);
  CHECK(full->file > 0);
  CHECK(full->active > 20 * 10);
  for (int i = 0; i < 10; ++i) REQUIRE(db->remove("d" + std::to_string(i), revs[static_cast<size_t>(i)]));
  REQUIRE(index->update(*db, kvMapper()));
  auto half = index->sizes();
  REQUIRE(half);
  CHECK(half->active < full->active);
  CHECK(half->active > 0);
}

TEST_CASE("View index: a purged document's rows go (the index is built again after a purge)", "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  std::string rev = put(*db, R"({"_id":"gone","k":1})");
  put(*db, R"({"_id":"kept","k":2})");
  auto index = openIndex(dir, kvSpec());
  REQUIRE(index->update(*db, kvMapper()));
  CHECK(scanOf(*index, 0).totalRows == 2);
  auto purged = db::storeOf(*db).purge({{"gone", {rev}}});
  REQUIRE(purged);
  REQUIRE(index->update(*db, kvMapper()));
  auto after = scanOf(*index, 0);
  CHECK(after.rows == std::vector<std::string>{"kept 2 null"});
  CHECK(after.totalRows == 1);
}

TEST_CASE("View index: memory stays bounded: no writer cache after an update, a small one per reader",
          "[views]") {
  TempDir dir;
  auto db = openDb(dir);
  // 40,000 documents: an index of over 3 MiB, more than a reader's cache holds.
  std::vector<std::string> docs;
  for (int i = 0; i < 40000; i += 1000) {
    docs.clear();
    for (int j = i; j < i + 1000; ++j)
      docs.push_back(R"({"_id":"doc)" + std::to_string(j) + R"(","k":)" + std::to_string((j * 7919) % 40000) +
                     R"(,"v":1,"name":"a document of some length, number )" + std::to_string(j) + R"("})");
    std::vector<std::string_view> views(docs.begin(), docs.end());
    db->bulkDocs(views);
  }
  auto index = openIndex(dir, kvSpec("_sum"));
  REQUIRE(index->update(*db, kvMapper()));
  auto sizes = index->sizes();
  REQUIRE(sizes);
  REQUIRE(sizes->file > 3u << 20);
  // The update's cache is given back when it ends (sizes() used one reader: a few pages).
  CHECK(index->cacheBytes() < 256u << 10);

  // Whole scans and reduces, one after another and at once, fill each reader's cache to its bound.
  CHECK(scanOf(*index, 0).totalRows == 40000);
  CHECK(reduceOf(*index, 0, {}) == std::vector<std::string>{"null 40000"});
  std::atomic<int> wholeScans{0};
  std::vector<std::thread> queries;
  for (int t = 0; t < 3; ++t)
    queries.emplace_back([&] {
      size_t rows = 0;
      auto total = index->scan(0, {}, [&](const ViewRow&) { return ++rows, true; });
      if (total && rows == 40000) ++wholeScans;
    });
  for (auto& q : queries) q.join();
  CHECK(wholeScans == 3);
  // At most four idle readers of at most 2 MiB of pages each (plus SQLite's per-page headers).
  CHECK(index->cacheBytes() <= 4 * (5u << 19));
  CHECK(index->cacheBytes() > 0);

  // A later update that writes a little gives its cache back too.
  put(*db, R"({"_id":"late","k":1,"v":2})");
  REQUIRE(index->update(*db, kvMapper()));
  CHECK(reduceOf(*index, 0, {}) == std::vector<std::string>{"null 40002"});
  CHECK(index->cacheBytes() <= 4 * (5u << 19));
}
