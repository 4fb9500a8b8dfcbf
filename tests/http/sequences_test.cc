// Sequences stay integers (README, "Sequences"): what a CouchDB client relies on when it treats them as
// opaque still holds — the value given is the value taken back, in every form such clients send — and a
// checkpoint written before goes on resuming.
#include <catch2/catch.hpp>

#include "live_server.h"
#include "replicator/checkpoint.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

uint64_t u64(simdjson::dom::element e) { return e.get_uint64().value(); }

std::vector<std::string> ids(const Json& changes) {
  std::vector<std::string> out;
  for (auto row : changes["results"].get_array())
    out.emplace_back(std::string_view(row["id"].get_string().value()));
  return out;
}

}  // namespace

TEST_CASE("Sequences: update_seq, last_seq and seq are one integer counter", "[http][seq]") {
  LiveServer node;
  node("PUT", "/db");
  for (const char* id : {"a", "b", "c"}) REQUIRE(node("PUT", std::string("/db/") + id, "{}").status == 201);
  Json info(node("GET", "/db").body);
  REQUIRE(info["update_seq"].is_uint64());
  CHECK(u64(info["update_seq"]) == 3);
  Json changes(node("GET", "/db/_changes").body);
  REQUIRE(changes["last_seq"].is_uint64());
  CHECK(u64(changes["last_seq"]) == 3);
  uint64_t previous = 0;
  for (auto row : changes["results"].get_array()) {
    REQUIRE(row["seq"].is_uint64());
    CHECK(u64(row["seq"]) > previous);
    previous = u64(row["seq"]);
  }
}

TEST_CASE("Sequences: a seq handed back as received, or in CouchDB's string forms, resumes at the same place",
          "[http][seq]") {
  LiveServer node;
  node("PUT", "/db");
  for (const char* id : {"a", "b"}) node("PUT", std::string("/db/") + id, "{}");
  std::string lastSeq = std::to_string(u64(Json(node("GET", "/db/_changes").body)["last_seq"]));
  for (const char* id : {"c", "d"}) node("PUT", std::string("/db/") + id, "{}");
  // As a number (PouchDB, nano), as a JSON string (clients that stringify what they keep), as CouchDB 2+
  // opaque text and its 1.x array form (a client that stored a CouchDB seq and moved to this node).
  for (const std::string& since :
       {lastSeq, "%22" + lastSeq + "%22", lastSeq + "-g1AAAAB4eJzLYW", "%5B" + lastSeq + "%2C%22x%22%5D"}) {
    INFO(since);
    auto reply = node("GET", "/db/_changes?since=" + since);
    REQUIRE(reply.status == 200);
    CHECK(ids(Json(reply.body)) == std::vector<std::string>{"c", "d"});
  }
  Json now(node("GET", "/db/_changes?since=now").body);
  CHECK(now["results"].get_array().size() == 0);
  CHECK(u64(now["last_seq"]) == 4);
}

TEST_CASE(
    "Sequences: a checkpoint keeps its seq as JSON text, integer or CouchDB string, so none changes form",
    "[http][seq]") {
  // A checkpoint an earlier Settee wrote (integer seqs), found the same on both sides: resumes at 3.
  const std::string ours =
      R"({"_id":"_local/r","_rev":"0-1","session_id":"s1","source_last_seq":3,"replication_id_version":4,)"
      R"("history":[{"session_id":"s1","start_last_seq":0,"end_last_seq":3,"recorded_seq":3}]})";
  CHECK(settee::repl::resumeSeq(ours, ours) == "3");
  // One written while replicating from CouchDB: its opaque string comes back byte for byte.
  const std::string couch =
      R"({"session_id":"s2","source_last_seq":"9-g1AAAACbeJzLYWBgYMpg","history":[{"session_id":"s2",)"
      R"("recorded_seq":"9-g1AAAACbeJzLYWBgYMpg"}]})";
  CHECK(settee::repl::resumeSeq(couch, couch) == R"("9-g1AAAACbeJzLYWBgYMpg")");
  // A different session on the target: the newest common history entry's recorded_seq.
  const std::string target = R"({"session_id":"other","history":[{"session_id":"s1","recorded_seq":3}]})";
  CHECK(settee::repl::resumeSeq(ours, target) == "3");
}

TEST_CASE("Sequences: a replication resumes from the checkpoint it wrote, reading only what is new",
          "[http][seq]") {
  LiveServer node;
  node("PUT", "/src");
  for (const char* id : {"a", "b", "c"}) node("PUT", std::string("/src/") + id, "{}");
  const std::string job = R"({"source":"src","target":"dst","create_target":true})";
  auto first = node("POST", "/_replicate", job);
  INFO(first.body);
  REQUIRE(first.status == 200);
  Json r1(first.body);
  CHECK(u64(r1["history"].at(0)["docs_read"]) == 3);
  CHECK(u64(r1["source_last_seq"]) == 3);

  node("PUT", "/src/d", "{}");
  auto second = node("POST", "/_replicate", job);
  INFO(second.body);
  REQUIRE(second.status == 200);
  Json r2(second.body);
  CHECK(u64(r2["history"].at(0)["docs_read"]) == 1);
  CHECK(u64(r2["source_last_seq"]) == 4);
}
