// Live queries (Database::liveQuery) on real SQLite files: what is delivered and when, and that the
// result delivered is always the one a fresh find gives. Threads and handle lifetimes:
// live_query_threads_test.cc.
//
// Absence of a delivery is proven with a fence: after the write that must deliver nothing, a write that
// must deliver something, then a check that exactly one more result arrived and that it is the fence's.
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "db/database_internal.h"
#include "live_query_util.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using namespace settee::test::live;
using settee::test::Json;
using settee::test::TempDir;

TEST_CASE("LiveQuery: the first result is delivered once, off the registering thread", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  put(*db, R"({"_id":"a","type":"todo"})");
  put(*db, R"({"_id":"b","type":"note"})");
  put(*db, R"({"_id":"c","type":"todo"})");
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", {}, rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));
  CHECK(ids(rec.at(0)) == std::vector<std::string>{"a", "c"});
  CHECK(rec.at(0).updateSeq == 3);
  CHECK(rec.threads()[0] != std::this_thread::get_id());
  // A fence: one write that changes the result brings exactly one more result, so the first came once.
  put(*db, R"({"_id":"d","type":"todo"})");
  REQUIRE(rec.waitFor(2));
  CHECK(ids(rec.at(1)) == std::vector<std::string>{"a", "c", "d"});
  CHECK(rec.count() == 2);
}

TEST_CASE("LiveQuery: a write that changes the result delivers exactly one new result", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::string rev = put(*db, R"({"_id":"a","type":"todo","n":1})");
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", {}, rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));

  // An edit of a document in the result (it still matches): the new revision is delivered.
  std::string rev2 = put(*db, R"({"_id":"a","_rev":")" + rev + R"(","type":"todo","n":2})");
  REQUIRE(rec.waitFor(2));
  Json edited(rec.at(1).docs.at(0));
  CHECK(edited.str("_rev") == rev2);
  CHECK(int64_t(edited["n"]) == 2);
  CHECK(rec.at(1).updateSeq >= 2);

  put(*db, R"({"_id":"b","type":"todo"})");
  REQUIRE(rec.waitFor(3));
  CHECK(ids(rec.at(2)) == std::vector<std::string>{"a", "b"});
  CHECK(rec.count() == 3);
}

TEST_CASE("LiveQuery: writes that leave the result as it was deliver nothing", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  put(*db, R"({"_id":"a","type":"todo"})");
  put(*db, R"({"_id":"b","type":"todo"})");
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", limit(2), rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));

  SECTION("a document the selector does not match") { put(*db, R"({"_id":"0","type":"note"})"); }
  SECTION("a matching document past the limit (the query runs again, its result is equal)") {
    put(*db, R"({"_id":"z","type":"todo"})");
  }
  SECTION("a local document") { REQUIRE(db->putLocal("_local/x", R"({"type":"todo"})")); }
  // The fence: a document that enters the result first in id order.
  put(*db, R"({"_id":"0todo","type":"todo"})");
  REQUIRE(rec.waitFor(2));
  CHECK(ids(rec.at(1)) == std::vector<std::string>{"0todo", "a"});
  CHECK(rec.count() == 2);
}

TEST_CASE("LiveQuery: a burst of 1,000 writes coalesces into a few results ending in the final one",
          "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", limit(5000), rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));
  CHECK(rec.at(0).docs.empty());
  for (int i = 0; i < 1000; ++i) {
    char json[64];
    snprintf(json, sizeof json, R"({"_id":"t%04d","type":"%s"})", i, i % 2 ? "todo" : "note");
    put(*db, json);
  }
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 500; }));
  LiveResult last = rec.at(rec.count() - 1);
  CHECK(ids(last).front() == "t0001");
  CHECK(ids(last).back() == "t0999");
  size_t deliveries = rec.count() - 1;
  INFO("results delivered for the burst: " << deliveries);
  CHECK(deliveries >= 1);
  CHECK(deliveries <= 100);
  // Each delivered result differs from the one before it.
  for (size_t i = 1; i < rec.count(); ++i) CHECK(rec.at(i).docs != rec.at(i - 1).docs);
}

