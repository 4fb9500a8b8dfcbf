// Mango over HTTP against a real `settee serve`: the requests of ../shared/transcripts/couchdb-mango.txt
// (CouchDB 3.4.3's answers) replayed, their shapes and values compared, and who may call what.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "db/crypto.h"
#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

using Header = std::pair<std::string, std::string>;

// The transcript's database "m": twelve orders and two customers.
void seed(const LiveServer& node) {
  REQUIRE(node("PUT", "/m").status == 201);
  std::string docs = R"({"docs":[)";
  for (int n = 0; n < 12; ++n) {
    char id[8];
    std::snprintf(id, sizeof id, "o%03d", n);
    const char* tags[] = {"[]", R"(["a"])", R"(["a","b"])"};
    docs += std::string(R"({"_id":")") + id + R"(","type":"order","route":"r)" + std::to_string(n % 3) +
            R"(","status":")" + (n % 2 ? "done" : "open") + R"(","ts":)" + std::to_string(1000 + n) +
            R"(,"tags":)" + tags[n % 3] + R"(,"n":)" + std::to_string(n) + "},";
  }
  docs +=
      R"({"_id":"c1","type":"customer","name":"Ann"},{"_id":"c2","type":"customer","name":"Bob","vip":true}]})";
  REQUIRE(node("POST", "/m/_bulk_docs", docs).status == 201);
}

std::vector<std::string> docIds(const Json& body) {
  std::vector<std::string> out;
  for (auto doc : body["docs"].get_array()) out.emplace_back(doc["_id"].get_string().value());
  return out;
}

}  // namespace

TEST_CASE("Find over HTTP: a full scan answers in CouchDB's layout with its warning (#2, #14-#16)",
          "[http][find]") {
  LiveServer node;
  seed(node);
  auto r = node("POST", "/m/_find", R"({"selector": {"type": "order", "status": "open"}, "limit": 3})");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type")->find("application/json") == 0);
  // A document a line, then the bookmark and the warning, as CouchDB writes them.
  CHECK(r.body.rfind("{\"docs\":[\n{\"_id\":\"o000\",\"_rev\":\"1-", 0) == 0);
  CHECK(r.body.find("\n],\n\"bookmark\": \"") != std::string::npos);
  Json body(r.body);
  CHECK(docIds(body) == std::vector<std::string>{"o000", "o002", "o004"});
  CHECK(body.str("warning") == "No matching index found, create an index to optimize query time.");
  CHECK_FALSE(body.has("execution_stats"));
  Json first(std::string(simdjson::to_string(body["docs"].at(0).value())));
  CHECK(first.str("route") == "r0");
  CHECK(int64_t(first["ts"]) == 1000);

  Json ops(node("POST", "/m/_find", R"({"selector": {"tags": {"$size": 2}, "n": {"$mod": [4, 2]}}})").body);
  CHECK(docIds(ops) == std::vector<std::string>{"o002"});
  CHECK(ops.str("warning") ==
        "No matching index found, create an index to optimize query time.\nThe number of documents examined "
        "is high "
        "in proportion to the number of results returned. Consider adding a more specific index to improve "
        "this.");

  auto projected = node("POST", "/m/_find",
                        R"({"selector": {"$or": [{"name": "Ann"}, {"vip": true}]}, "fields": ["name"]})");
  CHECK(projected.body.rfind("{\"docs\":[\n{\"name\":\"Ann\"},\n{\"name\":\"Bob\"}\n],", 0) == 0);
  CHECK(Json(projected.body).str("warning") ==
        "No matching index found, create an index to optimize query time.");

  Json regex(node("POST", "/m/_find", R"({"selector": {"name": {"$regex": "^A"}}})").body);
  CHECK(docIds(regex) == std::vector<std::string>{"c1"});
}

TEST_CASE("Find over HTTP: errors are CouchDB's (#3, #18-#20)", "[http][find]") {
  LiveServer node;
  seed(node);
  struct Case {
    const char* body;
    int status;
    const char* error;
    const char* reason;
  };
  const Case cases[] = {
      {R"({"selector": {"type": "order"}, "sort": [{"ts": "desc"}]})", 400, "no_usable_index",
       "No index exists for this sort, try indexing by the sort fields."},
      {R"({"selector": {"type": {"$bogus": 1}}})", 400, "invalid_operator", "Invalid operator: $bogus"},
      {R"({"selector": "x"})", 400, "invalid_selector_json", "Selector must be a JSON object, not: <<120>>"},
      {R"({"selector": {"type": "order"}, "limit": -1})", 400, "invalid_non_neg_integer",
       "-1 is not an integer greater than or equal to zero"},
      {R"({"selector": {}, "sort": [{"a": "asc"}, {"b": "desc"}]})", 400, "unsupported_mixed_sort",
       "Sorts currently only support a single direction for all fields."},
      {R"({"selector": {}, "bookmark": "nonsense"})", 400, "invalid_bookmark",
       "Invalid bookmark value: \"nonsense\""},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto r = node("POST", "/m/_find", c.body);
    CHECK(r.status == c.status);
    Json body(r.body);
    CHECK(body.str("error") == c.error);
    CHECK(body.str("reason") == c.reason);
  }
  CHECK(node("POST", "/m/_find", R"({"selector": {}})", {{"Content-Type", "text/plain"}}).status == 415);
  CHECK(node("POST", "/nope/_find", R"({"selector": {}})").status == 404);
  CHECK(node("GET", "/m/_find").status == 405);
}

