// GET /_all_dbs and GET /_dbs_info with _all_docs' range options against a real `settee serve`:
// start_key/startkey, end_key/endkey (JSON strings), inclusive_end, limit, skip and descending, as
// CouchDB 3.4 reads them (its _all_dbs is an _all_docs of the node's database list).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;
using settee::test::percentEncode;

namespace {

std::vector<std::string> names(const std::string& body) {
  Json j(body);
  std::vector<std::string> out;
  for (auto e : j.root().get_array()) {
    if (e.is_string())
      out.emplace_back(std::string_view(e.get_string()));
    else
      out.emplace_back(std::string_view(e["key"].get_string()));
  }
  return out;
}

std::string q(const char* json) { return percentEncode(json); }

}  // namespace

TEST_CASE("AllDbs: start_key and end_key bound the list, in either order of iteration", "[http][alldbs]") {
  LiveServer node;
  for (const char* db : {"apple", "banana", "cherry", "date"})
    REQUIRE(node("PUT", std::string("/") + db).status == 201);
  using V = std::vector<std::string>;
  for (const char* path : {"/_all_dbs", "/_dbs_info"}) {
    auto list = [&](const std::string& query) {
      auto r = node("GET", std::string(path) + "?" + query);
      REQUIRE(r.status == 200);
      V out;
      for (auto& n : names(r.body)) {
        if (n[0] != '_') out.push_back(n);  // the system databases (_users, _replicator) aside
      }
      return out;
    };
    INFO(path);
    CHECK(list("start_key=" + q("\"banana\"")) == V{"banana", "cherry", "date"});
    CHECK(list("startkey=" + q("\"banana\"") + "&endkey=" + q("\"cherry\"")) == V{"banana", "cherry"});
    CHECK(list("start_key=" + q("\"b\"") + "&end_key=" + q("\"c\"")) == V{"banana"});
    CHECK(list("start_key=" + q("\"banana\"") + "&end_key=" + q("\"cherry\"") + "&inclusive_end=false") ==
          V{"banana"});
    CHECK(list("descending=true&start_key=" + q("\"cherry\"")) == V{"cherry", "banana", "apple"});
    CHECK(list("descending=true&start_key=" + q("\"cherry\"") + "&end_key=" + q("\"banana\"")) ==
          V{"cherry", "banana"});
    CHECK(list("start_key=" + q("\"apple\"") + "&skip=1&limit=2") == V{"banana", "cherry"});
    CHECK(list("start_key=" + q("\"zzz\"")).empty());
  }
  auto bad = node("GET", "/_all_dbs?start_key=banana");
  CHECK(bad.status == 400);
  CHECK(Json(bad.body).str("error") == "bad_request");
  CHECK(node("GET", "/_all_dbs?limit=x").status == 400);
}
