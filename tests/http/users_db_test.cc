// The `_users` database as CouchDB 3.4 keeps it, against a real `settee serve`: `_design/_auth` is there
// from the start, and its rules hold on every write path, natively (no query server needed).
#include <catch2/catch.hpp>
#include <cstdlib>
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

std::string reason(const HttpReply& r) { return Json(r.body).str("reason"); }

// Unset on destruction: the server started meanwhile took the variable with it.
struct EnvVar {
  EnvVar(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~EnvVar() { unsetenv(name_); }
  const char* name_;
};

const char* kAdminIni = "[admins]\nadmin = pass\n";

}  // namespace

TEST_CASE("_users: _design/_auth exists with a validate_doc_update once the node has made _users",
          "[http][users]") {
  LiveServer node(kAdminIni);
  auto ddoc = node("GET", "/_users/_design/_auth", "", {basic("admin", "pass")});
  REQUIRE(ddoc.status == 200);
  Json j(ddoc.body);
  CHECK(j.str("language") == "javascript");
  CHECK(j.str("validate_doc_update").find("org.couchdb.user:") != std::string::npos);
  auto anonymous = node("GET", "/_users/_design/_auth");
  CHECK(anonymous.status == 401);
  // Deleted by an admin, it is back at the next start, as CouchDB puts it back.
  REQUIRE(node("DELETE", "/_users/_design/_auth?rev=" + j.str("_rev"), "", {basic("admin", "pass")}).status ==
          200);
  node.kill9();
  node.start();
  CHECK(node("GET", "/_users/_design/_auth", "", {basic("admin", "pass")}).status == 200);
}

TEST_CASE("_users: admins too must write well-formed user documents, on every write path", "[http][users]") {
  LiveServer node(kAdminIni);
  const Header admin = basic("admin", "pass");
  struct Case {
    const char* id;
    const char* body;
    const char* reason;
  };
  const Case cases[] = {
      {"org.couchdb.user:joe", R"({"name":"joe","roles":[],"type":"person"})", "doc.type must be user"},
      {"org.couchdb.user:joe", R"({"roles":[],"type":"user"})", "doc.name is required"},
      {"org.couchdb.user:joe", R"({"name":"joe","type":"user"})", "doc.roles must exist"},
      {"org.couchdb.user:joe", R"({"name":"joe","roles":"x","type":"user"})", "doc.roles must be an array"},
      {"org.couchdb.user:joe", R"({"name":"joe","roles":[1],"type":"user"})",
       "doc.roles can only contain strings"},
      {"org.couchdb.user:joe", R"({"name":"jim","roles":[],"type":"user"})",
       "Doc ID must be of the form org.couchdb.user:name"},
      {"joe", R"({"name":"joe","roles":[],"type":"user"})",
       "Doc ID must be of the form org.couchdb.user:name"},
      {"org.couchdb.user:joe", R"({"name":"joe","roles":["_admin"],"type":"user"})",
       "No system roles (starting with underscore) in users db."},
      {"org.couchdb.user:_joe", R"({"name":"_joe","roles":[],"type":"user"})",
       "Username may not start with underscore."},
      {"org.couchdb.user:a:b", R"({"name":"a:b","roles":[],"type":"user"})",
       "Character `:` is not allowed in usernames."},
      {"org.couchdb.user:joe", R"({"name":"joe","roles":[],"type":"user","password_scheme":"rot13"})",
       "Password scheme `rot13` not supported."},
      {"org.couchdb.user:joe", R"({"name":"joe","roles":[],"type":"user","password_sha":"abc"})",
       "Users with password_sha must have a salt.See /_utils/script/couch.js for example code."},
  };
  for (const Case& c : cases) {
    INFO(c.id << " " << c.body);
    auto put = node("PUT", std::string("/_users/") + c.id, c.body, {admin});
    CHECK(put.status == 403);
    CHECK(Json(put.body).str("error") == "forbidden");
    CHECK(reason(put) == c.reason);
  }
  // POST and _bulk_docs judge alike (the bulk answer per document).
  auto post = node("POST", "/_users", R"({"_id":"org.couchdb.user:joe","name":"joe","roles":[],"type":"x"})",
                   {admin});
  CHECK(post.status == 403);
  CHECK(reason(post) == "doc.type must be user");
  auto bulk = node("POST", "/_users/_bulk_docs",
                   R"({"docs":[{"_id":"org.couchdb.user:ann","name":"ann","roles":[],"type":"user"},)"
                   R"({"_id":"org.couchdb.user:bob","name":"bob","roles":[],"type":"robot"}]})",
                   {admin});
  REQUIRE(bulk.status == 201);
  Json rows(bulk.body);
  auto list = rows.root().get_array().value();
  CHECK(list.at(0)["ok"].get_bool().value());
  CHECK(std::string(list.at(1)["error"].get_string().value()) == "forbidden");
  CHECK(std::string(list.at(1)["reason"].get_string().value()) == "doc.type must be user");

  // Well-formed: written, and the name can then not change.
  auto good = node("PUT", "/_users/org.couchdb.user:joe",
                   R"({"name":"joe","password":"pw","roles":["dev"],"type":"user"})", {admin});
  REQUIRE(good.status == 201);
  auto rename = node(
      "PUT", "/_users/org.couchdb.user:joe",
      R"({"_rev":")" + Json(good.body).str("rev") + R"(","name":"joe2","roles":[],"type":"user"})", {admin});
  CHECK(reason(rename) == "Doc ID must be of the form org.couchdb.user:name");
}