TEST_CASE("LiveQuery: limit and skip keep the window exact", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  for (const char* id : {"b", "d", "f", "h"}) put(*db, std::string(R"({"_id":")") + id + R"(","k":1})");
  std::string revA = put(*db, R"({"_id":"a","k":1})");
  FindOptions options = limit(2);
  options.skip = 1;
  Recorder rec;
  auto live = db->liveQuery(R"({"k":1})", options, rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));
  CHECK(ids(rec.at(0)) == std::vector<std::string>{"b", "d"});

  // A document leaving the skipped rows shifts the window.
  REQUIRE(db->remove("a", revA));
  REQUIRE(rec.waitFor(2));
  CHECK(ids(rec.at(1)) == std::vector<std::string>{"d", "f"});
  // One entering past the window changes nothing (the fence follows).
  put(*db, R"({"_id":"z","k":1})");
  put(*db, R"({"_id":"c","k":1})");
  REQUIRE(rec.waitFor(3));
  CHECK(ids(rec.at(2)) == std::vector<std::string>{"c", "d"});
  CHECK(rec.count() == 3);
}

TEST_CASE("LiveQuery: a sorted query follows its index order", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  IndexDefinition index;
  index.fields = {{"n", false}};
  REQUIRE(db->createIndex(index));
  put(*db, R"({"_id":"a","n":3})");
  put(*db, R"({"_id":"b","n":1})");
  put(*db, R"({"_id":"c","n":2})");
  FindOptions options = limit(2);
  options.sort = {{"n", true}};
  Recorder rec;
  auto live = db->liveQuery(R"({"n":{"$gt":0}})", options, rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));
  CHECK(ids(rec.at(0)) == std::vector<std::string>{"a", "c"});
  put(*db, R"({"_id":"d","n":0.5})");  // matches, sorts last: nothing
  put(*db, R"({"_id":"e","n":2.5})");
  REQUIRE(rec.waitFor(2));
  CHECK(ids(rec.at(1)) == std::vector<std::string>{"a", "e"});
  CHECK(rec.count() == 2);
}

TEST_CASE("LiveQuery: a deleted document leaves the result", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  put(*db, R"({"_id":"a","type":"todo"})");
  std::string rev = put(*db, R"({"_id":"b","type":"todo"})");
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", {}, rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));
  REQUIRE(db->remove("b", rev));
  REQUIRE(rec.waitFor(2));
  CHECK(ids(rec.at(1)) == std::vector<std::string>{"a"});
}

TEST_CASE("LiveQuery: a purged document leaves the result", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  put(*db, R"({"_id":"a","type":"todo"})");
  std::string rev = put(*db, R"({"_id":"b","type":"todo"})");
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", {}, rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));
  REQUIRE(db::storeOf(*db).purge({{"b", {rev}}}));
  REQUIRE(rec.waitFor(2));
  CHECK(ids(rec.at(1)) == std::vector<std::string>{"a"});
}

TEST_CASE("LiveQuery: a projection without _id still follows edits of its documents", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::string rev = put(*db, R"({"_id":"a","type":"todo","title":"milk"})");
  FindOptions options;
  options.fields = {"title"};
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", options, rec.callback());
  REQUIRE(live);
  REQUIRE(rec.waitFor(1));
  CHECK(rec.at(0).docs == std::vector<std::string>{R"({"title":"milk"})"});
  put(*db, R"({"_id":"a","_rev":")" + rev + R"(","type":"todo","title":"bread"})");
  REQUIRE(rec.waitFor(2));
  CHECK(rec.at(1).docs == std::vector<std::string>{R"({"title":"bread"})"});
}

TEST_CASE("LiveQuery: a bad selector is an error from liveQuery and registers nothing", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::atomic<int> calls{0};
  auto live = db->liveQuery(R"({"a":{"$bogus":1}})", {}, [&](const LiveResult&) { ++calls; });
  REQUIRE_FALSE(live);
  CHECK(live.status().code() == ErrorCode::BadRequest);
  auto notJson = db->liveQuery("{", {}, [&](const LiveResult&) { ++calls; });
  CHECK(notJson.status().code() == ErrorCode::BadRequest);
  // An error only the planner finds comes back the same way: a sort no index serves.
  FindOptions sorted;
  sorted.sort = {{"a", false}};
  auto noIndex = db->liveQuery(R"({"a":{"$gt":0}})", sorted, [&](const LiveResult&) { ++calls; });
  REQUIRE_FALSE(noIndex);
  CHECK(std::string(noIndex.status().error()) == "no_usable_index");
  auto noCallback = db->liveQuery(R"({"a":1})", {}, nullptr);
  CHECK(noCallback.status().code() == ErrorCode::BadRequest);
  // The fence: a good query sees its first result and one write; the bad ones saw nothing.
  Recorder rec;
  auto good = db->liveQuery(R"({"a":1})", {}, rec.callback());
  REQUIRE(good);
  put(*db, R"({"_id":"x","a":1})");
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  CHECK(calls == 0);
}

