// Views over HTTP as an index the node keeps: answers larger than a page stream whole and in order,
// update=false/lazy, update_seq, _info, _view_cleanup, a deleted database's index, a runaway map
// function, and the design document's other routes beside the view routes.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;
using settee::test::percentEncode;

namespace {

// Each document emits its key three times (rows that share key and id), and [i % 600, i] for grouping.
const char* kBigDdoc = R"({"views":{
  "dup":{"map":"function(doc){ for (var n = 0; n < 3; n++) emit(doc.k, n); }"},
  "each":{"map":"function(doc){ emit([doc.i % 600, doc.i], 1); }","reduce":"_count"}}})";

void loadBig(const LiveServer& node, int docs) {
  REQUIRE(node("PUT", "/big").status == 201);
  REQUIRE(node("PUT", "/big/_design/d", kBigDdoc).status == 201);
  std::string body = "{\"docs\":[";
  for (int i = 0; i < docs; ++i) {
    if (i) body += ',';
    char id[16];
    std::snprintf(id, sizeof id, "doc%05d", i);
    body += "{\"_id\":\"" + std::string(id) + "\",\"i\":" + std::to_string(i) +
            ",\"k\":" + std::to_string(i % 7) + "}";
  }
  body += "]}";
  REQUIRE(node("POST", "/big/_bulk_docs", body).status == 201);
}

uint64_t infoSeq(const LiveServer& node, const std::string& db, const std::string& ddoc) {
  Json info(node("GET", "/" + db + "/_design/" + ddoc + "/_info").body);
  return info["view_index"]["update_seq"].get_uint64().value();
}

}  // namespace

TEST_CASE("Views: an answer of several pages has every row once, in order, ties in emit order",
          "[http][js][views]") {
  LiveServer node;
  const int docs = 700;
  loadBig(node, docs);
  for (bool descending : {false, true}) {
    INFO("descending " << descending);
    auto r =
        node("GET", std::string("/big/_design/d/_view/dup?descending=") + (descending ? "true" : "false"));
    REQUIRE(r.status == 200);
    Json j(r.body);
    CHECK(j["total_rows"].get_uint64().value() == 3 * docs);
    auto rows = j["rows"].get_array();
    REQUIRE(rows.size() == 3 * docs);
    int64_t lastKey = descending ? 99 : -1;
    std::string lastId;
    int64_t lastN = -1;
    for (auto row : rows) {
      int64_t key = row["key"].get_int64().value();
      std::string id(std::string_view(row["id"].get_string()));
      int64_t n = row["value"].get_int64().value();
      if (key == lastKey && id == lastId) {
        // The same document's rows: emit order, reversed when descending.
        CHECK(n == (descending ? lastN - 1 : lastN + 1));
      } else {
        CHECK((descending ? key <= lastKey : key >= lastKey));
        if (key == lastKey) CHECK((descending ? id < lastId : id > lastId));
        CHECK(n == (descending ? 2 : 0));
      }
      lastKey = key, lastId = id, lastN = n;
    }
  }
  // skip and limit across a page boundary.
  auto window = node("GET", "/big/_design/d/_view/dup?skip=499&limit=3");
  Json w(window.body);
  CHECK(w["offset"].get_uint64().value() == 499);
  CHECK(w["rows"].get_array().size() == 3);
  auto tail = node("GET", "/big/_design/d/_view/dup?skip=2090");
  CHECK(Json(tail.body)["rows"].get_array().size() == 10);
}

