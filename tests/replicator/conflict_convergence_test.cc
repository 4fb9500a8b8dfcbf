// Two devices resolving the same conflict with the same policy converge, through a third peer, to the
// same revision tree without ping-pong: local databases A, B and P replicating in this process, the
// resolutions racing in several interleavings.
#include <catch2/catch.hpp>
#include <functional>
#include <map>

#include "conflict_test_support.h"
#include "settee/database.h"
#include "settee/replicator.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;
using settee::test::conflict_support::tree;

namespace {

std::shared_ptr<Database> openDb(const TempDir& dir, const std::string& name) {
  auto db = Database::open(dir.file(name + ".settee"), name);
  REQUIRE(db);
  return std::shared_ptr<Database>(std::move(*db));
}

void replicate(const std::shared_ptr<Database>& from, const std::shared_ptr<Database>& to) {
  REQUIRE(Replication(ReplicationPeer::local(from), ReplicationPeer::local(to)).run().isOk());
}

uint64_t seqOf(Database& db) { return db.info()->updateSeq; }

struct Devices {
  TempDir dir;
  std::shared_ptr<Database> a = openDb(dir, "a"), b = openDb(dir, "b"), p = openDb(dir, "p");

  // One device's sync with the peer: push, then pull.
  void sync(const std::shared_ptr<Database>& device) {
    replicate(device, p);
    replicate(p, device);
  }
  // A common base everywhere, then an offline edit on each device, then both exchange through P so each
  // sees the conflict.
  void conflict(const std::string& base, const std::string& onA, const std::string& onB) {
    auto put = a->put(base);
    REQUIRE(put);
    sync(a);
    sync(b);
    Json baseDoc(*a->get("d"));
    auto edit = [&](Database& db, const std::string& members) {
      std::string json = R"({"_id":"d","_rev":")" + baseDoc.str("_rev") + "\"," + members + "}";
      REQUIRE(db.put(json));
    };
    edit(*a, onA);
    edit(*b, onB);
    sync(a);
    sync(b);
    sync(a);
    for (auto* db : {a.get(), b.get(), p.get()}) REQUIRE(db->conflicts("d")->size() == 1);
  }
  ConflictResolution resolve(Database& db, const ConflictPolicy& policy) {
    auto r = db.resolveConflict("d", policy);
    REQUIRE(r);
    return *r;
  }
  // Every side has the same tree, no live conflict, and one more round of syncs and resolutions
  // writes nothing anywhere.
  void checkConverged(const ConflictPolicy& policy) {
    sync(a);
    sync(b);
    sync(a);
    std::string t = tree(*a, "d");
    CHECK(tree(*b, "d") == t);
    CHECK(tree(*p, "d") == t);
    for (auto* db : {a.get(), b.get(), p.get()}) {
      CHECK(db->conflicts("d")->empty());
      CHECK(*db->get("d") == *a->get("d"));
    }
    uint64_t sa = seqOf(*a), sb = seqOf(*b), sp = seqOf(*p);
    for (auto* db : {a.get(), b.get(), p.get()}) CHECK_FALSE(db->resolveConflict("d", policy)->resolved);
    sync(a);
    sync(b);
    sync(a);
    CHECK(seqOf(*a) == sa);
    CHECK(seqOf(*b) == sb);
    CHECK(seqOf(*p) == sp);
  }
};

// The interleavings of two devices resolving: each names what happens, in order.
enum class Race { BothBeforeExchange, AThenBAfterArrival, APushesThenBResolvesBeforePull, AllThreeResolve };

void run(Race race, const ConflictPolicy& policy, const std::string& base, const std::string& onA,
         const std::string& onB, const std::function<void(Database&)>& checkWinner) {
  Devices d;
  d.conflict(base, onA, onB);
  switch (race) {
    case Race::BothBeforeExchange: {
      auto ra = d.resolve(*d.a, policy), rb = d.resolve(*d.b, policy);
      CHECK(ra.resolved);
      CHECK(rb.resolved);
      CHECK(ra.rev == rb.rev);  // the same revision written on both, independently
      CHECK(ra.deleted == rb.deleted);
      CHECK(ra.deleted.size() == 1);
      break;
    }
    case Race::AThenBAfterArrival:
      CHECK(d.resolve(*d.a, policy).resolved);
      d.sync(d.a);
      d.sync(d.b);
      CHECK_FALSE(d.resolve(*d.b, policy).resolved);  // the resolution arrived: nothing left to do
      break;
    case Race::APushesThenBResolvesBeforePull:
      CHECK(d.resolve(*d.a, policy).resolved);
      replicate(d.a, d.p);
      CHECK(d.resolve(*d.b, policy).resolved);
      replicate(d.b, d.p);
      break;
    case Race::AllThreeResolve:
      CHECK(d.resolve(*d.p, policy).resolved);
      CHECK(d.resolve(*d.b, policy).resolved);
      CHECK(d.resolve(*d.a, policy).resolved);
      break;
  }
  d.checkConverged(policy);
  checkWinner(*d.a);
}

const Race kRaces[] = {Race::BothBeforeExchange, Race::AThenBAfterArrival,
                       Race::APushesThenBResolvesBeforePull, Race::AllThreeResolve};

}  // namespace

