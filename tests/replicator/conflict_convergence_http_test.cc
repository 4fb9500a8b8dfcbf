// Convergence over HTTP: two devices (local databases) sync through a `settee serve` node that, when
// configured, resolves conflicts itself with the same policy ([conflict_policy]) — three resolvers
// racing. Every side ends with the same tree, winner and body, and more sync rounds write nothing.
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <thread>

#include "conflict_test_support.h"
#include "live_server.h"
#include "settee/database.h"
#include "settee/replicator.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::TempDir;
using settee::test::conflict_support::tree;

namespace {

std::shared_ptr<Database> openDb(const TempDir& dir, const std::string& name) {
  auto db = Database::open(dir.file(name + ".settee"), name);
  REQUIRE(db);
  return std::shared_ptr<Database>(std::move(*db));
}

struct Network {
  TempDir dir;
  LiveServer node;
  std::string url;
  std::shared_ptr<Database> a = openDb(dir, "a"), b = openDb(dir, "b");

  explicit Network(const std::string& nodePolicy)
      : node(nodePolicy.empty() ? std::string() : "[conflict_policy]\np = " + nodePolicy + "\n") {
    REQUIRE(node("PUT", "/p").status == 201);
    url = "http://127.0.0.1:" + std::to_string(node.port()) + "/p";
  }
  void sync(const std::shared_ptr<Database>& device) {
    REQUIRE(Replication(ReplicationPeer::local(device), ReplicationPeer::remote(url)).run().isOk());
    REQUIRE(Replication(ReplicationPeer::remote(url), ReplicationPeer::local(device)).run().isOk());
  }
  int64_t nodeSeq() {
    auto info = node("GET", "/p");
    REQUIRE(info.status == 200);
    return int64_t(Json(info.body)["update_seq"]);
  }
  // Waits until the node's service is done: its update_seq unchanged for 300 ms (at most 10 s).
  void settle() {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int64_t last = nodeSeq();
    for (int quiet = 0; quiet < 3 && std::chrono::steady_clock::now() < until;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      int64_t now = nodeSeq();
      quiet = now == last ? quiet + 1 : 0;
      last = now;
    }
  }
  // The node's tree of `d`, seen by pulling it whole into a fresh database.
  std::string nodeTree() {
    auto copy = openDb(dir, "copy" + std::to_string(++copies));
    REQUIRE(Replication(ReplicationPeer::remote(url), ReplicationPeer::local(copy)).run().isOk());
    return tree(*copy, "d");
  }
  int copies = 0;
};

void run(const std::string& nodePolicy, const ConflictPolicy& policy, const std::string& base,
         const std::string& onA, const std::string& onB, const std::function<void(Database&)>& checkWinner) {
  Network n(nodePolicy);
  REQUIRE(n.a->put(base));
  n.sync(n.a);
  n.sync(n.b);
  std::string baseRev = Json(*n.a->get("d")).str("_rev");
  REQUIRE(n.a->put(R"({"_id":"d","_rev":")" + baseRev + "\"," + onA + "}"));
  REQUIRE(n.b->put(R"({"_id":"d","_rev":")" + baseRev + "\"," + onB + "}"));
  // A pushes, B pushes (the node may resolve at once), each resolves what it has before and after pulling.
  n.sync(n.a);
  CHECK(n.b->resolveConflict("d", policy));
  n.sync(n.b);
  CHECK(n.b->resolveConflict("d", policy));
  CHECK(n.a->resolveConflict("d", policy));
  n.sync(n.a);
  CHECK(n.a->resolveConflict("d", policy));
  n.sync(n.b);
  n.sync(n.a);
  // Let the node's service finish whatever it was woken for.
  n.settle();
  n.sync(n.b);
  n.sync(n.a);

  std::string t = tree(*n.a, "d");
  CHECK(tree(*n.b, "d") == t);
  CHECK(n.nodeTree() == t);
  CHECK(n.a->conflicts("d")->empty());
  CHECK(*n.b->get("d") == *n.a->get("d"));
  checkWinner(*n.a);

  uint64_t sa = n.a->info()->updateSeq, sb = n.b->info()->updateSeq;
  int64_t sp = n.nodeSeq();
  for (int round = 0; round < 2; ++round) {
    CHECK_FALSE(n.a->resolveConflict("d", policy)->resolved);
    CHECK_FALSE(n.b->resolveConflict("d", policy)->resolved);
    n.sync(n.a);
    n.sync(n.b);
  }
  n.settle();
  CHECK(n.a->info()->updateSeq == sa);
  CHECK(n.b->info()->updateSeq == sb);
  CHECK(n.nodeSeq() == sp);
}

}  // namespace

TEST_CASE("Conflict convergence over HTTP: lww on two devices and on the node", "[repl][conflict][live]") {
  run("lww:updated_at", ConflictPolicy::lastWriteWins("updated_at"),
      R"({"_id":"d","v":"base","updated_at":"2026-01-01T00:00:00Z"})",
      R"("v":"from a","updated_at":"2026-01-03T00:00:00Z")",
      R"("v":"from b","updated_at":"2026-01-02T00:00:00Z")",
      [](Database& db) { CHECK(Json(*db.get("d")).str("v") == "from a"); });
}

TEST_CASE("Conflict convergence over HTTP: merge on two devices and on the node, an attachment added on one",
          "[repl][conflict][live]") {
  run("merge", ConflictPolicy::merge(), R"({"_id":"d","title":"base","count":0})",
      R"("title":"renamed","count":0)",
      R"("title":"base","count":4,"_attachments":{"photo.jpg":{"content_type":"image/jpeg","data":"cGhvdG8="}})",
      [](Database& db) {
        Json doc(*db.get("d"));
        CHECK(doc.str("title") == "renamed");
        CHECK(int64_t(doc["count"]) == 4);
        auto photo = db.getAttachment("d", "photo.jpg");
        REQUIRE(photo);
        CHECK(photo->data == "photo");
      });
}

TEST_CASE("Conflict convergence over HTTP: a custom resolver on the devices, the node keeping conflicts",
          "[repl][conflict][live]") {
  auto sum = ConflictPolicy::custom([](const ConflictInput& in) {
    int64_t total = 0;
    for (const auto& leaf : in.leaves) total += int64_t(Json(leaf.json)["n"]);
    return ConflictDecision::merged(R"({"n":)" + std::to_string(total) + "}");
  });
  run("", sum, R"({"_id":"d","n":1})", R"("n":2)", R"("n":3)",
      [](Database& db) { CHECK(int64_t(Json(*db.get("d"))["n"]) == 5); });
}