TEST_CASE("Views: grouped reduces of more groups than a page answer each group once", "[http][js][views]") {
  LiveServer node;
  const int docs = 700;
  loadBig(node, docs);
  auto exact = node("GET", "/big/_design/d/_view/each?group=true");
  REQUIRE(exact.status == 200);
  CHECK(Json(exact.body)["rows"].get_array().size() == docs);
  for (bool descending : {false, true}) {
    INFO("descending " << descending);
    auto level = node("GET", std::string("/big/_design/d/_view/each?group_level=1&descending=") +
                                 (descending ? "true" : "false"));
    Json j(level.body);
    auto rows = j["rows"].get_array();
    REQUIRE(rows.size() == 600);
    uint64_t total = 0;
    int64_t expected = descending ? 599 : 0;
    for (auto row : rows) {
      CHECK(row["key"].at(0).get_int64().value() == expected);
      // Keys 0..99 hold two documents (i and i + 600), the rest one.
      CHECK(row["value"].get_uint64().value() == (expected < docs - 600 ? 2u : 1u));
      total += row["value"].get_uint64().value();
      expected += descending ? -1 : 1;
    }
    CHECK(total == static_cast<uint64_t>(docs));
  }
  auto limited = node("GET", "/big/_design/d/_view/each?group_level=1&skip=499&limit=2");
  Json l(limited.body);
  REQUIRE(l["rows"].get_array().size() == 2);
  CHECK(l["rows"].at(0)["key"].at(0).get_int64().value() == 499);
  CHECK(l["rows"].at(1)["key"].at(0).get_int64().value() == 500);
  CHECK(node("GET", "/big/_design/d/_view/each").body == "{\"rows\":[\r\n{\"key\":null,\"value\":700}\r\n]}");
}

TEST_CASE("Views: update=false answers the index as it is, update=lazy brings it up to date after",
          "[http][js][views]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/c", R"({"views":{"all":{"map":"function(doc){ emit(doc._id, 1); }"}}})")
              .status == 201);
  // Never queried: nothing indexed yet.
  CHECK(Json(node("GET", "/db/_design/c/_view/all?update=false").body)["total_rows"].get_uint64().value() ==
        0);
  REQUIRE(node("PUT", "/db/a", "{}").status == 201);
  auto first = node("GET", "/db/_design/c/_view/all?update_seq=true");
  Json f(first.body);
  CHECK(f["total_rows"].get_uint64().value() == 1);
  CHECK(f["update_seq"].get_uint64().value() == 2);
  REQUIRE(node("PUT", "/db/b", "{}").status == 201);
  CHECK(Json(node("GET", "/db/_design/c/_view/all?update=false").body)["total_rows"].get_uint64().value() ==
        1);
  CHECK(Json(node("GET", "/db/_design/c/_view/all?stale=ok").body)["total_rows"].get_uint64().value() == 1);
  CHECK(Json(node("GET", "/db/_design/c/_view/all?update=lazy").body)["total_rows"].get_uint64().value() ==
        1);
  // The lazy update runs after the answer; _info shows when it is done (no client can wait on it).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (infoSeq(node, "db", "c") < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(Json(node("GET", "/db/_design/c/_view/all?update=false").body)["total_rows"].get_uint64().value() ==
        2);
}

TEST_CASE("Views: _info describes the view group's index as CouchDB does", "[http][js][views]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/c", R"({"views":{"all":{"map":"function(doc){ emit(doc._id, 1); }"}}})")
              .status == 201);
  REQUIRE(node("PUT", "/db/a", "{}").status == 201);
  Json before(node("GET", "/db/_design/c/_info").body);
  CHECK(before.str("name") == "c");
  auto vi = before["view_index"];
  CHECK(vi["update_seq"].get_uint64().value() == 0);
  CHECK(vi["updates_pending"]["total"].get_uint64().value() == 2);
  CHECK(std::string_view(vi["language"].get_string()) == "javascript");
  CHECK(std::string_view(vi["signature"].get_string()).size() == 32);
  CHECK(vi["purge_seq"].get_uint64().value() == 0);
  CHECK(!vi["updater_running"].get_bool().value());
  CHECK(!vi["compact_running"].get_bool().value());
  CHECK(vi["waiting_clients"].get_uint64().value() == 0);
  CHECK(vi["sizes"]["file"].get_uint64().value() > 0);
  REQUIRE(node("GET", "/db/_design/c/_view/all").status == 200);
  Json after(node("GET", "/db/_design/c/_info").body);
  CHECK(after["view_index"]["update_seq"].get_uint64().value() == 2);
  CHECK(after["view_index"]["updates_pending"]["total"].get_uint64().value() == 0);
  CHECK(node("GET", "/db/_design/none/_info").status == 404);
}

