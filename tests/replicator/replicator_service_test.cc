// Replications run by a node: POST /_replicate, `_replicator` documents, /_scheduler, /_active_tasks.
#include <catch2/catch.hpp>
#include <thread>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

bool eventually(const std::function<bool()>& check, int ms = 10000) {
  for (int waited = 0; waited < ms; waited += 50) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return check();
}

}  // namespace

TEST_CASE("Node replication: POST /_replicate runs a one-shot and reports its history", "[repl][service]") {
  LiveServer node;
  node("PUT", "/src");
  node("POST", "/src/_bulk_docs", R"({"docs":[{"_id":"a"},{"_id":"b"}]})");
  auto r = node("POST", "/_replicate", R"({"source":"src","target":"dst","create_target":true})");
  REQUIRE(r.status == 200);
  Json body(r.body);
  CHECK(bool(body["ok"]));
  CHECK(int64_t(body["history"].at(0)["docs_written"]) == 2);
  CHECK(int64_t(Json(node("GET", "/dst").body)["doc_count"]) == 2);
  CHECK(node("POST", "/_replicate", R"({"source":"nope","target":"dst"})").status == 404);
  CHECK(node("POST", "/_replicate", R"({"target":"dst"})").status == 400);
  CHECK(node("POST", "/_replicate", "{").status == 400);
}

TEST_CASE("Node replication: a continuous _replicator job runs, shows in the scheduler, and survives a restart",
          "[repl][service]") {
  LiveServer node;
  node("PUT", "/src");
  node("PUT", "/src/one", "{}");
  REQUIRE(node("PUT", "/_replicator/job", R"({"source":"src","target":"dst","create_target":true,"continuous":true})")
              .status == 201);
  CHECK(eventually([&] { return node("GET", "/dst/one").status == 200; }));
  Json docs(node("GET", "/_scheduler/docs").body);
  REQUIRE(docs["docs"].get_array().size() == 1);
  CHECK(std::string_view(docs["docs"].at(0)["doc_id"]) == "job");
  Json tasks(node("GET", "/_active_tasks").body);
  REQUIRE(tasks.root().get_array().size() == 1);
  CHECK(std::string_view(tasks.root().at(0)["type"]) == "replication");

  node.kill9();
  node.start();
  node("PUT", "/src/two", "{}");
  CHECK(eventually([&] { return node("GET", "/dst/two").status == 200; }));

  // Deleting the document stops the job.
  auto rev = Json(node("GET", "/_replicator/job").body).str("_rev");
  REQUIRE(node("DELETE", "/_replicator/job?rev=" + rev).status == 200);
  CHECK(eventually([&] { return Json(node("GET", "/_scheduler/docs").body)["docs"].get_array().size() == 0; }));
}

TEST_CASE("Node replication: a one-shot _replicator job records completion in its document", "[repl][service]") {
  LiveServer node;
  node("PUT", "/src");
  node("PUT", "/src/x", "{}");
  REQUIRE(node("PUT", "/_replicator/once", R"({"source":"src","target":"out","create_target":true})").status == 201);
  CHECK(eventually([&] {
    auto doc = node("GET", "/_replicator/once");
    return doc.body.find(R"("_replication_state":"completed")") != std::string::npos;
  }));
  CHECK(node("GET", "/out/x").status == 200);
}
