// Helpers of the hostile peer tests (hostile_peer_test.cc, hostile_peer_bounds_test.cc): a one-shot pull
// from or push to a HostilePeer with the Replication API, timed; a peer whose answers are FakeCouch's
// but for the one a test breaks; and the check that a target holds nothing but the source's revisions.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "replicator/hostile_peer.h"
#include "settee/database.h"
#include "settee/replicator.h"
#include "test_util.h"

namespace settee::test {

inline const std::string kHashA(32, 'a'), kHashB(32, 'b'), kHashC(32, 'c'), kHashC0(32, '0'), kHashD(32, 'd');

// Three plain documents, one with two revisions of history.
inline std::vector<FakeCouch::Doc> plainDocs() {
  return {{"a", {kHashA}, 1, ""}, {"b", {kHashB}, 2, ""}, {"c", {kHashC, kHashC0}, 3, ""}};
}

inline std::shared_ptr<Database> openDb(const TempDir& dir, const std::string& name) {
  auto db = Database::open(dir.file(name + ".settee"), name);
  REQUIRE(db);
  return std::shared_ptr<Database>(std::move(*db));
}

// Every leaf of every document in `db` is a revision `couch` has, with its body.
inline void checkOnlyCorrect(Database& db, const FakeCouch& couch) {
  std::vector<std::string> ids;
  auto scanned = db.changes({}, [&](const Change& c) {
    ids.push_back(c.id);
    return true;
  });
  REQUIRE(scanned);
  for (const auto& id : ids) {
    const FakeCouch::Doc* want = couch.find(id);
    INFO("document " << id);
    REQUIRE(want);
    auto leaves = db.getOpenRevs(id, {});
    REQUIRE(leaves);
    for (const auto& leaf : *leaves) {
      settee::test::Json j(leaf.json);
      CHECK(j.str("_rev") == want->rev());
      CHECK(int64_t(j["v"]) == want->value);
    }
  }
}

struct Outcome {
  Status status;
  ReplicationState state = ReplicationState::Starting;
  double seconds = 0;
};

// A one-shot pull from `peer` into `target`; `retries` per request, `timeoutMs` per request.
inline Outcome pull(const HostilePeer& peer, std::shared_ptr<Database> target, int retries = 0,
                    int timeoutMs = 1000) {
  ReplicationOptions options;
  options.retries = retries;
  options.timeout = std::chrono::milliseconds(timeoutMs);
  Replication rep(ReplicationPeer::remote(peer.url()), ReplicationPeer::local(std::move(target)), options);
  auto start = std::chrono::steady_clock::now();
  Outcome out;
  out.status = rep.run();
  out.state = rep.state();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

// A peer whose every answer is correct but for the one `hostile` takes (it returns true when it did).
inline HostilePeer::Answer breaking(const FakeCouch& couch,
                                    std::function<bool(const PeerRequest&, PeerConnection&)> hostile) {
  return [&couch, hostile](const PeerRequest& req, PeerConnection& c) {
    if (hostile(req, c)) return false;  // the connection is closed after a misbehaviour
    return couch.answer(req, c);
  };
}

inline bool isChanges(const PeerRequest& r) { return r.path == "/db/_changes"; }
inline bool isBulkGet(const PeerRequest& r) { return r.path == "/db/_bulk_get"; }

// The pull failed, in time, saying `what`, and the target holds nothing but correct revisions.
inline void checkFailed(const Outcome& out, const std::string& what, Database& target, const FakeCouch& couch,
                        double withinSeconds = 10) {
  INFO("error: " << out.status.reason());
  CHECK(out.state == ReplicationState::Failed);
  CHECK_FALSE(out.status.isOk());
  CHECK_THAT(out.status.reason(), Catch::Contains(what, Catch::CaseSensitive::No));
  CHECK(out.seconds < withinSeconds);
  checkOnlyCorrect(target, couch);
}

// A one-shot push of three local documents to `peer`.
inline Outcome push(const HostilePeer& peer, int retries = 0) {
  TempDir dir;
  auto source = openDb(dir, "s");
  for (const char* id : {"a", "b", "c"})
    REQUIRE(source->put(std::string(R"({"_id":")") + id + R"(","v":1})"));
  ReplicationOptions options;
  options.retries = retries;
  options.timeout = std::chrono::milliseconds(1000);
  Replication rep(ReplicationPeer::local(source), ReplicationPeer::remote(peer.url()), options);
  auto start = std::chrono::steady_clock::now();
  Outcome out;
  out.status = rep.run();
  out.state = rep.state();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace settee::test