TEST_CASE(
    "_users: anyone let in may sign up without roles; a user edits only their own document, never its "
    "roles",
    "[http][users]") {
  // No JavaScript query server at all: the rules must hold without one.
  EnvVar noQueryServer("COUCHDB_QUERY_SERVER_JAVASCRIPT", "/nonexistent/query-server");
  LiveServer node(kAdminIni);
  const Header admin = basic("admin", "pass");
  // Open _users to anonymous callers, as a node that takes sign-ups does (CouchDB 3 keeps its security
  // object admin-only unless [couchdb] users_db_security_editable says otherwise).
  auto locked =
      node("PUT", "/_users/_security", R"({"members":{"roles":[]},"admins":{"roles":["_admin"]}})", {admin});
  CHECK(locked.status == 403);
  REQUIRE(
      node("PUT", "/_node/_local/_config/couchdb/users_db_security_editable", R"("true")", {admin}).status ==
      200);
  REQUIRE(
      node("PUT", "/_users/_security", R"({"members":{"roles":[]},"admins":{"roles":["_admin"]}})", {admin})
          .status == 200);

  auto withRoles = node("PUT", "/_users/org.couchdb.user:amy",
                        R"({"name":"amy","password":"pw","roles":["boss"],"type":"user"})");
  CHECK(withRoles.status == 403);
  CHECK(reason(withRoles) == "Only _admin may set roles");
  auto signup = node("PUT", "/_users/org.couchdb.user:amy",
                     R"({"name":"amy","password":"pw","roles":[],"type":"user"})");
  REQUIRE(signup.status == 201);
  REQUIRE(node("PUT", "/_users/org.couchdb.user:bob",
               R"({"name":"bob","password":"pw","roles":[],"type":"user"})")
              .status == 201);
  const Header amy = basic("amy", "pw");
  CHECK(node("GET", "/_session", "", {amy}).status == 200);

  std::string rev = Json(signup.body).str("rev");
  auto promote = node("PUT", "/_users/org.couchdb.user:amy",
                      R"({"_rev":")" + rev + R"(","name":"amy","roles":["boss"],"type":"user"})", {amy});
  CHECK(promote.status == 403);
  CHECK(reason(promote) == "Only _admin may edit roles");
  auto edit =
      node("PUT", "/_users/org.couchdb.user:amy",
           R"({"_rev":")" + rev + R"(","name":"amy","password":"pw","roles":[],"type":"user","city":"Oslo"})",
           {amy});
  CHECK(edit.status == 201);
  auto bobs =
      node("PUT", "/_users/org.couchdb.user:bob", R"({"name":"bob","roles":[],"type":"user"})", {amy});
  CHECK(bobs.status == 403);
  CHECK(reason(bobs) == "You may only update your own user document.");
  // An anonymous caller may not overwrite an existing user.
  auto overwrite = node("PUT", "/_users/org.couchdb.user:bob", R"({"name":"bob","roles":[],"type":"user"})");
  CHECK(overwrite.status == 403);

  // An admin gives roles; a user deletes only their own document.
  auto bob = node("GET", "/_users/org.couchdb.user:bob", "", {admin});
  REQUIRE(bob.status == 200);
  std::string bobRev = Json(bob.body).str("_rev");
  auto given = node("PUT", "/_users/org.couchdb.user:bob",
                    R"({"_rev":")" + bobRev + R"(","name":"bob","roles":["boss"],"type":"user"})", {admin});
  CHECK(given.status == 201);
  auto amyDeletesBob =
      node("DELETE", "/_users/org.couchdb.user:bob?rev=" + Json(given.body).str("rev"), "", {amy});
  CHECK(amyDeletesBob.status == 403);
  auto amyDoc = node("GET", "/_users/org.couchdb.user:amy", "", {amy});
  REQUIRE(amyDoc.status == 200);
  CHECK(
      node("DELETE", "/_users/org.couchdb.user:amy?rev=" + Json(amyDoc.body).str("_rev"), "", {amy}).status ==
      200);
}
