// The checkpointer alone, over two real databases: a checkpoint names only a sequence below which every
// batch is written, however the workers' batches finish.
#include "replicator/checkpointer.h"

#include <catch2/catch.hpp>

#include "replicator/local_endpoint.h"
#include "test_util.h"

using namespace settee;
using namespace settee::repl;
using settee::test::Json;
using settee::test::TempDir;

namespace {

std::shared_ptr<Database> openDb(const TempDir& dir, const std::string& name) {
  auto db = Database::open(dir.file(name + ".settee"), name);
  REQUIRE(db);
  return std::shared_ptr<Database>(std::move(*db));
}

struct NoTrouble : TroubleObserver {
  void beginTrouble(const Status&) override {}
  void endTrouble(bool) override {}
};

// The source_last_seq recorded in `side`'s checkpoint, or "" when it has none.
std::string recorded(Endpoint& side, const std::string& localId) {
  auto doc = side.getLocal(localId);
  REQUIRE(doc);
  if (!*doc) return "";
  return simdjson::minify(Json(**doc)["source_last_seq"]);
}

}  // namespace

TEST_CASE(
    "SequenceTracker: advances only to the lowest fully written sequence when batches finish out of order",
    "[repl][checkpoint]") {
  SequenceTracker t("5");
  CHECK(t.safeSeq() == "5");
  t.written(2, "30");
  t.written(1, "20");
  CHECK(t.safeSeq() == "5");  // batch 0 is still in flight: nothing after 5 is known written
  CHECK(t.waiting() == 2);
  t.written(0, "10");
  CHECK(t.safeSeq() == "30");  // 0, 1 and 2 are all written
  CHECK(t.waiting() == 0);
  t.written(4, "50");
  CHECK(t.safeSeq() == "30");
  t.written(3, "40");
  CHECK(t.safeSeq() == "50");
  t.written(1, "20");  // counted already: never moves the sequence back
  CHECK(t.safeSeq() == "50");
}

TEST_CASE(
    "Checkpointer: records on both sides only what every earlier batch has written, and resumes from it",
    "[repl][checkpoint]") {
  TempDir dir;
  LocalEndpoint source(openDb(dir, "src")), target(openDb(dir, "dst"));
  StopSignal stop;
  NoTrouble observer;
  RetryPolicy retry(0, stop, observer);
  Progress progress;
  const std::string localId = "_local/abc";
  {
    Checkpointer cp(source, target, retry, progress, true);
    auto since = cp.resume("abc");
    REQUIRE(since);
    CHECK(*since == "0");  // no checkpoint anywhere yet
    cp.start(*since);

    cp.batchWritten(1, "20");
    auto wrote = cp.record(false);
    REQUIRE(wrote);
    CHECK_FALSE(*wrote);  // batch 0 in flight: nothing is safe past the start
    CHECK(recorded(target, localId).empty());

    cp.batchWritten(0, "10");
    wrote = cp.record(false);
    REQUIRE(wrote);
    CHECK(*wrote);
    CHECK(recorded(source, localId) == "20");
    CHECK(recorded(target, localId) == "20");
    CHECK(progress.snapshot().endLastSeq == "20");

    wrote = cp.record(false);
    REQUIRE(wrote);
    CHECK_FALSE(*wrote);  // nothing new since
    wrote = cp.record(true);
    REQUIRE(wrote);
    CHECK(*wrote);  // forced: written again (a replication's end)
  }
  Checkpointer next(source, target, retry, progress, true);
  auto since = next.resume("abc");
  REQUIRE(since);
  CHECK(*since == "20");
}

TEST_CASE("Checkpointer: with checkpoints off nothing is read or written", "[repl][checkpoint]") {
  TempDir dir;
  LocalEndpoint source(openDb(dir, "src")), target(openDb(dir, "dst"));
  StopSignal stop;
  NoTrouble observer;
  RetryPolicy retry(0, stop, observer);
  Progress progress;
  Checkpointer cp(source, target, retry, progress, false);
  auto since = cp.resume("abc");
  REQUIRE(since);
  CHECK(*since == "0");
  cp.start("0");
  cp.batchWritten(0, "10");
  auto wrote = cp.record(true);
  REQUIRE(wrote);
  CHECK_FALSE(*wrote);
  CHECK(recorded(target, "_local/abc").empty());
}
