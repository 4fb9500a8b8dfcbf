// A node's continuous replications from a local database to a remote one keep the database's sync state for
// the target (settee/sync_state.h), and show it in /_scheduler/docs, /_scheduler/jobs and /_active_tasks.
#include <catch2/catch.hpp>
#include <functional>
#include <thread>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

bool eventually(const std::function<bool()>& check, int ms = 15000) {
  for (int waited = 0; waited < ms; waited += 50) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return check();
}

// The one job's entry in /_scheduler/docs ("info") and in /_active_tasks, as JSON text.
std::string schedulerInfo(const LiveServer& node) {
  Json docs(node("GET", "/_scheduler/docs").body);
  auto list = docs["docs"].get_array().value();
  if (list.size() != 1) return "{}";
  return simdjson::to_string(list.at(0)["info"].value());
}

std::string activeTask(const LiveServer& node) {
  Json tasks(node("GET", "/_active_tasks").body);
  auto list = tasks.root().get_array().value();
  if (list.size() != 1) return "{}";
  return simdjson::to_string(list.at(0).value());
}

uint64_t field(const std::string& json, const char* name) {
  Json j(json);
  return j.has(name) ? j[name].get_uint64().value() : UINT64_MAX;
}

}  // namespace

TEST_CASE(
    "Node replication: a continuous job from a local database to a remote one shows the outbox, "
    "failures and conflicts of the source",
    "[repl][service][sync]") {
  LiveServer a, b;
  REQUIRE(a("PUT", "/src").status == 201);
  REQUIRE(a("POST", "/src/_bulk_docs", R"({"docs":[{"_id":"one"},{"_id":"two"}]})").status == 201);
  // A conflict on the source: two leaves of "c".
  REQUIRE(
      a("POST", "/src/_bulk_docs",
        R"({"new_edits":false,"docs":[{"_id":"c","_rev":"1-aaaa","v":1},{"_id":"c","_rev":"1-bbbb","v":2}]})")
          .status == 201);
  const std::string target = "http://127.0.0.1:" + std::to_string(b.port()) + "/dst";
  REQUIRE(a("PUT", "/_replicator/job",
            R"({"source":"src","target":")" + target + R"(","create_target":true,"continuous":true})")
              .status == 201);
  REQUIRE(eventually(
      [&] { return b("GET", "/dst/c?open_revs=all").status == 200 && b("GET", "/dst/two").status == 200; }));

  // Every document the target took is confirmed: nothing pending, nothing refused, one conflicted.
  CHECK(eventually([&] { return field(schedulerInfo(a), "pending") == 0; }));
  const std::string info = schedulerInfo(a);
  INFO(info);
  CHECK(field(info, "failed") == 0);
  CHECK(field(info, "conflicted") == 1);
  const std::string task = activeTask(a);
  INFO(task);
  CHECK(field(task, "pending") == 0);
  CHECK(field(task, "failed") == 0);
  CHECK(field(task, "conflicted") == 1);

  // With the peer gone, local edits wait in the outbox, and the counts say so.
  b.freeze(true);
  REQUIRE(a("PUT", "/src/three", "{}").status == 201);
  REQUIRE(a("PUT", "/src/four", "{}").status == 201);
  CHECK(eventually([&] { return field(schedulerInfo(a), "pending") == 2; }));
  b.freeze(false);
  CHECK(eventually([&] { return field(schedulerInfo(a), "pending") == 0; }, 60000));
}

TEST_CASE("Node replication: a job between two local databases keeps no sync state and shows no sync counts",
          "[repl][service][sync]") {
  LiveServer node;
  REQUIRE(node("PUT", "/src").status == 201);
  REQUIRE(node("PUT", "/src/one", "{}").status == 201);
  REQUIRE(node("PUT", "/_replicator/job",
               R"({"source":"src","target":"dst","create_target":true,"continuous":true})")
              .status == 201);
  REQUIRE(eventually([&] { return node("GET", "/dst/one").status == 200; }));
  const std::string info = schedulerInfo(node);
  INFO(info);
  CHECK(field(info, "docs_written") == 1);
  CHECK(!Json(info).has("pending"));
  CHECK(!Json(activeTask(node)).has("pending"));
}
