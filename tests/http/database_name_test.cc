// Database names that are valid for CouchDB but cannot become a file here, over a real `settee serve`.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

std::string slashes(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "%2F";
  return out;
}

size_t filesIn(const std::string& dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().find("%2F") != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("Database names: a name whose file name would pass 255 bytes is 400 and leaves nothing behind",
          "[http][dbname]") {
  LiveServer node;
  // "a" and 80 slashes: 241 bytes encoded, 248 with ".settee", 256 with SQLite's "-journal".
  auto r = node("PUT", "/a" + slashes(80));
  CHECK(r.status == 400);
  CHECK(Json(r.body).str("error") == "illegal_database_name");
  CHECK(filesIn(node.dataDir()) == 0);
  CHECK(node("GET", "/_all_dbs").body.find("a/") == std::string::npos);
  CHECK(node("GET", "/a" + slashes(80)).status == 400);
  CHECK(node("DELETE", "/a" + slashes(80)).status == 400);
  CHECK(filesIn(node.dataDir()) == 0);
}

TEST_CASE("Database names: the longest name that fits with its journal is created, used and deleted",
          "[http][dbname]") {
  LiveServer node;
  const std::string path = "/a" + slashes(79);
  REQUIRE(node("PUT", path).status == 201);
  CHECK(node("PUT", path + "/doc", R"({"x":1})").status == 201);
  CHECK(node("GET", path + "/doc").status == 200);
  CHECK(node("DELETE", path).status == 200);
  CHECK(filesIn(node.dataDir()) == 0);
  CHECK(node("GET", path).status == 404);
}
