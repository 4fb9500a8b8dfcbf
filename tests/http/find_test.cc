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

TEST_CASE(
    "Index over HTTP: the transcript's indexes, index-served queries and _explain (#4-#12, #17, #21, #22)",
    "[http][find][index]") {
  LiveServer node;
  seed(node);
  auto created = node("POST", "/m/_index",
                      R"({"index": {"fields": ["type", "ts"]}, "name": "type-ts", "ddoc": "orders"})");
  CHECK(created.status == 200);
  CHECK(created.body == R"({"result":"created","id":"_design/orders","name":"type-ts"})");
  CHECK(node("POST", "/m/_index",
             R"({"index": {"fields": ["type", "ts"]}, "name": "type-ts", "ddoc": "orders"})")
            .body == R"({"result":"exists","id":"_design/orders","name":"type-ts"})");
  Json partial(node("POST", "/m/_index",
                    R"({"index": {"fields": ["route"], "partial_filter_selector": {"status": "open"}}})")
                   .body);
  CHECK(partial.str("result") == "created");
  const std::string partialDdoc = partial.str("id");

  Json listed(node("GET", "/m/_index").body);
  CHECK(uint64_t(listed["total_rows"]) == 3);
  CHECK(simdjson::to_string(listed["indexes"].at(0).value()) ==
        R"({"ddoc":null,"name":"_all_docs","type":"special","def":{"fields":[{"_id":"asc"}]}})");

  auto served = node(
      "POST", "/m/_find",
      R"({"selector": {"type": "order", "ts": {"$gt": 1003}}, "sort": [{"type": "desc"}, {"ts": "desc"}], "fields": ["_id", "ts", "status"], "limit": 4, "execution_stats": true})");
  REQUIRE(served.status == 200);
  CHECK(served.body.rfind("{\"docs\":[\n{\"_id\":\"o011\",\"ts\":1011,\"status\":\"done\"},\n"
                          "{\"_id\":\"o010\",\"ts\":1010,\"status\":\"open\"},\n"
                          "{\"_id\":\"o009\",\"ts\":1009,\"status\":\"done\"},\n"
                          "{\"_id\":\"o008\",\"ts\":1008,\"status\":\"open\"}\n],\n\"bookmark\": \"",
                          0) == 0);
  Json servedBody(served.body);
  CHECK_FALSE(servedBody.has("warning"));
  CHECK(uint64_t(servedBody["execution_stats"]["results_returned"]) == 4);

  // Paging on the index (#10, #11).
  Json page1(
      node(
          "POST", "/m/_find",
          R"({"selector": {"type": "order", "ts": {"$gt": 1000}}, "sort": [{"type": "asc"}, {"ts": "asc"}], "limit": 3})")
          .body);
  CHECK(docIds(page1) == std::vector<std::string>{"o001", "o002", "o003"});
  Json page2(
      node(
          "POST", "/m/_find",
          R"({"selector": {"type": "order", "ts": {"$gt": 1000}}, "sort": [{"type": "asc"}, {"ts": "asc"}], "limit": 3, "bookmark": ")" +
              page1.str("bookmark") + "\"}")
          .body);
  CHECK(docIds(page2) == std::vector<std::string>{"o004", "o005", "o006"});

  // #12, but for the partial index's generated name.
  Json explained(
      node(
          "POST", "/m/_explain",
          R"({"selector": {"type": "order", "ts": {"$gt": 1003}}, "sort": [{"type": "desc"}, {"ts": "desc"}], "limit": 4})")
          .body);
  CHECK(
      simdjson::to_string(explained["index"]) ==
      R"({"ddoc":"_design/orders","name":"type-ts","type":"json","partitioned":false,"def":{"fields":[{"type":"asc"},{"ts":"asc"}]}})");
  CHECK(simdjson::to_string(explained["selector"]) ==
        R"({"$and":[{"type":{"$eq":"order"}},{"ts":{"$gt":1003}}]})");
  CHECK(
      simdjson::to_string(explained["mrargs"]) ==
      R"({"include_docs":true,"view_type":"map","reduce":false,"partition":null,"start_key":["order","<MAX>"],)"
      R"("end_key":["order",1003],"direction":"rev","stable":false,"update":true,"conflicts":"undefined"})");
  CHECK(
      simdjson::to_string(explained["index_candidates"]) ==
      R"([{"index":{"ddoc":")" + partialDdoc + R"(","name":")" + partialDdoc.substr(8) +
          R"(","type":"json","partitioned":false,"def":{"fields":[{"route":"asc"}],"partial_filter_selector":{"status":{"$eq":"open"}}}},)"
          R"("analysis":{"usable":false,"reasons":[{"name":"is_partial"}],"ranking":2,"covering":false}},)"
          R"({"index":{"ddoc":null,"name":"_all_docs","type":"special","def":{"fields":[{"_id":"asc"}]}},)"
          R"("analysis":{"usable":false,"reasons":[{"name":"field_mismatch"}],"ranking":1,"covering":null}}])");
  CHECK(simdjson::to_string(explained["selector_hints"]) ==
        R"([{"type":"json","indexable_fields":["ts","type"],"unindexable_fields":[]}])");

  // #17: use_index naming a design document with no usable index falls back with CouchDB's warning.
  Json fallback(node("POST", "/m/_find",
                     R"({"selector": {"status": "open", "route": "r1"}, "use_index": "_design/orders"})")
                    .body);
  CHECK(docIds(fallback) == std::vector<std::string>{"o004", "o010"});
  CHECK(fallback.str("warning") ==
        "_design/orders was not used because it does not contain a valid index for this query.\nNo matching "
        "index "
        "found, create an index to optimize query time.");
  // The same with allow_fallback false is refused.
  auto strict = node(
      "POST", "/m/_find",
      R"({"selector": {"status": "open", "route": "r1"}, "use_index": "_design/orders", "allow_fallback": false})");
  CHECK(strict.status == 400);
  CHECK(Json(strict.body).str("error") == "no_usable_index");

  // #21, #22: deleting an index, with or without the _design/ prefix.
  CHECK(node("DELETE", "/m/_index/orders/json/type-ts").body == R"({"ok":true})");
  CHECK(uint64_t(Json(node("GET", "/m/_index").body)["total_rows"]) == 2);
  CHECK(node("DELETE", "/m/_index/orders/json/type-ts").status == 404);
  CHECK(node("DELETE", "/m/_index/_design/" + partialDdoc.substr(8) + "/json/" + partialDdoc.substr(8))
            .status == 200);
  CHECK(uint64_t(Json(node("GET", "/m/_index").body)["total_rows"]) == 1);
  // A sort no index serves any more (#3 again).
  CHECK(node("POST", "/m/_find", R"({"selector": {"type": "order"}, "sort": ["ts"]})").status == 400);
}

