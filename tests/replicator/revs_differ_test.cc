// The revs differ alone, and the rule that lets a pull into an empty target skip `_revs_diff`.
#include "replicator/revs_differ.h"

#include <catch2/catch.hpp>

#include "replicator/hostile_replication.h"
#include "replicator/local_endpoint.h"
#include "settee/replicator.h"
#include "test_util.h"

using namespace settee;
using namespace settee::repl;
using settee::test::openDb;
using settee::test::TempDir;

namespace {

struct NoTrouble : TroubleObserver {
  void beginTrouble(const Status&) override {}
  void endTrouble(bool) override {}
};

}  // namespace

TEST_CASE("RevsDiffer: only an update_seq of 0 means a database was never written", "[repl][revsdiff]") {
  const std::pair<const char*, bool> table[] = {
      {"0", true},       {"\"0\"", true}, {"\"0-g1AAAAFTeJzLYWBg\"", true},
      {"1", false},      {"10", false},   {"\"12-g1AAAA\"", false},
      {"\"01\"", false}, {"", false},     {"null", false},
  };
  for (auto [seq, empty] : table) {
    INFO(seq);
    CHECK(neverWritten(seq) == empty);
  }
}

TEST_CASE(
    "RevsDiffer: asks the target, or when told the target is empty, calls every leaf missing without asking",
    "[repl][revsdiff]") {
  TempDir dir;
  auto db = openDb(dir, "dst");
  auto put = db->put(R"({"_id":"a","v":1})");
  REQUIRE(put);
  LocalEndpoint target(db);
  StopSignal stop;
  NoTrouble observer;
  RetryPolicy retry(0, stop, observer);
  Progress progress;
  RevsDiffer differ(target, retry, progress);
  auto rows = [&] {
    return std::vector<ChangeRow>{{"1", "a", {put->rev}, false}, {"2", "b", {"1-abc", "1-def"}, false}};
  };

  auto asked = differ.diff(rows(), false);
  REQUIRE(asked);
  REQUIRE(asked->size() == 1);  // the target has a's revision
  CHECK((*asked)[0].id == "b");
  CHECK((*asked)[0].missing.size() == 2);

  // Told the target is empty, nothing is asked: even the revision it has is called missing, which a
  // new_edits=false write then ignores.
  auto assumed = differ.diff(rows(), true);
  REQUIRE(assumed);
  REQUIRE(assumed->size() == 2);
  CHECK((*assumed)[0].id == "a");
  CHECK((*assumed)[0].missing == std::vector<std::string>{put->rev});
  CHECK((*assumed)[0].possibleAncestors.empty());
  CHECK((*assumed)[1].missing == std::vector<std::string>{"1-abc", "1-def"});

  auto stats = progress.snapshot();
  CHECK(stats.missingChecked == 6);
  CHECK(stats.missingFound == 5);
}

TEST_CASE(
    "Replication: a pull into an empty target skips revs_diff on its first pass and still copies everything "
    "once",
    "[repl][revsdiff]") {
  TempDir dir;
  auto source = openDb(dir, "src");
  for (int i = 0; i < 30; ++i) REQUIRE(source->put(R"({"_id":"d)" + std::to_string(i) + R"("})"));
  auto target = openDb(dir, "dst");
  ReplicationOptions small;
  small.batchSize = 7;  // several batches, handled by several workers
  Replication first(ReplicationPeer::local(source), ReplicationPeer::local(target), small);
  REQUIRE(first.run().isOk());
  CHECK(first.stats().docsWritten == 30);
  CHECK(first.stats().missingFound == 30);
  CHECK(target->info()->docCount == 30);

  // The target is no longer empty: a new replication (no checkpoint: from 0) asks, and sends nothing.
  ReplicationOptions fresh = small;
  fresh.useCheckpoints = false;
  Replication again(ReplicationPeer::local(source), ReplicationPeer::local(target), fresh);
  REQUIRE(again.run().isOk());
  CHECK(again.stats().missingChecked == 30);
  CHECK(again.stats().missingFound == 0);
  CHECK(again.stats().docsWritten == 0);
}

TEST_CASE("Replication: a push asks a remote target's _revs_diff only when that target was written before",
          "[repl][revsdiff]") {
  auto passThrough = [](const test::PeerRequest&, test::PeerConnection&) { return false; };
  {
    test::FakeCouch empty({});
    test::HostilePeer peer(test::breaking(empty, passThrough));
    auto out = test::push(peer);
    REQUIRE(out.status.isOk());
    CHECK(peer.count("/db/_revs_diff") == 0);
    CHECK(peer.count("/db/_bulk_docs") == 1);
  }
  {
    test::FakeCouch written({{"other", {test::kHashA}, 0, ""}});
    test::HostilePeer peer(test::breaking(written, passThrough));
    auto out = test::push(peer);
    REQUIRE(out.status.isOk());
    CHECK(peer.count("/db/_revs_diff") == 1);
  }
}
