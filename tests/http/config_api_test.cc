// The configuration API (/_node/{node}/_config) as CouchDB 3.4 answers it, against a real `settee serve`:
// the values the node uses, changes that take effect at once, admins hashed, the ini file written and
// read again at the next start, X-Couch-Persist and _reload, and admin-only access.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "db/crypto.h"
#include "live_server.h"

using settee::test::HttpReply;
using settee::test::Json;
using settee::test::LiveServer;

namespace {

using Header = std::pair<std::string, std::string>;

Header basic(const std::string& name, const std::string& password) {
  return {"Authorization", "Basic " + settee::db::base64Encode(name + ":" + password)};
}

std::string jsonString(const HttpReply& reply) {
  Json j(reply.body);
  return std::string(j.root().get_string().value());
}

std::string fileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The body without the line end the node puts after JSON.
std::string trimmed(const HttpReply& reply) {
  std::string body = reply.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body;
}

std::string docOfSize(size_t bytes) { return R"({"pad":")" + std::string(bytes, 'x') + R"("})"; }

}  // namespace

TEST_CASE("Config API: GET shows the values the node uses, from its ini file and its defaults",
          "[http][config]") {
  LiveServer node("[couchdb]\nmax_document_size = 50000\n[custom]\nfoo = bar\n");
  auto all = node("GET", "/_node/_local/_config");
  REQUIRE(all.status == 200);
  Json j(all.body);
  CHECK(std::string(j["couchdb"]["max_document_size"].get_string().value()) == "50000");
  CHECK(std::string(j["couchdb"]["database_dir"].get_string().value()) == node.dataDir());
  CHECK(std::string(j["chttpd"]["port"].get_string().value()) == std::to_string(node.port()));
  CHECK(std::string(j["chttpd"]["require_valid_user"].get_string().value()) == "false");
  CHECK(std::string(j["custom"]["foo"].get_string().value()) == "bar");

  auto section = node("GET", "/_node/_local/_config/custom");
  CHECK(section.status == 200);
  CHECK(trimmed(section) == R"({"foo":"bar"})");
  CHECK(trimmed(node("GET", "/_node/_local/_config/nosuchsection")) == "{}");
  auto key = node("GET", "/_node/_local/_config/couchdb/max_document_size");
  CHECK(key.status == 200);
  CHECK(trimmed(key) == R"("50000")");
  auto missing = node("GET", "/_node/_local/_config/custom/nope");
  CHECK(missing.status == 404);
  CHECK(trimmed(missing) == R"({"error":"not_found","reason":"unknown_config_value"})");

  // The node's own name works as _local does; another node's does not.
  CHECK(trimmed(node("GET", "/_node/node1@127.0.0.1/_config/custom/foo")) == R"("bar")");
  auto other = node("GET", "/_node/nonode@nohost/_config");
  CHECK(other.status == 404);
  CHECK(trimmed(other) == R"({"error":"not_found","reason":"no such node: nonode@nohost"})");
  CHECK(node("PUT", "/_node/_local/_config").status == 405);
  CHECK(node("GET", "/_node/_local/_config/_reload").status == 405);
}