TEST_CASE("Find over HTTP: a large answer streams in pages that neither repeat nor skip a row",
          "[http][find]") {
  LiveServer node;
  REQUIRE(node("PUT", "/big").status == 201);
  const std::string pad(300, 'x');
  for (int batch = 0; batch < 5; ++batch) {
    std::string docs = R"({"docs":[)";
    for (int i = 0; i < 500; ++i) {
      int n = batch * 500 + i;
      char id[16];
      std::snprintf(id, sizeof id, "d%05d", n);
      docs += std::string(i ? "," : "") + R"({"_id":")" + id + R"(","n":)" + std::to_string(n) +
              R"(,"pad":")" + pad + "\"}";
    }
    REQUIRE(node("POST", "/big/_bulk_docs", docs + "]}").status == 201);
  }
  auto r =
      node("POST", "/big/_find",
           R"({"selector": {"n": {"$mod": [2, 1]}}, "skip": 5, "limit": 1200, "fields": ["_id", "n", "pad"],
                    "execution_stats": true})");
  REQUIRE(r.status == 200);
  Json body(r.body);
  auto docs = body["docs"].get_array().value();
  REQUIRE(docs.size() == 1200);
  int expected = 11;  // the sixth odd number: five were skipped
  bool ordered = true;
  for (auto doc : docs) {
    ordered = ordered && int64_t(doc["n"]) == expected;
    expected += 2;
  }
  CHECK(ordered);
  Json stats(std::string(simdjson::to_string(body["execution_stats"])));
  CHECK(uint64_t(stats["results_returned"]) == 1200);
  CHECK(uint64_t(stats["total_docs_examined"]) == 2410);  // d00000 .. d02409
  CHECK(body.str("warning") == "No matching index found, create an index to optimize query time.");
  // The bookmark goes on after the last row sent.
  Json next(node("POST", "/big/_find",
                 R"({"selector": {"n": {"$mod": [2, 1]}}, "limit": 2, "fields": ["n"], "bookmark": ")" +
                     body.str("bookmark") + "\"}")
                .body);
  CHECK(simdjson::to_string(next["docs"]) == R"([{"n":2411},{"n":2413}])");
}

TEST_CASE("Index over HTTP: _bulk_delete removes every index of the named design documents",
          "[http][find][index]") {
  LiveServer node;
  REQUIRE(node("PUT", "/m").status == 201);
  REQUIRE(node("POST", "/m/_index", R"({"index": {"fields": ["a"]}, "ddoc": "one", "name": "a"})").status ==
          200);
  REQUIRE(node("POST", "/m/_index", R"({"index": {"fields": ["b"]}, "ddoc": "one", "name": "b"})").status ==
          200);
  REQUIRE(node("POST", "/m/_index", R"({"index": {"fields": ["c"]}, "ddoc": "two", "name": "c"})").status ==
          200);
  auto r = node("POST", "/m/_index/_bulk_delete", R"({"docids": ["one", "_design/missing"]})");
  REQUIRE(r.status == 200);
  CHECK(
      r.body ==
      R"({"success":[{"id":"_design/one","ok":true}],"fail":[{"id":"_design/missing","error":"not_found"}]})");
  Json left(node("GET", "/m/_index").body);
  CHECK(uint64_t(left["total_rows"]) == 2);
  CHECK(std::string_view(left["indexes"].at(1)["name"]) == "c");
  CHECK(node("POST", "/m/_index/_bulk_delete", R"({"docids": [1]})").status == 400);
}
