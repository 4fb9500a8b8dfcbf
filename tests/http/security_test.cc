// Access control against a real node with an admin configured: what anonymous callers, ordinary users and
// admins may do, and that a replication can never do more than the user who asked for it.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "db/crypto.h"
#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

using Header = std::pair<std::string, std::string>;

Header basic(const std::string& user, const std::string& password) {
  return {"Authorization", "Basic " + settee::db::base64Encode(user + ":" + password)};
}

const Header kAdmin = basic("admin", "s3cret");
const Header kBob = basic("bob", "bobpw");
const Header kEve = basic("eve", "evepw");

// A node with an admin, ordinary users bob and eve, and a database bob is a member of.
struct SecuredNode {
  LiveServer node{"[admins]\nadmin = s3cret\n"};
  SecuredNode() {
    for (const char* name : {"bob", "eve"}) {
      std::string user = name;
      auto r = node("PUT", "/_users/org.couchdb.user:" + user,
                    R"({"name":")" + user + R"(","password":")" + user + R"(pw","roles":[],"type":"user"})",
                    {kAdmin});
      REQUIRE(r.status == 201);
    }
    REQUIRE(node("PUT", "/bobdb", "", {kAdmin}).status == 201);
    REQUIRE(
        node("PUT", "/bobdb/_security", R"({"members":{"names":["bob"]},"admins":{}})", {kAdmin}).status ==
        200);
    REQUIRE(node("PUT", "/secret", "", {kAdmin}).status == 201);
    REQUIRE(node("PUT", "/secret/plans", R"({"launch":"tuesday"})", {kAdmin}).status == 201);
  }
  // Polls until `pred` holds or ~10 s pass.
  template <class F>
  bool eventually(F pred) {
    for (int i = 0; i < 200; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
};

}  // namespace

TEST_CASE("Security: _users and _replicator exist from the start with CouchDB 3's admin-only security",
          "[http][security]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  for (const char* db : {"/_users", "/_replicator"}) {
    auto sec = node("GET", std::string(db) + "/_security", "", {kAdmin});
    REQUIRE(sec.status == 200);
    CHECK(sec.body == R"({"members":{"roles":["_admin"]},"admins":{"roles":["_admin"]}})");
  }
  auto all = node("GET", "/_replicator/_all_docs");
  CHECK(all.status == 401);
  CHECK(Json(all.body).str("reason") == "You are not a server admin.");
  CHECK(node("GET", "/_users/_all_docs").status == 401);
  CHECK(node("PUT", "/_replicator/steal", R"({"source":"x","target":"http://example.com/y"})").status == 401);
  CHECK(node("GET", "/_replicator/_changes").status == 401);
}

TEST_CASE("Security: anonymous POST /_replicate is refused with 401 and copies nothing", "[http][security]") {
  SecuredNode s;
  auto r = s.node("POST", "/_replicate", R"({"source":"secret","target":"stolen","create_target":true})");
  CHECK(r.status == 401);
  CHECK(Json(r.body).str("reason") == "You are not an authenticated user");
  CHECK(s.node("GET", "/stolen", "", {kAdmin}).status == 404);
}

TEST_CASE("Security: a user's replication cannot read a database the user cannot read", "[http][security]") {
  SecuredNode s;
  auto r = s.node("POST", "/_replicate", R"({"source":"secret","target":"bobdb"})", {kBob});
  CHECK(r.status == 403);
  CHECK(s.node("GET", "/bobdb/plans", "", {kAdmin}).status == 404);
  // Nor may it create a database: that is a server admin's right.
  r = s.node("POST", "/_replicate", R"({"source":"bobdb","target":"newdb","create_target":true})", {kBob});
  CHECK(r.status == 403);
  CHECK(s.node("GET", "/newdb", "", {kAdmin}).status == 404);
}

TEST_CASE("Security: a user's replication into _users cannot create an admin", "[http][security]") {
  SecuredNode s;
  REQUIRE(s.node("PUT", "/bobdb/org.couchdb.user:mallory",
                 R"({"name":"mallory","password":"m","roles":["_admin"],"type":"user"})", {kBob})
              .status == 201);
  auto r = s.node("POST", "/_replicate", R"({"source":"bobdb","target":"_users"})", {kBob});
  CHECK((r.status == 401 || r.status == 403));
  CHECK(s.node("GET", "/_users/org.couchdb.user:mallory", "", {kAdmin}).status == 404);
  CHECK(s.node("GET", "/_all_dbs", "", {basic("mallory", "m")}).status == 401);
  // The same replication asked for by an admin is the admin's to make; yet _users/_design/_auth refuses
  // a system role even to an admin, as CouchDB's does: the document is a write failure.
  r = s.node("POST", "/_replicate", R"({"source":"bobdb","target":"_users"})", {kAdmin});
  CHECK(r.status == 200);
  CHECK(uint64_t(Json(r.body)["history"].at(0)["doc_write_failures"]) == 1);
  CHECK(s.node("GET", "/_users/org.couchdb.user:mallory", "", {kAdmin}).status == 404);
}

TEST_CASE("Security: a _replicator document runs with its writer's rights, whatever user_ctx it claims",
          "[http][security]") {
  SecuredNode s;
  // An admin lets members write replication documents; bob is one.
  REQUIRE(
      s.node("PUT", "/_replicator/_security", R"({"members":{"names":["bob","eve"]},"admins":{}})", {kAdmin})
          .status == 200);
  REQUIRE(s.node("PUT", "/bobdb/org.couchdb.user:mallory",
                 R"({"name":"mallory","password":"m","roles":["_admin"],"type":"user"})", {kBob})
              .status == 201);
  auto put = s.node(
      "PUT", "/_replicator/bobjob",
      R"({"source":"bobdb","target":"_users","user_ctx":{"name":"admin","roles":["_admin"]},"owner":"admin"})",
      {kBob});
  REQUIRE(put.status == 201);
  // The stored document says who really asked.
  Json stored(s.node("GET", "/_replicator/bobjob", "", {kAdmin}).body);
  CHECK(stored.str("owner") == "bob");
  CHECK(std::string(stored["user_ctx"]["name"].get_string().value()) == "bob");
  CHECK(stored["user_ctx"]["roles"].get_array().value().size() == 0);
  // It fails for want of rights, and _users is untouched.
  CHECK(s.eventually([&] {
    auto doc = s.node("GET", "/_replicator/bobjob", "", {kAdmin});
    return doc.body.find(R"("_replication_state":"failed")") != std::string::npos;
  }));
  CHECK(s.node("GET", "/_users/org.couchdb.user:mallory", "", {kAdmin}).status == 404);

  // Another member can neither change nor delete bob's document, nor read it.
  std::string rev = Json(s.node("GET", "/_replicator/bobjob", "", {kAdmin}).body).str("_rev");
  CHECK(
      s.node("PUT", "/_replicator/bobjob?rev=" + rev, R"({"source":"bobdb","target":"x"})", {kEve}).status ==
      403);
  CHECK(s.node("DELETE", "/_replicator/bobjob?rev=" + rev, "", {kEve}).status == 403);
  CHECK(s.node("GET", "/_replicator/bobjob", "", {kEve}).status == 404);
  // Listings and feeds are for admins only.
  CHECK(s.node("GET", "/_replicator/_all_docs", "", {kBob}).status == 403);
  CHECK(s.node("GET", "/_replicator/_changes", "", {kBob}).status == 403);
  // Replicated writes (new_edits=false) into a system database are refused to non-admins.
  CHECK(
      s.node(
           "POST", "/_replicator/_bulk_docs",
           R"({"new_edits":false,"docs":[{"_id":"j","_rev":"1-abc","source":"bobdb","target":"_users","user_ctx":{"name":"admin","roles":["_admin"]}}]})",
           {kBob})
          .status == 403);
  CHECK(s.node("GET", "/_replicator/j", "", {kAdmin}).status == 404);
  // Nor can a replication bring such documents in: bob's own database as the source, _replicator (where
  // he is a member) as the target.
  REQUIRE(s.node("PUT", "/bobdb/sneaky",
                 R"({"source":"bobdb","target":"_users","user_ctx":{"name":"admin","roles":["_admin"]}})",
                 {kBob})
              .status == 201);
  s.node("POST", "/_replicate", R"({"source":"bobdb","target":"_replicator"})", {kBob});
  CHECK(s.node("GET", "/_replicator/sneaky", "", {kAdmin}).status == 404);
  // Nor copy an admin's document into one of his own.
  REQUIRE(
      s.node("PUT", "/_replicator/adminjob", R"({"source":"secret","target":"secret2"})", {kAdmin}).status ==
      201);
  CHECK(s.node("COPY", "/_replicator/adminjob", "", {kBob, {"Destination", "mine"}}).status == 403);
  CHECK(s.node("GET", "/_replicator/mine", "", {kAdmin}).status == 404);
}

TEST_CASE("Security: credentials in replication documents are shown to admins only", "[http][security]") {
  SecuredNode s;
  REQUIRE(s.node("PUT", "/_replicator/_security", R"({"members":{"names":["bob"]},"admins":{}})", {kAdmin})
              .status == 200);
  std::string remote = "http://bob:hunter2@127.0.0.1:" + std::to_string(s.node.port()) + "/bobdb";
  auto put = s.node(
      "PUT", "/_replicator/withpw",
      R"({"source":")" + remote +
          R"(","target":{"url":"http://127.0.0.1:1/x","headers":{"Authorization":"Basic c2VjcmV0"}},"continuous":true})",
      {kBob});
  REQUIRE(put.status == 201);
  auto own = s.node("GET", "/_replicator/withpw", "", {kBob});
  REQUIRE(own.status == 200);
  CHECK(own.body.find("hunter2") == std::string::npos);
  CHECK(own.body.find("c2VjcmV0") == std::string::npos);
  CHECK(own.body.find("*****") != std::string::npos);
  // The admin sees the document as written.
  CHECK(s.node("GET", "/_replicator/withpw", "", {kAdmin}).body.find("hunter2") != std::string::npos);
  // The scheduler and the task list mask them for everyone.
  CHECK(s.eventually([&] {
    return s.node("GET", "/_scheduler/docs", "", {kAdmin}).body.find("withpw") != std::string::npos;
  }));
  for (const char* path : {"/_scheduler/docs", "/_scheduler/jobs", "/_active_tasks"}) {
    auto r = s.node("GET", path, "", {kAdmin});
    CHECK(r.status == 200);
    CHECK(r.body.find("hunter2") == std::string::npos);
    CHECK(r.body.find("c2VjcmV0") == std::string::npos);
    CHECK(s.node("GET", path, "", {kBob}).status == 403);
  }
}

