// The background index build (src/db/index_builder.*) on real SQLite files: an index that arrives by a
// replicated design document write is built without any query, a database closed mid-build closes at
// once, and reopening it finishes the build.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "db/database_internal.h"
#include "db/store.h"
#include "test_util.h"

using namespace settee;
using settee::test::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kDocs = 20000;

std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto db = Database::open(dir.file("db.settee"), "db");
  REQUIRE(db);
  return std::move(*db);
}

// kDocs documents {"_id":"dNNNNN","n":i,"g":i%100}, written in batches.
void fill(Database& db) {
  std::vector<std::string> batch;
  for (int i = 0; i < kDocs; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "d%05d", i);
    batch.push_back(std::string(R"({"_id":")") + id + R"(","n":)" + std::to_string(i) + R"(,"g":)" +
                    std::to_string(i % 100) + R"(,"s":"v)" + std::to_string(i) + "\"}");
    if (batch.size() == 1000 || i + 1 == kDocs) {
      std::vector<std::string_view> views(batch.begin(), batch.end());
      for (const DocResult& r : db.bulkDocs(views)) REQUIRE(r.status.isOk());
      batch.clear();
    }
  }
}

// A "language":"query" design document with one json index per field in `fields`, written as a
// replicator writes (new_edits=false, a revision made elsewhere).
void replicateIndexes(Database& db, const std::vector<std::string>& fields) {
  std::string json = R"({"_id":"_design/q","_rev":"1-0123456789abcdef","language":"query","views":{)";
  for (size_t i = 0; i < fields.size(); ++i)
    json += (i ? "," : "") +
            ("\"by-" + fields[i] + R"(":{"map":{"fields":{")" + fields[i] +
             R"(":"asc"}},"reduce":"_count","options":{"def":{"fields":[")" + fields[i] + "\"]}}}");
  json += "}}";
  PutOptions options;
  options.newEdits = false;
  auto r = db.put(json, options);
  INFO(r.status().reason());
  REQUIRE(r);
}

uint64_t backlog(db::Store& store) {
  auto n = store.indexBacklog();
  REQUIRE(n);
  return *n;
}

// Polls the backlog until `done` says so; false after `limit`.
template <class Done>
bool waitBacklog(db::Store& store, Done done, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (done(backlog(store))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

bool waitBuilt(db::Store& store) {
  return waitBacklog(store, [](uint64_t n) { return n == 0; });
}

// Runs a find on the index of `field` as it stands (update=false: the query builds nothing).
FindSummary findAsItIs(Database& db, const std::string& selector, const std::string& field, size_t& rows) {
  FindOptions options;
  options.update = false;
  options.limit = 1000;
  options.useIndex = {"q", "by-" + field};
  rows = 0;
  auto summary = db.find(selector, options, [&](std::string_view) {
    ++rows;
    return true;
  });
  INFO(summary.status().reason());
  REQUIRE(summary);
  return *summary;
}

}  // namespace

TEST_CASE("a replicated index is built in the background without any query", "[index_builder]") {
  TempDir dir;
  auto db = openDb(dir);
  fill(*db);
  replicateIndexes(*db, {"n"});
  db::Store& store = db::storeOf(*db);
  REQUIRE(waitBuilt(store));

  size_t rows = 0;
  FindSummary summary = findAsItIs(*db, R"({"n":{"$gte":100,"$lt":110}})", "n", rows);
  CHECK(rows == 10);
  CHECK(summary.index != "_all_docs");
  // The range scan reads its own keys (and the one that ends it), not the 20,000 rows.
  CHECK(summary.stats.totalKeysExamined <= 11);
  CHECK(summary.stats.totalDocsExamined <= 10);
  // The oldest and newest documents both have rows: the whole backlog was built.
  findAsItIs(*db, R"({"n":{"$in":[0,19999]}})", "n", rows);
  CHECK(rows == 2);
}

TEST_CASE("a database closed mid-build closes at once, and reopening finishes the build", "[index_builder]") {
  TempDir dir;
  {
    auto db = openDb(dir);
    fill(*db);
    replicateIndexes(*db, {"g"});
    // Close once the worker has built a chunk or more but not all of it.
    const uint64_t all = backlog(db::storeOf(*db));
    REQUIRE(all >= kDocs);
    REQUIRE(waitBacklog(db::storeOf(*db), [&](uint64_t n) { return n < all; }));
    const auto start = Clock::now();
    db.reset();
    const auto closing = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    INFO("close took " << closing.count() << " ms");
    CHECK(closing < std::chrono::milliseconds(1000));
  }
  {
    // The build stopped between two chunks, not at its end: the file still holds a backlog.
    auto store = db::Store::open(dir.file("db.settee"), "db", DatabaseOptions{});
    REQUIRE(store);
    CHECK(backlog(**store) > 0);
  }
  auto db = openDb(dir);
  REQUIRE(waitBuilt(db::storeOf(*db)));
  size_t rows = 0;
  findAsItIs(*db, R"({"g":7})", "g", rows);
  CHECK(rows == kDocs / 100);
}
