// The server and database endpoints of a real `settee serve` process, over HTTP.
#include <catch2/catch.hpp>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

TEST_CASE("Serve: welcome, _up, _uuids and _all_dbs answer as CouchDB does", "[http][api]") {
  LiveServer node;
  auto welcome = node("GET", "/");
  REQUIRE(welcome.status == 200);
  Json w(welcome.body);
  CHECK(w.str("couchdb") == "Welcome");
  CHECK(w.str("uuid").size() == 32);
  CHECK(node("GET", "/_up").status == 200);
  Json u(node("GET", "/_uuids?count=3").body);
  CHECK(u["uuids"].get_array().size() == 3);
  CHECK(node("GET", "/_uuids?count=abc").status == 400);
  CHECK(node("PUT", "/alpha").status == 201);
  CHECK(node("PUT", "/beta").status == 201);
  // The node creates _replicator at start, and lists it as CouchDB does.
  CHECK(node("GET", "/_all_dbs").body == R"(["_replicator","_users","alpha","beta"])");
  CHECK(node("GET", "/_all_dbs?descending=true&limit=1").body == R"(["beta"])");
  // The uuid is the node's for life: the same after a restart.
  std::string uuid = w.str("uuid");
  node.kill9();
  node.start();
  CHECK(Json(node("GET", "/").body).str("uuid") == uuid);
}

TEST_CASE("Serve: database create, info, delete and their errors", "[http][api]") {
  LiveServer node;
  auto created = node("PUT", "/db");
  CHECK(created.status == 201);
  CHECK(created.body == R"({"ok":true})");
  auto again = node("PUT", "/db");
  CHECK(again.status == 412);
  CHECK(Json(again.body).str("error") == "file_exists");
  auto bad = node("PUT", "/Bad");
  CHECK(bad.status == 400);
  CHECK(Json(bad.body).str("error") == "illegal_database_name");
  auto info = node("GET", "/db");
  REQUIRE(info.status == 200);
  Json i(info.body);
  CHECK(i.str("db_name") == "db");
  CHECK(int64_t(i["update_seq"]) == 0);
  CHECK(i.has("instance_start_time"));
  CHECK(i.has("sizes"));
  auto head = node("HEAD", "/db");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  auto missing = node("GET", "/nope");
  CHECK(missing.status == 404);
  CHECK(Json(missing.body).str("reason") == "Database does not exist.");
  auto commit = node("POST", "/db/_ensure_full_commit");
  CHECK(commit.status == 201);
  CHECK(Json(commit.body).str("instance_start_time") == i.str("instance_start_time"));
  CHECK(node("DELETE", "/db").status == 200);
  CHECK(node("GET", "/db").status == 404);
  CHECK(node("DELETE", "/db").status == 404);
}

TEST_CASE("Serve: POST creates documents; bad bodies are refused and change nothing", "[http][api]") {
  LiveServer node;
  node("PUT", "/db");
  auto posted = node("POST", "/db", R"({"_id":"a","v":1})");
  CHECK(posted.status == 201);
  CHECK(Json(posted.body).str("id") == "a");
  auto generated = node("POST", "/db", R"({"v":2})");
  CHECK(Json(generated.body).str("id").size() == 32);
  CHECK(node("POST", "/db", R"({"v":)").status == 400);
  CHECK(node("POST", "/db", "{\"v\":\"\xff\"}").status == 400);
  CHECK(node("POST", "/db", R"({"_id":"_bad"})").status == 400);
  CHECK(node("POST", "/db", R"({"v":1})", {{"Content-Type", "text/plain"}}).status == 415);
  CHECK(node("POST", "/db", R"({"_id":"a"})").status == 409);
  CHECK(int64_t(Json(node("GET", "/db").body)["doc_count"]) == 2);
}

