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

TEST_CASE("Node replication: CouchDB's auth object and tuning fields are honoured; bad ones refused",
          "[repl][service]") {
  LiveServer secured("[admins]\nadmin = pw\n");
  LiveServer node;
  const std::string auth = "Basic YWRtaW46cHc=";
  REQUIRE(secured("PUT", "/src", "", {{"Authorization", auth}}).status == 201);
  REQUIRE(secured("POST", "/src/_bulk_docs", R"({"docs":[{"_id":"a"},{"_id":"b"},{"_id":"c"}]})", {{"Authorization", auth}})
              .status == 201);
  const std::string src = "http://127.0.0.1:" + std::to_string(secured.port()) + "/src";
  // Without credentials the source refuses; with CouchDB 3's auth object it answers.
  auto refused = node("POST", "/_replicate", R"({"source":")" + src + R"(","target":"dst","create_target":true,"retries_per_request":0})");
  CHECK(refused.status >= 400);
  auto r = node("POST", "/_replicate",
                R"({"source":{"url":")" + src + R"(","auth":{"basic":{"username":"admin","password":"pw"}}},)"
                R"("target":"dst","create_target":true,"worker_processes":1,"worker_batch_size":2,)"
                R"("connection_timeout":5000,"retries_per_request":2,"checkpoint_interval":1000,"use_checkpoints":true,"http_connections":4})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(int64_t(Json(r.body)["history"].at(0)["docs_written"]) == 3);
  CHECK(int64_t(Json(node("GET", "/dst").body)["doc_count"]) == 3);
  // The password never shows in what the node reports.
  CHECK(node("GET", "/_scheduler/jobs").body.find("pw") == std::string::npos);
  for (const char* bad : {R"("worker_processes":"4")", R"("worker_batch_size":0)", R"("connection_timeout":-1)",
                          R"("use_checkpoints":"yes")", R"("source":{"url":"http://x/db","auth":{"basic":{"username":1}}})"}) {
    std::string body = std::string("{") + bad;
    if (std::string(bad).find("\"source\"") == std::string::npos) body += R"(,"source":"dst")";
    body += R"(,"target":"other"})";
    INFO(body);
    CHECK(node("POST", "/_replicate", body).status == 400);
  }
  CHECK(node("GET", "/other").status == 404);
}

TEST_CASE("Node replication: POST /_replicate of a continuous job answers once the job has started, or its failure",
          "[repl][service]") {
  LiveServer secured("[admins]\nadmin = pw\n");
  LiveServer node;
  node("PUT", "/src");
  node("PUT", "/src/one", "{}");
  const std::string job = R"({"source":"src","target":"dst","create_target":true,"continuous":true)";
  auto r = node("POST", "/_replicate", job + "}");
  INFO(r.body);
  REQUIRE(r.status == 202);
  const std::string localId = Json(r.body).str("_local_id");
  CHECK(localId.size() == 32 + std::string("+continuous").size());  // the id is known when it answers
  node("PUT", "/src/two", "{}");
  CHECK(eventually([&] { return node("GET", "/dst/two").status == 200; }));
  auto cancelled = node("POST", "/_replicate", job + R"(,"cancel":true})");
  CHECK(cancelled.status == 200);
  CHECK(Json(cancelled.body).str("_local_id") == localId);

  // A source that refuses is a failure the request answers, at once rather than after a timeout.
  secured("PUT", "/src", "", {{"Authorization", "Basic YWRtaW46cHc="}});
  const std::string src = "http://127.0.0.1:" + std::to_string(secured.port()) + "/src";
  auto started = std::chrono::steady_clock::now();
  auto refused = node("POST", "/_replicate", R"({"source":")" + src + R"(","target":"dst","continuous":true})");
  CHECK(refused.status == 401);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(Json(node("GET", "/_scheduler/jobs").body)["jobs"].get_array().size() == 0);
}