TEST_CASE("Find over HTTP: bookmarks page on, execution_stats are reported when asked", "[http][find]") {
  LiveServer node;
  seed(node);
  std::vector<std::string> seen;
  std::string bookmark;
  for (int page = 0; page < 6; ++page) {
    std::string body =
        R"({"selector": {"type": "order", "ts": {"$gt": 1000}}, "limit": 4, "execution_stats": true)";
    if (!bookmark.empty()) body += R"(, "bookmark": ")" + bookmark + "\"";
    Json r(node("POST", "/m/_find", body + "}").body);
    auto ids = docIds(r);
    Json stats(std::string(simdjson::to_string(r["execution_stats"])));
    CHECK(uint64_t(stats["results_returned"]) == ids.size());
    CHECK(uint64_t(stats["total_quorum_docs_examined"]) == 0);
    CHECK(stats["execution_time_ms"].is_number());
    if (ids.empty()) break;
    seen.insert(seen.end(), ids.begin(), ids.end());
    bookmark = r.str("bookmark");
  }
  CHECK(seen.size() == 11);
  CHECK(seen.front() == "o001");
  CHECK(seen.back() == "o011");
}

TEST_CASE("Find over HTTP: _explain of a full scan matches CouchDB's (#13)", "[http][find]") {
  LiveServer node;
  seed(node);
  auto r = node("POST", "/m/_explain", R"({"selector": {"name": "Ann"}})");
  REQUIRE(r.status == 200);
  Json body(r.body);
  CHECK(body.str("dbname") == "m");
  CHECK(simdjson::to_string(body["index"]) ==
        R"({"ddoc":null,"name":"_all_docs","type":"special","def":{"fields":[{"_id":"asc"}]}})");
  CHECK(simdjson::to_string(body["selector"]) == R"({"name":{"$eq":"Ann"}})");
  CHECK(simdjson::to_string(body["mrargs"]) ==
        R"({"include_docs":true,"view_type":"map","reduce":false,"partition":null,"start_key":null,)"
        R"("end_key":"<MAX>","direction":"fwd","stable":false,"update":true,"conflicts":"undefined"})");
  CHECK(simdjson::to_string(body["opts"]) ==
        R"({"use_index":[],"bookmark":"nil","limit":25,"skip":0,"sort":{},"fields":[],"partition":"","r":1,)"
        R"("conflicts":false,"stale":false,"update":true,"stable":false,"execution_stats":false,)"
        R"("allow_fallback":true})");
  CHECK(simdjson::to_string(body["selector_hints"]) ==
        R"([{"type":"json","indexable_fields":["name"],"unindexable_fields":[]}])");
  CHECK(body["covering"].get_bool().value() == false);
}

TEST_CASE("Find over HTTP: members may query; only database admins may create or delete indexes",
          "[http][find][security]") {
  auto basic = [](const std::string& user, const std::string& pw) {
    return Header{"Authorization", "Basic " + settee::db::base64Encode(user + ":" + pw)};
  };
  const Header admin = basic("admin", "s3cret"), bob = basic("bob", "bobpw");
  LiveServer node("[admins]\nadmin = s3cret\n");
  REQUIRE(node("PUT", "/_users/org.couchdb.user:bob",
               R"({"name":"bob","password":"bobpw","roles":[],"type":"user"})", {admin})
              .status == 201);
  REQUIRE(node("PUT", "/m", "", {admin}).status == 201);
  REQUIRE(node("PUT", "/m/_security", R"({"members":{"names":["bob"]},"admins":{}})", {admin}).status == 200);
  REQUIRE(node("PUT", "/m/a", R"({"type":"order"})", {admin}).status == 201);
  auto found = node("POST", "/m/_find", R"({"selector": {"type": "order"}})", {bob});
  CHECK(found.status == 200);
  CHECK(node("POST", "/m/_find", R"({"selector": {}})").status == 401);
  CHECK(node("POST", "/m/_explain", R"({"selector": {}})", {bob}).status == 200);
  auto create = node("POST", "/m/_index", R"({"index": {"fields": ["type"]}})", {bob});
  CHECK((create.status == 401 || create.status == 403));
  auto drop = node("DELETE", "/m/_index/orders/json/type", "", {bob});
  CHECK((drop.status == 401 || drop.status == 403));
}

TEST_CASE("Index over HTTP: bad definitions are CouchDB's errors", "[http][find]") {
  LiveServer node;
  REQUIRE(node("PUT", "/m").status == 201);
  struct Case {
    const char* body;
    const char* error;
    const char* reason;
  };
  const Case cases[] = {
      {R"({"fields": ["a"]})", "missing_required_key", "Missing required key: index"},
      {R"({"index": ["a"]})", "invalid_index", "JSON indexes must be an object, not: [<<97>>]"},
      {R"({"index": {}})", "missing_required_key", "Missing required key: fields"},
      {R"({"index": {"fields": ["a"]}, "type": "geo"})", "invalid_index", "Invalid type for index: geo"},
      {R"({"index": {"fields": ["a"]}, "name": 1})", "invalid_string", "Invalid string: 1"},
      {R"({"index": {"fields": [{"a": "asc"}, {"b": "desc"}]}})", "unsupported_mixed_sort",
       "Sorts currently only support a single direction for all fields."},
      {R"({"index": {"fields": ["a"], "partial_filter_selector": {"a": {"$bogus": 1}}}})", "invalid_operator",
       "Invalid operator: $bogus"},
      {R"({"index": {"fields": ["a"]}, "extra": 1})", "invalid_key", "Invalid key extra for this request."},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto r = node("POST", "/m/_index", c.body);
    CHECK(r.status == 400);
    Json body(r.body);
    CHECK(body.str("error") == c.error);
    CHECK(body.str("reason") == c.reason);
  }
}