TEST_CASE("Serve: revs_limit, security and purge", "[http][api]") {
  LiveServer node;
  node("PUT", "/db");
  CHECK(node("GET", "/db/_revs_limit").body == "1000");
  CHECK(node("PUT", "/db/_revs_limit", "5").status == 200);
  CHECK(node("GET", "/db/_revs_limit").body == "5");
  CHECK(node("PUT", "/db/_revs_limit", "-1").status == 400);
  CHECK(node("PUT", "/db/_revs_limit", "\"x\"").status == 400);
  CHECK(Json(node("GET", "/db/_security").body).has("members"));
  CHECK(node("PUT", "/db/_security", R"({"members":{"names":["bob"]}})").status == 200);
  CHECK(node("PUT", "/db/_security", "[1]").status == 400);
  auto doc = Json(node("POST", "/db", R"({"_id":"p"})").body);
  auto purged = node("POST", "/db/_purge", R"({"p":[")" + doc.str("rev") + R"("]})");
  CHECK(purged.status == 201);
  CHECK(Json(purged.body)["purged"]["p"].get_array().size() == 1);
  CHECK(int64_t(Json(node("GET", "/db").body)["doc_count"]) == 0);
  CHECK(int64_t(Json(node("GET", "/db").body)["purge_seq"]) == 1);
}

TEST_CASE("Serve: unknown paths are 404 and wrong methods 405 with Allow", "[http][api]") {
  LiveServer node;
  node("PUT", "/db");
  auto wrong = node("PUT", "/_all_dbs");
  CHECK(wrong.status == 405);
  CHECK(Json(wrong.body).str("error") == "method_not_allowed");
  REQUIRE(wrong.header("Allow"));
}

TEST_CASE("Serve: with an admin configured nobody gets in without credentials", "[http][api][auth]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  CHECK(node("GET", "/").status == 200);  // the welcome is public, as on CouchDB
  auto anon = node("PUT", "/db");
  CHECK(anon.status == 401);
  CHECK(Json(anon.body).str("error") == "unauthorized");
  CHECK(anon.header("WWW-Authenticate"));
  CHECK(node("GET", "/_all_dbs").status == 401);
  const std::pair<std::string, std::string> basic{"Authorization", "Basic YWRtaW46czNjcmV0"};  // admin:s3cret
  const std::pair<std::string, std::string> wrongPass{"Authorization", "Basic YWRtaW46bm9wZQ=="};  // admin:nope
  CHECK(node("PUT", "/db", "", {basic}).status == 201);
  CHECK(node("PUT", "/db2", "", {wrongPass}).status == 401);
  CHECK(node("GET", "/db").status == 401);
  CHECK(node("GET", "/db", "", {basic}).status == 200);
  // Cookie sessions.
  auto login = node("POST", "/_session", "name=admin&password=s3cret",
                    {{"Content-Type", "application/x-www-form-urlencoded"}});
  REQUIRE(login.status == 200);
  const std::string* cookie = login.header("Set-Cookie");
  REQUIRE(cookie);
  std::string session = cookie->substr(0, cookie->find(';'));
  CHECK(node("GET", "/db", "", {{"Cookie", session}}).status == 200);
  Json s(node("GET", "/_session", "", {{"Cookie", session}}).body);
  CHECK(std::string_view(s["userCtx"]["name"]) == "admin");
  CHECK(node("POST", "/_session", R"({"name":"admin","password":"x"})").status == 401);
  CHECK(node("GET", "/db", "", {{"Cookie", "AuthSession=Zm9vOjA6YWJj"}}).status == 401);
  // A _users member can log in and reach a database that lists it.
  CHECK(node("PUT", "/_users", "", {basic}).status == 412);  // it exists from the start
  CHECK(node("POST", "/_users", R"({"_id":"org.couchdb.user:bob","name":"bob","type":"user","roles":[],"password":"pw"})",
             {basic}).status == 201);
  const std::pair<std::string, std::string> bob{"Authorization", "Basic Ym9iOnB3"};  // bob:pw
  CHECK(node("GET", "/db", "", {bob}).status == 403);
  CHECK(node("PUT", "/db/_security", R"({"members":{"names":["bob"]}})", {basic}).status == 200);
  CHECK(node("GET", "/db", "", {bob}).status == 200);
  CHECK(node("PUT", "/db/_security", R"({})", {bob}).status == 403);
}

TEST_CASE("Serve: refuses to bind beyond loopback without an admin", "[http][api][auth]") {
  CHECK_THROWS(LiveServer("", {"--bind", "0.0.0.0"}));
}
