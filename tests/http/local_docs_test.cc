// GET/POST /{db}/_local_docs (and .../queries) against a real `settee serve`: the _local documents, which
// _all_docs never lists, with _all_docs' options, and CouchDB 3.4's `"total_rows":null,"offset":null`.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;
using settee::test::percentEncode;

namespace {

std::string str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

std::vector<std::string> rowIds(simdjson::dom::element listing) {
  std::vector<std::string> out;
  for (auto row : listing["rows"].get_array()) out.push_back(str(row["key"]));
  return out;
}

std::vector<std::string> rowIds(const std::string& body) { return rowIds(Json(body).root()); }

void seed(const LiveServer& node) {
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/plain", R"({"v":0})").status == 201);
  for (const char* id : {"c", "a", "b", "d"})
    REQUIRE(node("PUT", std::string("/db/_local/") + id, std::string(R"({"name":")") + id + "\"}").status ==
            201);
  // A second edit (0-2) and a deleted one, which leaves no row.
  REQUIRE(node("PUT", "/db/_local/b", R"({"_rev":"0-1","name":"b2"})").status == 201);
  REQUIRE(node("DELETE", "/db/_local/d?rev=0-1").status == 200);
}

}  // namespace

TEST_CASE("LocalDocs: lists only _local documents, in id order, with total_rows and offset null",
          "[http][localdocs]") {
  LiveServer node;
  seed(node);
  auto r = node("GET", "/db/_local_docs");
  REQUIRE(r.status == 200);
  Json j(r.body);
  CHECK(j["total_rows"].is_null());
  CHECK(j["offset"].is_null());
  auto rows = j["rows"].get_array();
  REQUIRE(rows.size() == 3);
  CHECK(str(rows.at(0)["id"]) == "_local/a");
  CHECK(str(rows.at(0)["key"]) == "_local/a");
  CHECK(str(rows.at(0)["value"]["rev"]) == "0-1");
  CHECK(str(rows.at(1)["id"]) == "_local/b");
  CHECK(str(rows.at(1)["value"]["rev"]) == "0-2");
  CHECK(str(rows.at(2)["id"]) == "_local/c");
  CHECK(rows.at(0)["doc"].error());
  // _all_docs never shows them.
  CHECK(rowIds(node("GET", "/db/_all_docs").body) == std::vector<std::string>{"plain"});
}

TEST_CASE("LocalDocs: include_docs, ranges, descending, limit, skip and update_seq as _all_docs has them",
          "[http][localdocs]") {
  LiveServer node;
  seed(node);
  Json docs(node("GET", "/db/_local_docs?include_docs=true").body);
  auto first = docs["rows"].get_array().at(1)["doc"];
  CHECK(str(first["_id"]) == "_local/b");
  CHECK(str(first["_rev"]) == "0-2");
  CHECK(str(first["name"]) == "b2");

  auto q = [&](const std::string& query) { return rowIds(node("GET", "/db/_local_docs?" + query).body); };
  using V = std::vector<std::string>;
  CHECK(q("descending=true") == V{"_local/c", "_local/b", "_local/a"});
  CHECK(q("limit=2") == V{"_local/a", "_local/b"});
  CHECK(q("skip=1&limit=1") == V{"_local/b"});
  CHECK(q("startkey=" + percentEncode("\"_local/b\"")) == V{"_local/b", "_local/c"});
  CHECK(q("start_key=" + percentEncode("\"_local/b\"") + "&end_key=" + percentEncode("\"_local/c\"") +
          "&inclusive_end=false") == V{"_local/b"});
  CHECK(q("endkey=" + percentEncode("\"_local/b\"")) == V{"_local/a", "_local/b"});
  CHECK(q("descending=true&startkey=" + percentEncode("\"_local/b\"")) == V{"_local/b", "_local/a"});
  CHECK(q("key=" + percentEncode("\"_local/c\"")) == V{"_local/c"});
  Json seq(node("GET", "/db/_local_docs?update_seq=true").body);
  CHECK(seq.has("update_seq"));
  // The offset stays null with a range too: CouchDB keeps no count of _local documents.
  CHECK(Json(node("GET", "/db/_local_docs?skip=1").body)["offset"].is_null());
  CHECK(node("GET", "/db/_local_docs?limit=-1").status == 400);
}

TEST_CASE("LocalDocs: keys, by query string or POST body, answer each id or not_found", "[http][localdocs]") {
  LiveServer node;
  seed(node);
  auto r = node("POST", "/db/_local_docs", R"({"keys":["_local/c","_local/zz","_local/a","plain"]})");
  REQUIRE(r.status == 200);
  Json j(r.body);
  CHECK(j["total_rows"].is_null());
  CHECK(j["offset"].is_null());
  auto rows = j["rows"].get_array();
  REQUIRE(rows.size() == 4);
  CHECK(str(rows.at(0)["id"]) == "_local/c");
  CHECK(str(rows.at(1)["key"]) == "_local/zz");
  CHECK(str(rows.at(1)["error"]) == "not_found");
  CHECK(str(rows.at(2)["value"]["rev"]) == "0-1");
  // A regular document is no _local one.
  CHECK(str(rows.at(3)["error"]) == "not_found");

  auto byQuery = node("GET", "/db/_local_docs?include_docs=true&keys=" + percentEncode(R"(["_local/a"])"));
  REQUIRE(byQuery.status == 200);
  CHECK(str(Json(byQuery.body)["rows"].get_array().at(0)["doc"]["name"]) == "a");

  auto bad = node("POST", "/db/_local_docs", R"({"keys":"_local/a"})");
  CHECK(bad.status == 400);
  CHECK(Json(bad.body).str("reason") == "`keys` body member must be an array.");
  CHECK(node("GET", "/nodb/_local_docs").status == 404);
}

TEST_CASE("LocalDocs: POST .../queries answers one listing per query", "[http][localdocs]") {
  LiveServer node;
  seed(node);
  auto r = node("POST", "/db/_local_docs/queries",
                R"({"queries":[{"keys":["_local/b"]},{"limit":1,"descending":true},{}]})");
  REQUIRE(r.status == 200);
  Json j(r.body);
  auto results = j["results"].get_array();
  REQUIRE(results.size() == 3);
  CHECK(rowIds(results.at(0)) == std::vector<std::string>{"_local/b"});
  CHECK(rowIds(results.at(1)) == std::vector<std::string>{"_local/c"});
  CHECK(rowIds(results.at(2)).size() == 3);
  CHECK(results.at(2)["total_rows"].is_null());
}