TEST_CASE("Config API: PUT answers the old value, unknown keys are kept, DELETE of a missing key is 404",
          "[http][config]") {
  LiveServer node;
  auto first = node("PUT", "/_node/_local/_config/test/foo", R"("bar")");
  CHECK(first.status == 200);
  CHECK(trimmed(first) == R"("")");
  CHECK(jsonString(node("PUT", "/_node/_local/_config/test/foo", R"("  baz  ")")) == "bar");
  CHECK(jsonString(node("GET", "/_node/_local/_config/test/foo")) == "baz");  // trimmed, as CouchDB does
  CHECK(trimmed(node("GET", "/_node/_local/_config/test")) == R"({"foo":"baz"})");

  auto removed = node("DELETE", "/_node/_local/_config/test/foo");
  CHECK(removed.status == 200);
  CHECK(trimmed(removed) == R"("baz")");
  CHECK(node("GET", "/_node/_local/_config/test/foo").status == 404);
  auto again = node("DELETE", "/_node/_local/_config/test/foo");
  CHECK(again.status == 404);
  CHECK(trimmed(again) == R"({"error":"not_found","reason":"unknown_config_value"})");

  for (const char* notAString : {"true", "11", "{}", R"({"testing": [1, 2, 3]})", "nonsense"}) {
    INFO(notAString);
    auto refused = node("PUT", "/_node/_local/_config/a/b", notAString);
    CHECK(refused.status == 400);
    CHECK(Json(refused.body).str("error") == "bad_request");
  }
  for (const char* section : {"daemons", "external", "httpd_design_handlers", "httpd_db_handlers",
                              "native_query_servers", "os_daemons", "query_servers"}) {
    INFO(section);
    auto refused = node("PUT", std::string("/_node/_local/_config/") + section + "/wohali", R"("rules")");
    CHECK(refused.status == 403);
    CHECK(trimmed(refused) ==
          R"({"error":"forbidden","reason":"Config section blacklisted for modification over HTTP API."})");
  }
  // A known key refuses a value the node cannot use, and keeps the one it has.
  auto bad = node("PUT", "/_node/_local/_config/couchdb/max_document_size", R"("lots")");
  CHECK(bad.status == 400);
  CHECK(jsonString(node("GET", "/_node/_local/_config/couchdb/max_document_size")) == "8388608");
  // A value that would break the ini file's lines is refused.
  CHECK(node("PUT", "/_node/_local/_config/test/multi", R"("one\ntwo")").status == 400);
}

TEST_CASE("Config API: couchdb/max_document_size takes effect at once", "[http][config]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/before", docOfSize(3000)).status == 201);
  REQUIRE(node("PUT", "/_node/_local/_config/couchdb/max_document_size", R"("2000")").status == 200);
  auto put = node("PUT", "/db/after", docOfSize(3000));
  CHECK(put.status == 413);
  CHECK(Json(put.body).str("error") == "too_large");  // refused by its length, before it is read
  auto bulk = node("POST", "/db/_bulk_docs", R"({"docs":[)" + docOfSize(3000) + "]}");
  CHECK(bulk.status == 413);
  CHECK(node("PUT", "/db/small", docOfSize(100)).status == 201);
  REQUIRE(node("DELETE", "/_node/_local/_config/couchdb/max_document_size").status == 200);
  CHECK(node("PUT", "/db/after", docOfSize(3000)).status == 201);  // back to the default
}

TEST_CASE(
    "Config API: an admin set through the API is stored hashed, in memory and in the file, and ends "
    "admin party",
    "[http][config]") {
  LiveServer node;
  REQUIRE(node("GET", "/_node/_local/_config").status == 200);  // admin party: everyone is an admin
  auto set = node("PUT", "/_node/_local/_config/admins/boss", R"("s3cret")");
  REQUIRE(set.status == 200);
  CHECK(trimmed(set) == R"("")");

  auto anonymous = node("GET", "/_node/_local/_config");
  CHECK(anonymous.status == 401);
  CHECK(trimmed(anonymous) == R"({"error":"unauthorized","reason":"You are not a server admin."})");
  CHECK(node("GET", "/_session", "", {basic("boss", "wrong")}).status == 401);
  auto hash = node("GET", "/_node/_local/_config/admins/boss", "", {basic("boss", "s3cret")});
  REQUIRE(hash.status == 200);
  const std::string stored = jsonString(hash);
  CHECK(stored.rfind("-pbkdf2:sha256-", 0) == 0);
  CHECK(stored.find("s3cret") == std::string::npos);
  CHECK(stored.substr(stored.rfind(',') + 1) == "600000");

  const std::string ini = fileText(node.dataDir() + "/local.ini");
  CHECK(ini.find("[admins]") != std::string::npos);
  CHECK(ini.find("boss = " + stored) != std::string::npos);
  CHECK(ini.find("s3cret") == std::string::npos);

  // Deleting the last admin brings admin party back, at once.
  REQUIRE(node("DELETE", "/_node/_local/_config/admins/boss", "", {basic("boss", "s3cret")}).status == 200);
  CHECK(node("GET", "/_node/_local/_config").status == 200);
}

