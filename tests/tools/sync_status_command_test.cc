// `settee sync` and `settee status` as a user runs them: the built binary in a child process, on a data
// directory the test prepared with the library.
#include <catch2/catch.hpp>
#include <string>

#include "run_settee.h"
#include "settee/database.h"
#include "test_util.h"

using settee::test::Json;
using settee::test::runSettee;
using settee::test::TempDir;

namespace {

constexpr const char* kPeer = "http://127.0.0.1:5984/remote";

}  // namespace

TEST_CASE("settee sync --help and settee status --help list every option with its default", "[tools][cli]") {
  auto sync = runSettee("sync --help");
  CHECK(sync.exitCode == 0);
  for (const char* option : {"--data", "--policy", "keep", "lww:FIELD", "merge:lww:FIELD", "--priority",
                             "--pull-selector", "--push-selector", "--doc-ids", "--large-attachments",
                             "default 524288", "--metered", "--ca-file", "--header", "default ./data"}) {
    INFO(option);
    CHECK(sync.out.find(option) != std::string::npos);
  }
  auto status = runSettee("status --help");
  CHECK(status.exitCode == 0);
  for (const char* option : {"--data", "--peer", "--json", "--limit", "default 20", "\"pending_docs\"",
                             "\"failed_docs\"", "\"conflicted_docs\"", "\"last_sync\""}) {
    INFO(option);
    CHECK(status.out.find(option) != std::string::npos);
  }
}

TEST_CASE("settee sync and settee status name a bad option in their error and exit with 2", "[tools][cli]") {
  TempDir dir;
  auto sync = runSettee("sync --data " + dir.path() + " app " + kPeer + " --bogus-flag");
  CHECK(sync.exitCode == 2);
  CHECK(sync.err.find("--bogus-flag") != std::string::npos);

  auto policy = runSettee("sync --data " + dir.path() + " app " + kPeer + " --policy whatever");
  CHECK(policy.exitCode == 2);
  CHECK(policy.err.find("--policy") != std::string::npos);

  auto selector = runSettee("sync --data " + dir.path() + " app " + kPeer + " --priority not-json");
  CHECK(selector.exitCode == 2);
  CHECK(selector.err.find("--priority") != std::string::npos);

  auto missing = runSettee("sync --data " + dir.path() + " app " + kPeer + " --policy");
  CHECK(missing.exitCode == 2);
  CHECK(missing.err.find("--policy needs a value") != std::string::npos);

  auto status = runSettee("status --data " + dir.path() + " app --frobnicate");
  CHECK(status.exitCode == 2);
  CHECK(status.err.find("--frobnicate") != std::string::npos);

  auto limit = runSettee("status --data " + dir.path() + " app --limit many");
  CHECK(limit.exitCode == 2);
  CHECK(limit.err.find("--limit") != std::string::npos);
}

TEST_CASE("settee status on a database that does not exist fails, naming it", "[tools][cli]") {
  TempDir dir;
  auto r = runSettee("status --data " + dir.path() + " nosuchdb --json");
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("nosuchdb") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE(
    "settee status --json gives each peer's counts, its pending and conflicted documents and the last "
    "sync",
    "[tools][cli]") {
  TempDir dir;
  {
    settee::DataDir data(dir.path());
    auto db = data.create("app");
    REQUIRE(db);
    REQUIRE((*db)->registerSyncPeer(kPeer));
    for (const char* id : {"a", "b", "c"}) REQUIRE((*db)->put(std::string(R"({"_id":")") + id + R"("})"));
    // Two leaves of one document: conflicted (and pending, as a local document the peer has not seen).
    settee::PutOptions replicated;
    replicated.newEdits = false;
    REQUIRE((*db)->put(R"({"_id":"d","_rev":"1-aaaa","v":1})", replicated));
    REQUIRE((*db)->put(R"({"_id":"d","_rev":"1-bbbb","v":2})", replicated));
  }

  auto r = runSettee("status --data " + dir.path() + " app --json");
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  Json j(r.out);
  CHECK(j.str("db") == "app");
  auto peers = j["peers"].get_array().value();
  REQUIRE(peers.size() == 1);
  auto p = peers.at(0).value();
  CHECK(std::string(p["peer"].get_string().value()) == kPeer);
  CHECK(p["last_sync"].is_null());
  CHECK(p["pending"].get_uint64().value() == 4);
  CHECK(p["failed"].get_uint64().value() == 0);
  CHECK(p["conflicted"].get_uint64().value() == 1);
  auto pending = p["pending_docs"].get_array().value();
  REQUIRE(pending.size() == 4);
  CHECK(std::string(pending.at(0)["id"].get_string().value()) == "a");
  CHECK(pending.at(0)["seq"].get_uint64().value() > 0);
  CHECK(p["failed_docs"].get_array().value().size() == 0);
  auto conflicted = p["conflicted_docs"].get_array().value();
  REQUIRE(conflicted.size() == 1);
  CHECK(std::string(conflicted.at(0)["id"].get_string().value()) == "d");

  // --limit bounds the lists, not the counts.
  auto limited = runSettee("status --data " + dir.path() + " app --json --limit 2 --peer " + kPeer);
  INFO(limited.err);
  REQUIRE(limited.exitCode == 0);
  // One peer asked for: its object, with the database's name.
  Json l(limited.out);
  CHECK(l.str("db") == "app");
  CHECK(l.str("peer") == kPeer);
  CHECK(l["pending"].get_uint64().value() == 4);
  CHECK(l["conflicted"].get_uint64().value() == 1);
  CHECK(l["pending_docs"].get_array().value().size() == 2);

  auto text = runSettee("status --data " + dir.path() + " app");
  REQUIRE(text.exitCode == 0);
  CHECK(text.out.find(kPeer) != std::string::npos);
  CHECK(text.out.find("pending 4, failed 0, conflicted 1") != std::string::npos);
  CHECK(text.out.find("last sync: never") != std::string::npos);
}

TEST_CASE("settee status reads a database that another process has open to sync it, and sees its writes",
          "[tools][cli]") {
  TempDir dir;
  // This process stands for `settee sync`: it opens the database shared, as that command does.
  settee::DatabaseOptions shared;
  shared.exclusive = false;
  settee::DataDir data(dir.path(), shared);
  auto db = data.create("app");
  REQUIRE(db);
  REQUIRE((*db)->registerSyncPeer(kPeer));
  REQUIRE((*db)->put(R"({"_id":"a"})"));

  auto first = runSettee("status --data " + dir.path() + " app --json --peer " + kPeer);
  INFO(first.err);
  REQUIRE(first.exitCode == 0);
  CHECK(Json(first.out)["pending"].get_uint64().value() == 1);

  REQUIRE((*db)->put(R"({"_id":"b"})"));
  auto second = runSettee("status --data " + dir.path() + " app --json --peer " + kPeer);
  INFO(second.err);
  REQUIRE(second.exitCode == 0);
  CHECK(Json(second.out)["pending"].get_uint64().value() == 2);
}
