// POST and GET /_dbs_info against a real `settee serve`: many databases' info in one answer, as CouchDB
// 3.4 gives it — each name in order with its info or not_found, CouchDB's cap on the number of names
// (max_db_number_for_dbs_info_req) and its errors, the listing form with _all_dbs' paging parameters.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

std::string str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

std::vector<std::string> keysOf(const std::string& body) {
  Json j(body);
  std::vector<std::string> out;
  for (auto e : j.root().get_array()) out.push_back(str(e["key"]));
  return out;
}

}  // namespace

TEST_CASE("DbsInfo: POST /_dbs_info answers each name in order, info or not_found",
          "[http][readapi][dbsinfo]") {
  LiveServer node("[chttpd]\nmax_db_number_for_dbs_info_req = 3\n");
  node("PUT", "/m");
  node("PUT", "/m/d", R"({"v":1})");
  node("PUT", "/other");
  auto r = node("POST", "/_dbs_info", R"({"keys": ["m", "nope", "other"]})");
  REQUIRE(r.status == 200);
  Json j(r.body);
  auto list = j.root().get_array();
  REQUIRE(list.size() == 3);
  CHECK(str(list.at(0)["key"]) == "m");
  auto info = list.at(0)["info"];
  CHECK(str(info["db_name"]) == "m");
  CHECK(int64_t(info["doc_count"]) == 1);
  CHECK(int64_t(info["doc_del_count"]) == 0);
  CHECK(info["sizes"]["file"].is_uint64());
  CHECK(str(info["instance_start_time"]) == Json(node("GET", "/m").body).str("instance_start_time"));
  CHECK(str(list.at(1)["key"]) == "nope");
  CHECK(str(list.at(1)["error"]) == "not_found");
  CHECK(list.at(1)["info"].error());
  CHECK(str(list.at(2)["info"]["db_name"]) == "other");

  // A name no database can have, or a key that is not a string, names no database.
  Json odd(node("POST", "/_dbs_info", R"({"keys":["Bad Name",42,"_users"]})").body);
  auto oddList = odd.root().get_array();
  CHECK(str(oddList.at(0)["error"]) == "not_found");
  CHECK(int64_t(oddList.at(1)["key"]) == 42);
  CHECK(str(oddList.at(1)["error"]) == "not_found");
  CHECK(str(oddList.at(2)["info"]["db_name"]) == "_users");
  CHECK(node("POST", "/_dbs_info", R"({"keys":[]})").body == "[]");

  struct Bad {
    std::string body;
    int status;
    std::string reason;
  };
  for (const Bad& c : {Bad{R"({"keys":["m","m","m","m"]})", 400, "too_many_keys"},
                       Bad{R"({"names":["m"]})", 400, "`keys` member must exist."},
                       Bad{R"({"keys":"m"})", 400, "`keys` member must be an array."},
                       Bad{R"(["m"])", 400, ""}, Bad{R"({"keys":[)", 400, ""}}) {
    INFO(c.body);
    auto bad = node("POST", "/_dbs_info", c.body);
    CHECK(bad.status == c.status);
    CHECK(Json(bad.body).str("error") == "bad_request");
    if (!c.reason.empty()) CHECK(Json(bad.body).str("reason") == c.reason);
  }
  CHECK(node("POST", "/_dbs_info", R"({"keys":["m"]})", {{"Content-Type", "text/plain"}}).status == 415);
  CHECK(node("PUT", "/_dbs_info", R"({"keys":["m"]})").status == 405);
}

TEST_CASE("DbsInfo: CouchDB's default cap of 100 names on /_dbs_info", "[http][readapi][dbsinfo]") {
  LiveServer node;
  node("PUT", "/m");
  auto keys = [](int n) {
    std::string s = R"({"keys":[)";
    for (int i = 0; i < n; ++i) s += std::string(i ? "," : "") + "\"m\"";
    return s + "]}";
  };
  auto ok = node("POST", "/_dbs_info", keys(100));
  REQUIRE(ok.status == 200);
  CHECK(Json(ok.body).root().get_array().size() == 100);
  auto over = node("POST", "/_dbs_info", keys(101));
  CHECK(over.status == 400);
  CHECK(Json(over.body).str("reason") == "too_many_keys");
}

TEST_CASE("DbsInfo: GET lists every database's info in name order, with _all_dbs' paging",
          "[http][readapi][dbsinfo]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  const std::pair<std::string, std::string> admin{"Authorization", "Basic YWRtaW46czNjcmV0"};  // admin:s3cret
  for (const char* db : {"/b", "/a", "/c"}) REQUIRE(node("PUT", db, "", {admin}).status == 201);
  REQUIRE(node("PUT", "/b/doc", R"({"v":1})", {admin}).status == 201);
  using V = std::vector<std::string>;
  auto all = node("GET", "/_dbs_info", "", {admin});
  REQUIRE(all.status == 200);
  CHECK(keysOf(all.body) == V{"_replicator", "_users", "a", "b", "c"});
  Json j(all.body);
  auto b = j.root().get_array().at(3)["info"];
  CHECK(str(b["db_name"]) == "b");
  CHECK(int64_t(b["doc_count"]) == 1);
  CHECK(keysOf(node("GET", "/_dbs_info?descending=true&limit=2", "", {admin}).body) == V{"c", "b"});
  CHECK(keysOf(node("GET", "/_dbs_info?skip=3", "", {admin}).body) == V{"b", "c"});
  CHECK(keysOf(node("GET", "/_dbs_info?startkey=%22a%22&endkey=%22b%22", "", {admin}).body) == V{"a", "b"});
  CHECK(
      keysOf(node("GET", "/_dbs_info?descending=true&start_key=%22b%22&end_key=%22a%22", "", {admin}).body) ==
      V{"b", "a"});
  CHECK(node("GET", "/_dbs_info?limit=-1", "", {admin}).status == 400);
  CHECK(node("GET", "/_dbs_info?startkey=3", "", {admin}).status == 400);
  CHECK(node("GET", "/_dbs_info").status == 401);
}