TEST_CASE("Conflict convergence: last-write-wins on two devices racing converges on the latest edit",
          "[repl][conflict]") {
  for (Race race : kRaces) {
    INFO(static_cast<int>(race));
    run(race, ConflictPolicy::lastWriteWins("updated_at"),
        R"({"_id":"d","v":"base","updated_at":"2026-01-01T00:00:00Z"})",
        R"("v":"from a","updated_at":"2026-01-02T00:00:00Z")",
        R"("v":"from b","updated_at":"2026-01-03T00:00:00Z")", [](Database& db) {
          Json doc(*db.get("d"));
          CHECK(doc.str("v") == "from b");
        });
  }
}

TEST_CASE("Conflict convergence: a merge of edits to different fields converges on both edits",
          "[repl][conflict]") {
  for (Race race : kRaces) {
    INFO(static_cast<int>(race));
    run(race, ConflictPolicy::merge(), R"({"_id":"d","title":"base","count":0,"tags":["x"]})",
        R"("title":"a's title","count":0,"tags":["x"])", R"("title":"base","count":7,"tags":["x","y"])",
        [](Database& db) {
          Json doc(*db.get("d"));
          CHECK(doc.str("title") == "a's title");
          CHECK(int64_t(doc["count"]) == 7);
          CHECK(simdjson::dom::array(doc["tags"]).size() == 2);
        });
  }
}

TEST_CASE("Conflict convergence: merge:lww decides a field both changed by the timestamp",
          "[repl][conflict]") {
  for (Race race : kRaces) {
    INFO(static_cast<int>(race));
    run(race, ConflictPolicy::merge(ConflictPolicy::BothChanged::LastWriteWins, "t"),
        R"({"_id":"d","title":"base","note":"","t":0})", R"("title":"a","note":"from a","t":2)",
        R"("title":"b","note":"","t":1)", [](Database& db) {
          Json doc(*db.get("d"));
          CHECK(doc.str("title") == "a");
          CHECK(doc.str("note") == "from a");
          CHECK(int64_t(doc["t"]) == 2);
        });
  }
}

TEST_CASE("Conflict convergence: a deterministic custom resolver converges too", "[repl][conflict]") {
  // Sums the leaves' counters: a body none of the leaves had, built from values only.
  auto sum = ConflictPolicy::custom([](const ConflictInput& in) {
    int64_t total = 0;
    for (const auto& leaf : in.leaves) total += int64_t(Json(leaf.json)["n"]);
    return ConflictDecision::merged(R"({"n":)" + std::to_string(total) + "}");
  });
  for (Race race : kRaces) {
    INFO(static_cast<int>(race));
    run(race, sum, R"({"_id":"d","n":1})", R"("n":2)", R"("n":3)", [](Database& db) {
      Json doc(*db.get("d"));
      CHECK(int64_t(doc["n"]) == 5);
    });
  }
}

TEST_CASE(
    "Conflict convergence: an edit of a resolved-away leaf racing the resolution makes a new conflict that "
    "every device resolves the same way",
    "[repl][conflict]") {
  auto lww = ConflictPolicy::lastWriteWins("t");
  Devices d;
  d.conflict(R"({"_id":"d","v":"base","t":1})", R"("v":"a","t":2)", R"("v":"b","t":3)");
  // A resolves: B's leaf (t=3) wins, A's own leaf is deleted.
  std::string aLeaf;
  auto leaves = d.a->getOpenRevs("d", {});
  REQUIRE(leaves);
  for (auto& leaf : *leaves) {
    if (Json(leaf.json).str("v") == "a") aLeaf = leaf.rev;
  }
  REQUIRE(d.resolve(*d.a, lww).resolved);
  // Meanwhile B, which has not heard of it, edits that very leaf (the later write of all).
  REQUIRE(d.b->put(R"({"_id":"d","_rev":")" + aLeaf + R"(","v":"a edited on b","t":4})"));
  // Each device resolves whatever it has after each sync, until nothing changes.
  for (int round = 0; round < 3; ++round) {
    d.sync(d.a);
    d.sync(d.b);
    for (auto* db : {d.a.get(), d.b.get(), d.p.get()}) REQUIRE(db->resolveConflict("d", lww));
  }
  d.checkConverged(lww);
  CHECK(Json(*d.a->get("d")).str("v") == "a edited on b");
}

TEST_CASE(
    "Conflict convergence: a merge keeps an attachment added on one device and a field edited on the other",
    "[repl][conflict]") {
  for (Race race : kRaces) {
    INFO(static_cast<int>(race));
    run(race, ConflictPolicy::merge(), R"({"_id":"d","title":"base","n":0})", R"("title":"renamed","n":0)",
        R"("title":"base","n":0,"_attachments":{"photo.jpg":{"content_type":"image/jpeg","data":"cGhvdG8="}})",
        [](Database& db) {
          CHECK(Json(*db.get("d")).str("title") == "renamed");
          auto photo = db.getAttachment("d", "photo.jpg");
          REQUIRE(photo);
          CHECK(photo->data == "photo");
        });
  }
}
