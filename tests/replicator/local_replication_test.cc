// Replication between databases in this process (the LocalEndpoint), which exercises the whole
// coordinator — changes, revs_diff, fetch, write, checkpoints — without a network.
#include <catch2/catch.hpp>
#include <map>
#include <atomic>
#include <thread>

#include "settee/database.h"
#include "settee/replicator.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {

std::shared_ptr<Database> openDb(const TempDir& dir, const std::string& name) {
  auto db = Database::open(dir.file(name + ".settee"), name);
  REQUIRE(db);
  return std::shared_ptr<Database>(std::move(*db));
}

// Every document's full state: each leaf with its history and body, winner and conflicts.
std::map<std::string, std::string> snapshot(Database& db) {
  std::map<std::string, std::string> out;
  std::vector<std::string> ids;  // collected first: a changes() callback must not call the Database
  auto scanned = db.changes({}, [&](const Change& c) {
    ids.push_back(c.id);
    return true;
  });
  REQUIRE(scanned);
  for (const auto& id : ids) {
    ReadOptions opts;
    opts.revs = true;
    opts.conflicts = true;
    opts.deletedConflicts = true;
    auto leaves = db.getOpenRevs(id, {}, opts);
    std::string all;
    for (auto& l : *leaves) all += l.json + "\n";
    out[id] = all;
  }
  return out;
}

void fill(Database& db) {
  for (int i = 0; i < 1200; ++i) REQUIRE(db.put(R"({"_id":"doc)" + std::to_string(i) + R"(","i":)" + std::to_string(i) + "}"));
  auto r = db.put(R"({"_id":"edited","v":1})");
  (void)db.put(R"({"_id":"edited","_rev":")" + r->rev + R"(","v":2})");
  auto d = db.put(R"({"_id":"gone"})");
  (void)db.remove("gone", d->rev);
  (void)db.bulkDocs({R"({"_id":"conflicted","_rev":"2-aaa","_revisions":{"start":2,"ids":["aaa","root"]},"side":1})",
                     R"({"_id":"conflicted","_rev":"2-bbb","_revisions":{"start":2,"ids":["bbb","root"]},"side":2})"},
                    {.newEdits = false});
  (void)db.put(R"({"_id":"_design/app","views":{}})");
  (void)db.put(R"({"_id":"att","_attachments":{"a.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})");
  (void)db.putLocal("private", R"({"secret":true})");
}

}  // namespace

TEST_CASE("Replication: a local pull copies every revision tree, deletion, conflict and attachment", "[repl]") {
  TempDir dir;
  auto source = openDb(dir, "source"), target = openDb(dir, "target");
  fill(*source);
  Replication rep(ReplicationPeer::local(source), ReplicationPeer::local(target));
  REQUIRE(rep.run().isOk());
  CHECK(rep.state() == ReplicationState::Completed);
  auto stats = rep.stats();
  CHECK(stats.docsWritten == stats.docsRead);
  CHECK(stats.docsRead == 1206);  // 1200 + edited + gone + 2 conflicting leaves + design + att
  CHECK(snapshot(*source) == snapshot(*target));
  CHECK(target->getLocal("private").status().code() == ErrorCode::NotFound);
  CHECK(target->getAttachment("att", "a.txt")->data == "hello");
  CHECK(*target->conflicts("conflicted") == std::vector<std::string>{"2-aaa"});

  // The checkpoint is on both sides, in CouchDB's shape.
  Json cp(*source->getLocal("_local/" + rep.id()));
  CHECK(int64_t(cp["replication_id_version"]) == 4);
  CHECK(cp["history"].get_array().size() == 1);
  CHECK(*source->getLocal("_local/" + rep.id()) != "");
  CHECK(target->getLocal("_local/" + rep.id()).isOk());

  // A second run after a few edits reads only what changed.
  (void)source->put(R"({"_id":"late"})");
  Replication again(ReplicationPeer::local(source), ReplicationPeer::local(target));
  REQUIRE(again.run().isOk());
  CHECK(again.stats().docsRead == 1);
  CHECK(again.stats().missingChecked == 1);
  CHECK(snapshot(*source) == snapshot(*target));
  CHECK(Json(*source->getLocal("_local/" + again.id()))["history"].get_array().size() == 2);
}

TEST_CASE("Replication: sync with edits on both sides converges to the same trees and winner", "[repl]") {
  TempDir dir;
  auto a = openDb(dir, "a"), b = openDb(dir, "b");
  auto base = a->put(R"({"_id":"shared","v":0})");
  REQUIRE(Replication(ReplicationPeer::local(a), ReplicationPeer::local(b)).run().isOk());
  (void)a->put(R"({"_id":"shared","_rev":")" + base->rev + R"(","v":"from a"})");
  (void)b->put(R"({"_id":"shared","_rev":")" + base->rev + R"(","v":"from b"})");
  (void)a->put(R"({"_id":"only-a"})");
  (void)b->put(R"({"_id":"only-b"})");
  REQUIRE(Replication(ReplicationPeer::local(a), ReplicationPeer::local(b)).run().isOk());
  REQUIRE(Replication(ReplicationPeer::local(b), ReplicationPeer::local(a)).run().isOk());
  CHECK(snapshot(*a) == snapshot(*b));
  CHECK(a->conflicts("shared")->size() == 1);
  CHECK(Json(*a->get("shared")).str("v") == Json(*b->get("shared")).str("v"));
}