TEST_CASE("Security: a malformed _security object is a 400 and the old protection stays",
          "[http][security]") {
  SecuredNode s;
  for (const char* bad : {R"({"members":{"names":"bob"}})", R"({"members":["bob"]})",
                          R"({"admins":{"roles":[1]}})", R"([])", R"("admins")"}) {
    auto r = s.node("PUT", "/secret/_security", bad, {kAdmin});
    CHECK(r.status == 400);
    CHECK(Json(r.body).str("error") == "bad_request");
  }
  CHECK(s.node("GET", "/secret/_security", "", {kAdmin}).body ==
        R"({"members":{"roles":["_admin"]},"admins":{"roles":["_admin"]}})");
  CHECK(s.node("GET", "/secret/plans", "", {kBob}).status == 403);
  // _users keeps CouchDB 3's admin-only security (users_db_security_editable = false).
  CHECK(s.node("PUT", "/_users/_security", R"({"members":{"names":["bob"]}})", {kAdmin}).status == 403);
}

TEST_CASE("Security: a user cannot cancel another user's replication", "[http][security]") {
  SecuredNode s;
  REQUIRE(s.node("PUT", "/bobcopy", "", {kAdmin}).status == 201);
  REQUIRE(s.node("PUT", "/bobcopy/_security", R"({"members":{"names":["bob"]}})", {kAdmin}).status == 200);
  auto started =
      s.node("POST", "/_replicate", R"({"source":"bobdb","target":"bobcopy","continuous":true})", {kBob});
  REQUIRE(started.status == 202);
  // Eve may not read bobdb, so to her the job does not exist: refused before any lookup.
  auto byEve =
      s.node("POST", "/_replicate", R"({"source":"bobdb","target":"bobcopy","cancel":true})", {kEve});
  CHECK((byEve.status == 403 || byEve.status == 404));
  CHECK(s.node("GET", "/_scheduler/jobs", "", {kAdmin}).body.find("bobcopy") != std::string::npos);
  CHECK(s.node("POST", "/_replicate", R"({"source":"bobdb","target":"bobcopy","cancel":true})", {kBob})
            .status == 200);
}