TEST_CASE("LiveQuery: a result kept up to date change by change equals a fresh find", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  for (const uint64_t lim : {uint64_t{25}, uint64_t{1000}}) {
    DYNAMIC_SECTION("limit " << lim) {
      FindOptions options = limit(lim);
      options.skip = 3;
      Recorder rec;
      auto live = db->liveQuery(R"({"k":{"$lt":5}})", options, rec.callback());
      REQUIRE(live);
      std::map<std::string, std::string> revs;
      uint32_t x = 12345;
      auto next = [&] { return x = x * 1103515245u + 12345u, (x >> 8) % 1000; };
      for (int i = 0; i < 600; ++i) {
        std::string id = "d" + std::to_string(next() % 120);
        int k = static_cast<int>(next() % 10);
        auto it = revs.find(id);
        if (it != revs.end() && next() % 4 == 0) {
          REQUIRE(db->remove(id, it->second));
          revs.erase(it);
          continue;
        }
        std::string json = R"({"_id":")" + id + R"(","k":)" + std::to_string(k);
        if (it != revs.end()) json += R"(,"_rev":")" + it->second + '"';
        revs[id] = put(*db, json + "}");
      }
      std::vector<std::string> expected;
      REQUIRE(db->find(R"({"k":{"$lt":5}})", options, [&](std::string_view doc) {
        expected.emplace_back(doc);
        return true;
      }));
      INFO("expected " << expected.size() << " rows");
      CHECK(rec.waitUntil([&](const LiveResult& r) { return r.docs == expected; }));
    }
  }
}

TEST_CASE("LiveQuery: under concurrent writers every query ends on the result a fresh find gives",
          "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  // Patched rows, re-runs of a projection, and a window the limit truncates.
  FindOptions projected = limit(1000);
  projected.fields = {"k", "w"};
  const std::vector<std::pair<std::string, FindOptions>> queries = {{R"({"k":{"$lt":5}})", limit(1000)},
                                                                    {R"({"k":{"$gte":3}})", projected},
                                                                    {R"({"k":{"$lt":8}})", limit(10)}};
  std::vector<std::unique_ptr<Recorder>> recs;
  std::vector<std::unique_ptr<LiveQuery>> lives;
  for (const auto& [selector, options] : queries) {
    recs.push_back(std::make_unique<Recorder>());
    auto q = db->liveQuery(selector, options, recs.back()->callback());
    REQUIRE(q);
    lives.push_back(std::move(*q));
  }
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      uint32_t x = 7919u * (w + 1);
      auto next = [&] { return x = x * 1103515245u + 12345u, (x >> 8) % 1000; };
      for (int i = 0; i < 250; ++i) {
        std::string id = "d" + std::to_string(next() % 80);
        // Read, then edit or delete; a conflict with another writer is expected and skipped.
        auto cur = db->get(id);
        std::string rev = cur ? Json(*cur).str("_rev") : "";
        if (!rev.empty() && next() % 5 == 0) {
          (void)db->remove(id, rev);
          continue;
        }
        std::string json = R"({"_id":")" + id + R"(","k":)" + std::to_string(next() % 10) + R"(,"w":)" +
                           std::to_string(w) + (rev.empty() ? "" : R"(,"_rev":")" + rev + '"') + "}";
        auto r = db->put(json);
        if (!r && r.status().code() != ErrorCode::Conflict) ++failures;
      }
    });
  }
  for (auto& t : writers) t.join();
  CHECK(failures == 0);
  for (size_t i = 0; i < queries.size(); ++i) {
    std::vector<std::string> expected;
    REQUIRE(db->find(queries[i].first, queries[i].second, [&](std::string_view doc) {
      expected.emplace_back(doc);
      return true;
    }));
    INFO("query " << i << ": " << expected.size() << " rows expected");
    CHECK(recs[i]->waitUntil([&](const LiveResult& r) { return r.docs == expected; }));
  }
}
