// Live queries (Database::liveQuery) on real SQLite files: what is delivered, when, and on which thread.
//
// Absence of a delivery is proven with a fence: after the write that must deliver nothing, a write that
// must deliver something, then a check that exactly one more result arrived and that it is the fence's.
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "db/database_internal.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto db = Database::open(dir.file("db.settee"), "db");
  REQUIRE(db);
  return std::move(*db);
}

// Collects the results a live query delivers and the threads they came on.
class Recorder {
 public:
  std::function<void(const LiveResult&)> callback() {
    return [this](const LiveResult& r) {
      std::lock_guard lock(mu_);
      results_.push_back(r);
      threads_.push_back(std::this_thread::get_id());
      cv_.notify_all();
    };
  }
  // Waits until `n` results have arrived; false after kWait.
  bool waitFor(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return results_.size() >= n; });
  }
  // Waits until the last result satisfies `pred`.
  bool waitUntil(const std::function<bool(const LiveResult&)>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return !results_.empty() && pred(results_.back()); });
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return results_.size();
  }
  LiveResult at(size_t i) {
    std::lock_guard lock(mu_);
    return results_.at(i);
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<LiveResult> results_;
  std::vector<std::thread::id> threads_;
};

// The `_id`s of a result, in order.
std::vector<std::string> ids(const LiveResult& r) {
  std::vector<std::string> out;
  for (const auto& doc : r.docs) out.push_back(Json(doc).str("_id"));
  return out;
}

std::string put(Database& db, const std::string& json) {
  auto r = db.put(json);
  REQUIRE(r);
  return r->rev;
}

FindOptions limit(uint64_t n) {
  FindOptions o;
  o.limit = n;
  return o;
}

}  // namespace

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

TEST_CASE("LiveQuery: callbacks never run on the writer's thread", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  Recorder rec;
  auto live = db->liveQuery(R"({"type":"todo"})", limit(100), rec.callback());
  REQUIRE(live);
  std::thread::id writer;
  std::thread t([&] {
    writer = std::this_thread::get_id();
    for (int i = 0; i < 20; ++i) put(*db, R"({"_id":"w)" + std::to_string(i) + R"(","type":"todo"})");
  });
  t.join();
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 20; }));
  auto threads = rec.threads();
  for (auto id : threads) {
    CHECK(id != writer);
    CHECK(id != std::this_thread::get_id());
    CHECK(id == threads.front());  // one at a time, from the database's worker
  }
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

TEST_CASE("LiveQuery: destroying a handle waits for its running callback and stops the next ones",
          "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, release = false;
  std::atomic<int> calls{0}, running{0};
  auto live = db->liveQuery(R"({"type":"todo"})", {}, [&](const LiveResult&) {
    ++running;
    ++calls;
    std::unique_lock lock(mu);
    inside = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    --running;
  });
  REQUIRE(live);
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, kWait, [&] { return inside; }));
  }
  // The first callback is blocked; destroy the handle from another thread while it runs.
  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    live->reset();
    destroyed = true;
  });
  // The destructor cannot return while the callback runs: let it run a little, then release it.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(destroyed);
  {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  }
  destroyer.join();
  CHECK(destroyed);
  CHECK(running == 0);
  // Later writes deliver nothing to it (the fence: another query sees them).
  Recorder rec;
  auto other = db->liveQuery(R"({"type":"todo"})", {}, rec.callback());
  REQUIRE(other);
  put(*db, R"({"_id":"a","type":"todo"})");
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  CHECK(calls == 1);
}

TEST_CASE("LiveQuery: a callback may destroy its own handle", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::unique_ptr<LiveQuery> self;
  std::mutex mu;
  std::atomic<int> calls{0};
  Recorder first;
  auto live = db->liveQuery(R"({"type":"todo"})", {}, [&](const LiveResult& r) {
    ++calls;
    first.callback()(r);
    if (!r.docs.empty()) {
      std::lock_guard lock(mu);
      self.reset();  // unregisters from inside its own callback: must not wait for itself
    }
  });
  REQUIRE(live);
  {
    std::lock_guard lock(mu);
    self = std::move(*live);
  }
  Recorder rec;
  auto fence = db->liveQuery(R"({"type":"todo"})", {}, rec.callback());
  REQUIRE(fence);
  REQUIRE(first.waitFor(1));
  put(*db, R"({"_id":"a","type":"todo"})");
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  put(*db, R"({"_id":"b","type":"todo"})");
  REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 2; }));
  // Deliveries run one at a time in a pass: the self-destroyed query was called for `a`, then never.
  CHECK(calls == 2);
  std::lock_guard lock(mu);
  CHECK(self == nullptr);
}