TEST_CASE("Config API: only server admins read or change the configuration", "[http][config]") {
  LiveServer node("[admins]\nadmin = pass\n");
  auto anonymous = node("PUT", "/_node/_local/_config/test/x", R"("y")");
  CHECK(anonymous.status == 401);
  CHECK(Json(anonymous.body).str("error") == "unauthorized");
  REQUIRE(node("PUT", "/_users/org.couchdb.user:joe",
               R"({"name":"joe","password":"pw","roles":[],"type":"user"})", {basic("admin", "pass")})
              .status == 201);
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    INFO(method);
    auto user = node(method, "/_node/_local/_config/test/x", std::string(method) == "PUT" ? R"("y")" : "",
                     {basic("joe", "pw")});
    CHECK(user.status == 403);
    CHECK(trimmed(user) == R"({"error":"forbidden","reason":"You are not a server admin."})");
  }
  CHECK(node("GET", "/_membership", "", {basic("joe", "pw")}).status == 403);
  CHECK(node("GET", "/_node/_local/_system").status == 401);
  // The plain password of the file was hashed at start and written back so.
  auto admin = node("GET", "/_node/_local/_config/admins/admin", "", {basic("admin", "pass")});
  CHECK(jsonString(admin).rfind("-pbkdf2:sha256-", 0) == 0);
}

TEST_CASE("Config API: chttpd/require_valid_user refuses anonymous requests from the next request on",
          "[http][config]") {
  LiveServer node("[admins]\nadmin = pass\n");
  const Header admin = basic("admin", "pass");
  REQUIRE(node("GET", "/").status == 200);
  REQUIRE(node("PUT", "/_node/_local/_config/chttpd/require_valid_user", R"("true")", {admin}).status == 200);
  for (const char* path : {"/", "/_up", "/_all_dbs", "/_session"}) {
    INFO(path);
    auto refused = node("GET", path);
    CHECK(refused.status == 401);
    CHECK(trimmed(refused) == R"({"error":"unauthorized","reason":"Authentication required."})");
  }
  CHECK(node("GET", "/", "", {admin}).status == 200);
  REQUIRE(node("PUT", "/_node/_local/_config/chttpd/require_valid_user", R"("false")", {admin}).status ==
          200);
  CHECK(node("GET", "/").status == 200);
  // The variant that leaves /_up to health checks.
  REQUIRE(node("PUT", "/_node/_local/_config/chttpd/require_valid_user_except_for_up", R"("true")", {admin})
              .status == 200);
  CHECK(node("GET", "/_up").status == 200);
  CHECK(node("GET", "/").status == 401);
}

TEST_CASE("Config API: the session timeout and persistent cookies of [chttpd_auth] shape the next login",
          "[http][config]") {
  LiveServer node;
  auto login = [&] {
    auto r = node("POST", "/_session", R"({"name":"boss","password":"pw"})");
    REQUIRE(r.status == 200);
    const std::string* cookie = r.header("Set-Cookie");
    REQUIRE(cookie);
    return *cookie;
  };
  REQUIRE(node("PUT", "/_node/_local/_config/admins/boss", R"("pw")").status == 200);
  CHECK(login().find("Max-Age=600;") != std::string::npos);
  const Header admin = basic("boss", "pw");
  REQUIRE(node("PUT", "/_node/_local/_config/chttpd_auth/timeout", R"("3600")", {admin}).status == 200);
  CHECK(login().find("Max-Age=3600;") != std::string::npos);
  REQUIRE(
      node("PUT", "/_node/_local/_config/couch_httpd_auth/allow_persistent_cookies", R"("false")", {admin})
          .status == 200);
  CHECK(login().find("Max-Age") == std::string::npos);
}