TEST_CASE("Replication: doc_ids and selector filters copy only what matches", "[repl]") {
  TempDir dir;
  auto source = openDb(dir, "source");
  for (int i = 0; i < 50; ++i)
    (void)source->put(R"({"_id":"d)" + std::to_string(i) + R"(","n":)" + std::to_string(i) + "}");
  auto byId = openDb(dir, "byid");
  ReplicationOptions ids;
  ids.docIds = {"d3", "d7", "nope"};
  REQUIRE(Replication(ReplicationPeer::local(source), ReplicationPeer::local(byId), ids).run().isOk());
  CHECK(byId->info()->docCount == 2);
  auto bySel = openDb(dir, "bysel");
  ReplicationOptions sel;
  sel.selector = R"({"n":{"$gte":45}})";
  sel.batchSize = 7;  // several batches, most of them filtered out entirely
  REQUIRE(Replication(ReplicationPeer::local(source), ReplicationPeer::local(bySel), sel).run().isOk());
  CHECK(bySel->info()->docCount == 5);
  CHECK(bySel->get("d44").status().code() == ErrorCode::NotFound);
}

TEST_CASE("Replication: continuous mode follows new changes until stopped", "[repl]") {
  TempDir dir;
  auto source = openDb(dir, "source"), target = openDb(dir, "target");
  (void)source->put(R"({"_id":"first"})");
  ReplicationOptions options;
  options.continuous = true;
  Replication rep(ReplicationPeer::local(source), ReplicationPeer::local(target), options);
  std::atomic<int> idle{0};
  rep.start([&](ReplicationState s, const ReplicationStats&, const Status&) {
    if (s == ReplicationState::Idle) ++idle;
  });
  auto waitFor = [&](const char* id) {
    for (int i = 0; i < 200 && !target->get(id).isOk(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    return target->get(id).isOk();
  };
  CHECK(waitFor("first"));
  (void)source->put(R"({"_id":"second"})");
  CHECK(waitFor("second"));
  CHECK(idle >= 1);
  rep.stop();
  CHECK(rep.state() == ReplicationState::Stopped);
}

TEST_CASE("Replication: create_target and a missing source", "[repl]") {
  TempDir dir;
  DataDir data(dir.path());
  auto source = *data.create("src");
  (void)source->put(R"({"_id":"x"})");
  Replication bad(ReplicationPeer::remote("ftp://nowhere/db"), ReplicationPeer::local(source));
  CHECK(!bad.run().isOk());
  CHECK(bad.state() == ReplicationState::Failed);
}

TEST_CASE("Replication: large attachments stream through a spool, both ways at once, and only new ones move again",
          "[repl]") {
  TempDir dir;
  auto a = openDb(dir, "a"), b = openDb(dir, "b");
  // Bodies over the streaming threshold (1 MB), different on each side.
  auto bytes = [](size_t n, char seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919 + i / 251) % 251 + seed);
    return s;
  };
  auto putAtt = [](Database& db, const std::string& id, const std::string& rev, const std::string& name,
                   const std::string& data, const std::string& keep = {}) {
    std::string atts = R"({")" + name + R"(":{"content_type":"application/octet-stream","follows":true,"length":)" +
                       std::to_string(data.size()) + "}" +
                       (keep.empty() ? "" : R"(,")" + keep + R"(":{"stub":true})") + "}";
    std::string json = R"({"_id":")" + id + R"(",)" + (rev.empty() ? "" : R"("_rev":")" + rev + R"(",)") +
                       R"("_attachments":)" + atts + "}";
    auto r = db.put(json, {}, std::vector<AttachmentBody>{AttachmentBody{name, data, nullptr}});
    REQUIRE(r);
    return r->rev;
  };
  const std::string one = bytes(3 * 1024 * 1024, 1), two = bytes(2 * 1024 * 1024 + 5, 2), three = bytes(1536 * 1024, 3);
  std::string revA = putAtt(*a, "photo-a", "", "one.bin", one);
  putAtt(*b, "photo-b", "", "two.bin", two);
  // Both directions at once: each side's write reads a spool, never the other store, so they cannot wait
  // on each other.
  Replication ab(ReplicationPeer::local(a), ReplicationPeer::local(b));
  Replication ba(ReplicationPeer::local(b), ReplicationPeer::local(a));
  ab.start();
  ba.start();
  REQUIRE(ab.wait().isOk());
  REQUIRE(ba.wait().isOk());
  CHECK(snapshot(*a) == snapshot(*b));
  CHECK(b->getAttachment("photo-a", "one.bin")->data == one);
  CHECK(a->getAttachment("photo-b", "two.bin")->data == two);

  // A new revision adds an attachment and keeps the old one as a stub: the pull sends only the new body
  // (atts_since), and the target's copy still has both.
  putAtt(*a, "photo-a", revA, "three.bin", three, "one.bin");
  Replication again(ReplicationPeer::local(a), ReplicationPeer::local(b));
  REQUIRE(again.run().isOk());
  CHECK(again.stats().docsWritten == 1);
  CHECK(snapshot(*a) == snapshot(*b));
  CHECK(b->getAttachment("photo-a", "one.bin")->data == one);
  CHECK(b->getAttachment("photo-a", "three.bin")->data == three);
  CHECK(b->getAttachment("photo-a", "three.bin")->revpos == 2);
}

TEST_CASE("Replication: wait() without start() answers at once that it was never started", "[repl]") {
  TempDir dir;
  Replication rep(ReplicationPeer::local(openDb(dir, "a")), ReplicationPeer::local(openDb(dir, "b")));
  Status st = rep.wait();  // blocked for ever before
  CHECK(st.code() == ErrorCode::PreconditionFailed);
  CHECK(rep.state() == ReplicationState::Starting);
  REQUIRE(rep.run().isOk());  // and it can still be started
  CHECK(rep.wait().isOk());   // waiting again answers how it ended
}
