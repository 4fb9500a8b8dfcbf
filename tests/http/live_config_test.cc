// LiveConfig (http/live_config.h): the node's running configuration and its ini write-back, on real files.
#include "http/live_config.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "test_util.h"

using settee::http::LiveConfig;
using settee::http::ServerConfig;

namespace {

std::string fileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ServerConfig loaded(const std::string& path) {
  ServerConfig config;
  REQUIRE(settee::http::loadConfig(path, config));
  return config;
}

}  // namespace

TEST_CASE("LiveConfig: a change rewrites only its own line of the last ini file, comments and order kept",
          "[http][liveconfig]") {
  settee::test::TempDir dir;
  const std::string path = dir.file("local.ini");
  std::ofstream(path) << "; kept as written\n[couchdb]\nmax_document_size = 1000\n\n[custom]\na = 1\nb = 2\n";
  LiveConfig live(loaded(path));
  REQUIRE(live.set("couchdb", "max_document_size", "2000", true));
  REQUIRE(live.set("custom", "c", "3", true));
  REQUIRE(live.set("fresh", "k", "v", true));
  REQUIRE(live.remove("custom", "a", true));
  CHECK(fileText(path) ==
        "; kept as written\n[couchdb]\nmax_document_size = 2000\n\n[custom]\na = \nb = 2\nc = "
        "3\n\n[fresh]\nk = v\n");
  CHECK(live.current()->maxDocumentSize == 2000);
  // Read again as a node would at its next start: the same values, the deleted key gone.
  LiveConfig again(loaded(path));
  CHECK(again.get("custom", "c") == "3");
  CHECK(!again.get("custom", "a"));
  CHECK(again.current()->maxDocumentSize == 2000);
}

TEST_CASE("LiveConfig: a snapshot taken stays as it was while the configuration changes",
          "[http][liveconfig]") {
  LiveConfig live(ServerConfig{});
  auto before = live.current();
  REQUIRE(live.set("chttpd", "require_valid_user", "true", false));
  CHECK(!before->requireValidUser);
  CHECK(live.current()->requireValidUser);
  // A value a known key cannot take changes nothing.
  auto bad = live.set("chttpd", "require_valid_user", "maybe", false);
  CHECK(!bad);
  CHECK(live.current()->requireValidUser);
  CHECK(live.get("chttpd", "require_valid_user") == "true");
}

TEST_CASE("LiveConfig: changes made at once from many threads are all kept, in memory and in the file",
          "[http][liveconfig]") {
  settee::test::TempDir dir;
  const std::string path = dir.file("local.ini");
  std::ofstream(path) << "[start]\nx = 1\n";
  LiveConfig live(loaded(path));
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto set = live.set("t" + std::to_string(t), "k" + std::to_string(i), std::to_string(i), true);
        if (!set) FAIL_CHECK(set.status().reason());
        (void)live.current()->maxDocumentSize;  // readers meanwhile
      }
    });
  }
  for (auto& t : threads) t.join();
  ServerConfig reread = loaded(path);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const std::string section = "t" + std::to_string(t), key = "k" + std::to_string(i);
      CHECK(live.get(section, key) == std::to_string(i));
      CHECK(reread.ini[section][key] == std::to_string(i));
    }
  }
}