TEST_CASE(
    "Config API: changes are written to the node's ini file and survive a restart; X-Couch-Persist: "
    "false ones last until _reload",
    "[http][config]") {
  LiveServer node;
  REQUIRE(node("PUT", "/_node/_local/_config/test/kept", R"("yes")").status == 200);
  REQUIRE(node("PUT", "/_node/_local/_config/couchdb/max_document_size", R"("2000")").status == 200);
  REQUIRE(
      node("PUT", "/_node/_local/_config/test/fleeting", R"("no")", {{"X-Couch-Persist", "false"}}).status ==
      200);
  CHECK(jsonString(node("GET", "/_node/_local/_config/test/fleeting")) == "no");
  const std::string ini = fileText(node.dataDir() + "/local.ini");
  CHECK(ini.find("[test]\nkept = yes\n") != std::string::npos);
  CHECK(ini.find("fleeting") == std::string::npos);
  CHECK(!std::filesystem::exists(node.dataDir() + "/local.ini.tmp"));

  // _reload drops what was not persisted and keeps what was.
  auto reload = node("POST", "/_node/_local/_config/_reload");
  CHECK(reload.status == 200);
  CHECK(trimmed(reload) == R"({"ok":true})");
  CHECK(node("GET", "/_node/_local/_config/test/fleeting").status == 404);
  CHECK(jsonString(node("GET", "/_node/_local/_config/test/kept")) == "yes");

  REQUIRE(node("PUT", "/db").status == 201);
  node.kill9();  // no clean shutdown: what was answered was already on disk
  node.start();
  CHECK(jsonString(node("GET", "/_node/_local/_config/test/kept")) == "yes");
  CHECK(jsonString(node("GET", "/_node/_local/_config/couchdb/max_document_size")) == "2000");
  CHECK(node("PUT", "/db/big", docOfSize(3000)).status == 413);  // and the node uses it

  // A delete is written as CouchDB writes it (an empty value), and holds across a restart too.
  REQUIRE(node("DELETE", "/_node/_local/_config/test/kept").status == 200);
  node.kill9();
  node.start();
  CHECK(node("GET", "/_node/_local/_config/test/kept").status == 404);
}

TEST_CASE(
    "Config API: a change is written into the --config file the node was started with, its other "
    "lines kept",
    "[http][config]") {
  LiveServer node("; my settings\n[couchdb]\nmax_document_size = 50000 \n\n[custom]\nfoo = bar\n");
  REQUIRE(node("PUT", "/_node/_local/_config/couchdb/max_document_size", R"("60000")").status == 200);
  REQUIRE(node("PUT", "/_node/_local/_config/couchdb/uuid", R"("0123456789abcdef0123456789abcdef")").status ==
          200);
  REQUIRE(node("PUT", "/_node/_local/_config/extra/k", R"("v")").status == 200);
  node.kill9();
  node.start();
  auto all = node("GET", "/_node/_local/_config");
  Json j(all.body);
  CHECK(std::string(j["couchdb"]["max_document_size"].get_string().value()) == "60000");
  CHECK(std::string(j["custom"]["foo"].get_string().value()) == "bar");
  CHECK(std::string(j["extra"]["k"].get_string().value()) == "v");
  // A setting the node reads only at start (the uuid) is in force after the restart.
  CHECK(Json(node("GET", "/").body).str("uuid") == "0123456789abcdef0123456789abcdef");
}

TEST_CASE("Node: /_membership, /_node/_local, /_node/_local/_system and /_up answer as CouchDB's do",
          "[http][config]") {
  LiveServer node;
  auto membership = node("GET", "/_membership");
  CHECK(membership.status == 200);
  CHECK(trimmed(membership) == R"({"all_nodes":["node1@127.0.0.1"],"cluster_nodes":["node1@127.0.0.1"]})");
  CHECK(trimmed(node("GET", "/_node/_local")) == R"({"name":"node1@127.0.0.1"})");
  CHECK(trimmed(node("GET", "/_node/node1@127.0.0.1")) == R"({"name":"node1@127.0.0.1"})");
  CHECK(node("GET", "/_node/other@host").status == 404);
  auto bare = node("GET", "/_node");
  CHECK(bare.status == 400);
  CHECK(trimmed(bare) == R"({"error":"bad_request","reason":"Incomplete path to _node request"})");

  auto system = node("GET", "/_node/_local/_system");
  REQUIRE(system.status == 200);
  Json s(system.body);
  CHECK(s["uptime"].get_uint64().value() < 3600);
  CHECK(s["memory"]["processes_used"].get_uint64().value() > 0);
  CHECK(s["memory"]["code"].get_uint64().value() > 0);
  CHECK(s["process_count"].get_uint64().value() >= 2);  // the loop and the thread pool at least
  CHECK(s.has("message_queues"));
  CHECK(node("GET", "/_node/_local/_system").status == 200);

  auto up = node("GET", "/_up");
  CHECK(up.status == 200);
  CHECK(Json(up.body).str("status") == "ok");
  // The node's name is the one its other endpoints give.
  CHECK(node("GET", "/_node/node1@127.0.0.1/_stats").status == 200);
}