TEST_CASE("Views: _view_cleanup deletes the index files no design document uses", "[http][js][views]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  auto put =
      node("PUT", "/db/_design/c", R"({"views":{"all":{"map":"function(doc){ emit(doc._id, 1); }"}}})");
  REQUIRE(put.status == 201);
  REQUIRE(node("PUT", "/db/a", "{}").status == 201);
  REQUIRE(node("GET", "/db/_design/c/_view/all").status == 200);
  std::string oldSig(std::string_view(
      Json(node("GET", "/db/_design/c/_info").body)["view_index"]["signature"].get_string()));
  // Editing the views makes a new index; the old file stays until a cleanup.
  REQUIRE(node("PUT", "/db/_design/c?rev=" + Json(put.body).str("rev"),
               R"({"views":{"all":{"map":"function(doc){ emit(doc._id, 2); }"}}})")
              .status == 201);
  auto second = node("GET", "/db/_design/c/_view/all");
  CHECK(Json(second.body)["rows"].at(0)["value"].get_int64().value() == 2);
  std::string newSig(std::string_view(
      Json(node("GET", "/db/_design/c/_info").body)["view_index"]["signature"].get_string()));
  REQUIRE(oldSig != newSig);
  namespace fs = std::filesystem;
  auto names = [&] {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(node.dataDir(), ec)) {
      std::string n = e.path().filename().string();
      if (n.find(oldSig) != std::string::npos || n.find(newSig) != std::string::npos) out.push_back(n);
    }
    return out;
  };
  auto hasSig = [&](const std::string& sig) {
    for (const auto& n : names())
      if (n.find(sig) != std::string::npos) return true;
    return false;
  };
  CHECK(hasSig(oldSig));
  CHECK(hasSig(newSig));
  CHECK(node("POST", "/db/_view_cleanup", "", {{"Content-Type", "text/plain"}}).status == 415);
  auto cleaned = node("POST", "/db/_view_cleanup", "", {{"Content-Type", "application/json"}});
  CHECK(cleaned.status == 202);
  CHECK(cleaned.body == R"({"ok":true})");
  CHECK(!hasSig(oldSig));
  CHECK(hasSig(newSig));
  CHECK(node("GET", "/db/_design/c/_view/all").status == 200);
}

TEST_CASE("Views: a database deleted and created again does not inherit its index", "[http][js][views]") {
  LiveServer node;
  const char* ddoc = R"({"views":{"all":{"map":"function(doc){ emit(doc._id, 1); }"}}})";
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/c", ddoc).status == 201);
  REQUIRE(node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"a"},{"_id":"b"},{"_id":"c"}]})").status == 201);
  CHECK(Json(node("GET", "/db/_design/c/_view/all").body)["total_rows"].get_uint64().value() == 3);
  REQUIRE(node("DELETE", "/db").status == 200);
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/c", ddoc).status == 201);
  REQUIRE(node("PUT", "/db/z", "{}").status == 201);
  auto r = node("GET", "/db/_design/c/_view/all");
  Json j(r.body);
  CHECK(j["total_rows"].get_uint64().value() == 1);
  CHECK(std::string_view(j["rows"].at(0)["id"].get_string()) == "z");
}

