// A node with a [conflict_policy] resolves the conflicts peers push to it (as PouchDB's replicator
// does, new_edits=false), and the resolution is in its _changes for peers to pull.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "http/config.h"
#include "live_server.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::TempDir;

namespace {

// Two revisions of `id` made offline on two devices from one base: the one with the lower hash (2-aaa,
// CouchDB's loser) has the later timestamp.
std::string conflictingRevs(const std::string& id) {
  return R"({"new_edits":false,"docs":[)"
         R"({"_id":")" +
         id +
         R"(","_rev":"2-aaa","_revisions":{"start":2,"ids":["aaa","base"]},"v":"late","updated_at":"2026-03-02T10:00:00Z"},)"
         R"({"_id":")" +
         id +
         R"(","_rev":"2-bbb","_revisions":{"start":2,"ids":["bbb","base"]},"v":"early","updated_at":"2026-03-01T10:00:00Z"}]})";
}

// Polls the document until it has no _conflicts (or `wait` passes); returns its last state.
std::string waitResolved(const LiveServer& node, const std::string& path, std::chrono::milliseconds wait) {
  auto until = std::chrono::steady_clock::now() + wait;
  std::string body;
  for (;;) {
    auto r = node("GET", path + "?conflicts=true");
    REQUIRE(r.status == 200);
    body = r.body;
    if (!Json(body).has("_conflicts") || std::chrono::steady_clock::now() > until) return body;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

TEST_CASE("Conflict service: a node configured with lww resolves a pushed conflict and serves the resolution",
          "[repl][conflict][live]") {
  LiveServer node("[conflict_policy]\nnotes = lww:updated_at\n");
  REQUIRE(node("PUT", "/notes").status == 201);
  REQUIRE(node("PUT", "/other").status == 201);
  REQUIRE(node("POST", "/notes/_bulk_docs", conflictingRevs("d")).status == 201);
  REQUIRE(node("POST", "/other/_bulk_docs", conflictingRevs("d")).status == 201);

  Json doc(waitResolved(node, "/notes/d", std::chrono::seconds(5)));
  CHECK_FALSE(doc.has("_conflicts"));
  CHECK(doc.str("_rev") == "2-aaa");  // the later write, though CouchDB's rule picks 2-bbb
  CHECK(doc.str("v") == "late");

  // The resolution is a new revision (a tombstone on 2-bbb) in the changes feed.
  Json changes(node("GET", "/notes/_changes?style=all_docs").body);
  auto results = simdjson::dom::array(changes["results"]);
  REQUIRE(results.size() == 1);
  auto row = *results.begin();
  auto revs = simdjson::dom::array(row["changes"]);
  REQUIRE(revs.size() == 2);
  CHECK(std::string(revs.at(0)["rev"].get_string().value()) == "2-aaa");
  CHECK(std::string(revs.at(1)["rev"].get_string().value()).rfind("3-", 0) == 0);
  Json tomb(node("GET", "/notes/d?rev=" + std::string(revs.at(1)["rev"].get_string().value())).body);
  CHECK(tomb.has("_deleted"));

  // Once the database is watched, its change listener wakes the service: a new conflict is resolved
  // well before the next rescan (kRescan, 2 s) would find it.
  auto pushed = std::chrono::steady_clock::now();
  REQUIRE(node("POST", "/notes/_bulk_docs", conflictingRevs("e")).status == 201);
  CHECK_FALSE(Json(waitResolved(node, "/notes/e", std::chrono::seconds(5))).has("_conflicts"));
  CHECK(std::chrono::steady_clock::now() - pushed < std::chrono::milliseconds(1000));

  // A database the configuration does not name keeps CouchDB's behaviour.
  Json other(node("GET", "/other/d?conflicts=true").body);
  CHECK(other.has("_conflicts"));
  CHECK(other.str("_rev") == "2-bbb");
}

TEST_CASE("Conflict service: `default` covers every database, also one created after the node started",
          "[repl][conflict][live]") {
  LiveServer node("[conflict_policy]\ndefault = lww:updated_at\nkept = keep\n");
  REQUIRE(node("PUT", "/late").status == 201);
  REQUIRE(node("PUT", "/kept").status == 201);
  REQUIRE(node("POST", "/late/_bulk_docs", conflictingRevs("d")).status == 201);
  REQUIRE(node("POST", "/kept/_bulk_docs", conflictingRevs("d")).status == 201);
  Json doc(waitResolved(node, "/late/d", std::chrono::seconds(8)));
  CHECK_FALSE(doc.has("_conflicts"));
  CHECK(doc.str("_rev") == "2-aaa");
  CHECK(Json(node("GET", "/kept/d?conflicts=true").body).has("_conflicts"));
}

TEST_CASE("Conflict service: a merge policy on a node merges fields changed on different devices",
          "[repl][conflict][live]") {
  LiveServer node("[conflict_policy]\nnotes = merge\n");
  REQUIRE(node("PUT", "/notes").status == 201);
  REQUIRE(node("PUT", "/notes/d", R"({"title":"base","count":0})").status == 201);
  std::string base = Json(node("GET", "/notes/d").body).str("_rev");
  std::string baseHash = base.substr(2);
  std::string body = R"({"new_edits":false,"docs":[)"
                     R"({"_id":"d","_rev":"2-aaa","_revisions":{"start":2,"ids":["aaa",")" +
                     baseHash +
                     R"("]},"title":"renamed","count":0},)"
                     R"({"_id":"d","_rev":"2-bbb","_revisions":{"start":2,"ids":["bbb",")" +
                     baseHash + R"("]},"title":"base","count":3}]})";
  REQUIRE(node("POST", "/notes/_bulk_docs", body).status == 201);
  Json doc(waitResolved(node, "/notes/d", std::chrono::seconds(5)));
  CHECK_FALSE(doc.has("_conflicts"));
  CHECK(doc.str("title") == "renamed");
  CHECK(int64_t(doc["count"]) == 3);
  CHECK(doc.str("_rev").rfind("3-", 0) == 0);  // a child of CouchDB's winner, 2-bbb
}

TEST_CASE("Config: [conflict_policy] values are checked when the file is read", "[http][config][conflict]") {
  TempDir dir;
  auto write = [&](const std::string& text) {
    std::ofstream(dir.file("local.ini")) << text;
    return dir.file("local.ini");
  };
  http::ServerConfig config;
  REQUIRE(http::loadConfig(write("[conflict_policy]\nnotes = lww:updated_at\ndefault = merge\n"), config));
  CHECK(config.conflictPolicies.at("notes") == "lww:updated_at");
  CHECK(config.conflictPolicies.at("default") == "merge");
  http::ServerConfig bad;
  Status st = http::loadConfig(write("[conflict_policy]\nnotes = newest\n"), bad);
  CHECK(st.code() == ErrorCode::BadRequest);
  CHECK(st.reason().find("local.ini:2") != std::string::npos);
  CHECK(st.reason().find("newest") != std::string::npos);
}