TEST_CASE("LiveQuery: a callback may write to the database and register queries", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  Recorder inner;
  std::unique_ptr<LiveQuery> registered;
  std::atomic<bool> done{false}, registeredOk{false}, wroteOk{false};
  auto live = db->liveQuery(R"({"type":"order"})", {}, [&](const LiveResult& r) {
    if (r.docs.empty() || done.exchange(true)) return;
    // Registered from the worker: its first result (empty) is computed here, on the worker.
    auto q = db->liveQuery(R"({"type":"log"})", {}, inner.callback());
    registeredOk = bool(q);
    if (q) registered = std::move(*q);
    // A write from the worker: its listener wakes the worker itself, whose next pass delivers it.
    wroteOk = bool(db->put(R"({"_id":"log1","type":"log"})"));
  });
  REQUIRE(live);
  put(*db, R"({"_id":"o1","type":"order"})");
  REQUIRE(inner.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  CHECK(registeredOk);
  CHECK(wroteOk);
  CHECK(ids(inner.at(inner.count() - 1)) == std::vector<std::string>{"log1"});
}

TEST_CASE("LiveQuery: several queries are served by one worker, each told only of its own changes",
          "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::vector<std::unique_ptr<Recorder>> recs;
  std::vector<std::unique_ptr<LiveQuery>> lives;
  for (int i = 0; i < 5; ++i) {
    recs.push_back(std::make_unique<Recorder>());
    auto q = db->liveQuery(R"({"list":)" + std::to_string(i) + "}", {}, recs.back()->callback());
    REQUIRE(q);
    lives.push_back(std::move(*q));
  }
  for (auto& r : recs) REQUIRE(r->waitFor(1));
  put(*db, R"({"_id":"x","list":3})");
  REQUIRE(recs[3]->waitFor(2));
  // The fence for the other lists: one write to each.
  for (int i : {0, 1, 2, 4})
    put(*db, R"({"_id":"y)" + std::to_string(i) + R"(","list":)" + std::to_string(i) + "}");
  for (int i : {0, 1, 2, 4}) {
    REQUIRE(recs[i]->waitFor(2));
    CHECK(recs[i]->count() == 2);
  }
  CHECK(recs[3]->count() == 2);
}

TEST_CASE("LiveQuery: closing the database with live queries registered is clean", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  std::atomic<bool> closed{false};
  std::atomic<int> afterClose{0};
  std::vector<std::unique_ptr<LiveQuery>> handles;
  Recorder rec;
  for (int i = 0; i < 3; ++i) {
    auto q = db->liveQuery(R"({"type":"todo"})", limit(1000), [&, i](const LiveResult& r) {
      if (closed) ++afterClose;
      if (i == 0) rec.callback()(r);
    });
    REQUIRE(q);
    handles.push_back(std::move(*q));
  }
  // Writers keep the worker busy while the database closes.
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) put(*db, R"({"_id":"t)" + std::to_string(i) + R"(","type":"todo"})");
  });
  writer.join();
  REQUIRE(rec.waitFor(2));
  db.reset();
  closed = true;
  // The handles outlive their database: destroying them touches nothing of it.
  handles.clear();
  CHECK(afterClose == 0);
}

TEST_CASE("LiveQuery: the worker stops with the last handle and starts again with the next", "[db][live]") {
  TempDir dir;
  auto db = openDb(dir);
  for (int round = 0; round < 3; ++round) {
    Recorder rec;
    auto live = db->liveQuery(R"({"r":)" + std::to_string(round) + "}", {}, rec.callback());
    REQUIRE(live);
    put(*db, R"({"_id":"r)" + std::to_string(round) + R"(","r":)" + std::to_string(round) + "}");
    REQUIRE(rec.waitUntil([](const LiveResult& r) { return r.docs.size() == 1; }));
  }
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