TEST_CASE("Views: a runaway map function is killed at os_process_timeout while the node keeps answering",
          "[http][js][views]") {
  LiveServer node("[couchdb]\nos_process_timeout = 1000\n");
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/x", R"({"a":1})").status == 201);
  REQUIRE(node("PUT", "/db/_design/loop", R"({"views":{"loop":{"map":"function(doc){ while(true){} }"}}})")
              .status == 201);
  REQUIRE(node("PUT", "/db/_design/ok", R"({"views":{"ok":{"map":"function(doc){ emit(doc._id, null); }"}}})")
              .status == 201);
  auto started = std::chrono::steady_clock::now();
  auto slow = std::async(std::launch::async, [&] { return node("GET", "/db/_design/loop/_view/loop"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto up = std::chrono::steady_clock::now();
  CHECK(node("GET", "/db/x").status == 200);
  CHECK(node("GET", "/db").status == 200);
  CHECK(std::chrono::steady_clock::now() - up < std::chrono::milliseconds(500));
  auto reply = slow.get();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(reply.status == 500);
  CHECK(Json(reply.body).str("error") == "os_process_error");
  CHECK(Json(reply.body).str("reason") == "OS process timed out.");
  // Other views go on: a fresh query server answers them.
  auto ok = node("GET", "/db/_design/ok/_view/ok");
  CHECK(ok.status == 200);
  CHECK(Json(ok.body)["total_rows"].get_uint64().value() == 1);
}

TEST_CASE("Views: the design document's attachments and the view routes live side by side",
          "[http][js][views]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  auto put =
      node("PUT", "/db/_design/c", R"({"views":{"all":{"map":"function(doc){ emit(doc._id, 1); }"}}})");
  REQUIRE(put.status == 201);
  auto att = node("PUT", "/db/_design/c/logo.txt?rev=" + Json(put.body).str("rev"), "hello",
                  {{"Content-Type", "text/plain"}});
  REQUIRE(att.status == 201);
  CHECK(node("GET", "/db/_design/c/logo.txt").body == "hello");
  CHECK(node("GET", "/db/_design/c/_view/all").status == 200);
  CHECK(node("GET", "/db/_design/c/_info").status == 200);
  CHECK(node("PUT", "/db/_design/c/_info", "{}").status == 405);
}

TEST_CASE("Views: the node keeps a bounded number of indexes open, and reopens one it closed",
          "[http][js][views]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/a", R"({"n":1})").status == 201);
  const int ddocs = 12;  // more than the registry holds (ViewRegistry::kDefaultCapacity, 8)
  for (int i = 0; i < ddocs; ++i) {
    const std::string n = std::to_string(i);
    REQUIRE(node("PUT", "/db/_design/d" + n,
                 R"({"views":{"v":{"map":"function(doc){ emit(doc.n + )" + n + R"(, null); }"}}})")
                .status == 201);
    REQUIRE(node("GET", "/db/_design/d" + n + "/_view/v").status == 200);
  }
  // The distinct index files the node holds open.
  std::set<std::string> open;
  std::error_code ec;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(node.pid()) + "/fd", ec)) {
    std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (target.size() > 5 && target.ends_with(".view")) open.insert(target);
  }
  CHECK(open.size() <= 8);
  CHECK(open.size() >= 1);
  // The first one, closed to make room, opens again with its rows.
  auto first = node("GET", "/db/_design/d0/_view/v");
  CHECK(Json(first.body)["rows"].at(0)["key"].get_int64().value() == 1);
}

TEST_CASE("Views: view compaction is accepted for a design document, temporary views are gone",
          "[http][js][views]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/_design/c", R"({"views":{"all":{"map":"function(doc){ emit(doc._id, 1); }"}}})")
              .status == 201);
  const std::pair<std::string, std::string> json{"Content-Type", "application/json"};
  auto compacted = node("POST", "/db/_compact/c", "", {json});
  CHECK(compacted.status == 202);
  CHECK(compacted.body == R"({"ok":true})");
  CHECK(node("POST", "/db/_compact/none", "", {json}).status == 404);
  CHECK(node("POST", "/db/_compact/c", "", {{"Content-Type", "text/plain"}}).status == 415);
  auto temp = node("POST", "/db/_temp_view", R"({"map":"function(doc){ emit(null, 1); }"})");
  CHECK(temp.status == 410);
  CHECK(temp.body ==
        std::string(R"({"error":"gone","reason":"Temporary views are not supported in CouchDB"})") + "\n");
}
