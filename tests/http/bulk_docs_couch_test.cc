// _bulk_docs, DELETE and the welcome answer where a peer's suite found Settee apart from CouchDB 3.4.3,
// against a real `settee serve`: `_local` documents in a batch, a revision no tree holds, `"_rev":"1-"`
// with new_edits=false, what `features` claims, and a DELETE racing other DELETEs.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "live_server.h"

using settee::test::HttpReply;
using settee::test::Json;
using settee::test::LiveServer;

namespace {

// The i-th row of a JSON array answer, written back minified (simdjson's to_string keeps member order).
std::string row(const HttpReply& reply, size_t i) {
  Json j(reply.body);
  return simdjson::minify(j.root().get_array().at(i).value());
}

// The body without the newline CouchDB (and Settee) end a JSON answer with.
std::string text(const HttpReply& reply) {
  std::string b = reply.body;
  while (!b.empty() && b.back() == '\n') b.pop_back();
  return b;
}

uint64_t docCount(const LiveServer& node) {
  return Json(node("GET", "/db").body)["doc_count"].get_uint64().value();
}

}  // namespace

TEST_CASE("Bulk docs: a _local document in a batch is written and answered {ok,id,rev:0-1}", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  auto first = node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"_local/x","v":1},{"_id":"a","v":1}]})");
  REQUIRE(first.status == 201);
  CHECK(row(first, 0) == R"({"ok":true,"id":"_local/x","rev":"0-1"})");
  CHECK(Json(row(first, 1)).str("id") == "a");
  auto local = node("GET", "/db/_local/x");
  REQUIRE(local.status == 200);
  CHECK(text(local) == R"({"_id":"_local/x","_rev":"0-1","v":1})");

  // Updated with its 0-N revision; a stale one is a conflict for that row alone.
  auto second =
      node("POST", "/db/_bulk_docs",
           R"({"docs":[{"_id":"_local/x","_rev":"0-1","v":2},{"_id":"_local/x","_rev":"0-1","v":3}]})");
  REQUIRE(second.status == 201);
  CHECK(row(second, 0) == R"({"ok":true,"id":"_local/x","rev":"0-2"})");
  CHECK(row(second, 1) == R"({"id":"_local/x","error":"conflict","reason":"Document update conflict."})");
  CHECK(Json(node("GET", "/db/_local/x").body)["v"].get_int64().value() == 2);
  // Local documents are not documents: not counted, not in the changes feed.
  CHECK(docCount(node) == 1);
  CHECK(node("GET", "/db/_changes").body.find("_local") == std::string::npos);
  // The URL names the document on PUT: a body's `_local/` _id does not make it local, nor drop its _rev.
  auto put = node("PUT", "/db/plain", R"({"_id":"_local/y","_rev":"1-abc"})");
  CHECK(put.status == 409);
  CHECK(node("GET", "/db/plain").status == 404);
}

TEST_CASE("Bulk docs: a _local document is deleted in a batch with its 0-N revision", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  REQUIRE(node("PUT", "/db/_local/cp", R"({"seq":1})").status == 201);
  REQUIRE(node("PUT", "/db/_local/cp", R"({"_rev":"0-1","seq":2})").status == 201);
  auto gone =
      node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"_local/cp","_rev":"0-2","_deleted":true}]})");
  REQUIRE(gone.status == 201);
  CHECK(text(gone) == R"([{"ok":true,"id":"_local/cp","rev":"0-0"}])");
  CHECK(node("GET", "/db/_local/cp").status == 404);
  // Written again from scratch afterwards.
  auto again = node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"_local/cp","seq":3}]})");
  CHECK(text(again) == R"([{"ok":true,"id":"_local/cp","rev":"0-1"}])");
}

TEST_CASE("Bulk docs: a row naming an unknown or malformed revision is a conflict and the rest is written",
          "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  std::string rev = Json(node("PUT", "/db/a", R"({"v":1})").body).str("rev");
  // CouchDB's parse_rev takes each of these (digits, a dash, anything); none is in a's tree.
  auto r =
      node("POST", "/db/_bulk_docs",
           R"({"docs":[{"_id":"a","_rev":"1-not_a-hash","v":2},{"_id":"a","_rev":"0-abc","v":2},)"
           R"({"_id":"a","_rev":"9-0123456789abcdef0123456789abcdef","v":2},{"_id":"new","_rev":"1-abc"},)"
           R"({"_id":"b","v":1}]})");
  REQUIRE(r.status == 201);
  const char* conflictRow = R"({"id":"%s","error":"conflict","reason":"Document update conflict."})";
  auto expect = [&](const char* id) {
    char buf[200];
    std::snprintf(buf, sizeof buf, conflictRow, id);
    return std::string(buf);
  };
  CHECK(row(r, 0) == expect("a"));
  CHECK(row(r, 1) == expect("a"));
  CHECK(row(r, 2) == expect("a"));
  CHECK(row(r, 3) == expect("new"));
  CHECK(Json(row(r, 4)).str("id") == "b");
  CHECK(node("GET", "/db/b").status == 200);
  CHECK(node("GET", "/db/new").status == 404);
  CHECK(Json(node("GET", "/db/a").body).str("_rev") == rev);
}

TEST_CASE("Bulk docs: a revision CouchDB cannot parse refuses the batch, as PUT refuses the document",
          "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  for (const char* bad : {"abc", "x-1", "-abc", "1-0123456789abcdef0123456789abcdeZ"}) {
    INFO(bad);
    auto batch = node("POST", "/db/_bulk_docs",
                      std::string(R"({"docs":[{"_id":"b"},{"_id":"a","_rev":")") + bad + R"("}]})");
    CHECK(batch.status == 400);
    CHECK(text(batch) == R"({"error":"bad_request","reason":"Invalid rev format"})");
    auto put = node("PUT", "/db/a", std::string(R"({"_rev":")") + bad + R"("})");
    CHECK(put.status == 400);
    CHECK(text(put) == R"({"error":"bad_request","reason":"Invalid rev format"})");
  }
  CHECK(docCount(node) == 0);
  // One CouchDB parses but no tree holds: PUT answers 409 as CouchDB does.
  auto odd = node("PUT", "/db/a", R"({"_rev":"1-not_a-hash"})");
  CHECK(odd.status == 409);
  CHECK(text(odd) == R"({"error":"conflict","reason":"Document update conflict."})");
}

TEST_CASE("Bulk docs: new_edits=false takes a bare \"_rev\":\"1-\" and stores revision 1-", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  auto r = node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"e","_rev":"1-","v":1}],"new_edits":false})");
  CHECK(r.status == 201);
  CHECK(text(r) == "[]");
  auto doc = node("GET", "/db/e");
  REQUIRE(doc.status == 200);
  CHECK(text(doc) == R"({"_id":"e","_rev":"1-","v":1})");
  // Again: nothing new. Then an ordinary edit extends it.
  CHECK(text(node("POST", "/db/_bulk_docs",
                  R"({"docs":[{"_id":"e","_rev":"1-","v":1}],"new_edits":false})")) == "[]");
  auto edit = node("PUT", "/db/e", R"({"_rev":"1-","v":2})");
  CHECK(edit.status == 201);
  CHECK(Json(edit.body).str("rev").substr(0, 2) == "2-");
  // A revision no tree can hold is refused for its row alone under new_edits=false.
  auto odd = node("POST", "/db/_bulk_docs",
                  R"({"docs":[{"_id":"f","_rev":"0-abc"},{"_id":"g","_rev":"1-abc"}],"new_edits":false})");
  CHECK(odd.status == 201);
  CHECK(text(odd) == R"([{"id":"f","rev":"0-abc","error":"bad_request","reason":"Invalid rev format"}])");
  CHECK(node("GET", "/db/g").status == 200);
}

TEST_CASE("Serve: the welcome lists in features only what Settee does", "[http][api]") {
  LiveServer node;
  Json w(node("GET", "/").body);
  std::vector<std::string> features;
  for (auto f : w["features"].get_array()) features.emplace_back(std::string_view(f));
  // Not partitioned databases, resharding, pluggable storage engines or per-document access.
  CHECK(features == std::vector<std::string>{"scheduler"});
  CHECK(node("GET", "/_scheduler/jobs").status == 200);
}

TEST_CASE("Docs: DELETE of an absent or deleted document is a 404 whatever the revision", "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  auto absent = node("DELETE", "/db/nope?rev=1-abc");
  CHECK(absent.status == 404);
  CHECK(text(absent) == R"({"error":"not_found","reason":"missing"})");
  std::string rev = Json(node("PUT", "/db/a", "{}").body).str("rev");
  CHECK(node("DELETE", "/db/a").status == 409);  // live, no revision named
  CHECK(node("DELETE", "/db/a?rev=" + rev).status == 200);
  auto again = node("DELETE", "/db/a?rev=" + rev);
  CHECK(again.status == 404);
  CHECK(text(again) == R"({"error":"not_found","reason":"deleted"})");
}

TEST_CASE("Docs: of racing DELETEs of one revision one wins and every other finds it deleted",
          "[http][docs]") {
  // Judged in one transaction, a loser can only see the winner's tombstone (404 deleted); a check made
  // apart from the write would let some see a live document and then fail with 409.
  LiveServer node;
  node("PUT", "/db");
  constexpr int kRounds = 20, kRacers = 16;
  std::map<std::string, int> outcomes;
  for (int round = 0; round < kRounds; ++round) {
    std::string id = "d" + std::to_string(round);
    std::string rev = Json(node("PUT", "/db/" + id, "{}").body).str("rev");
    std::vector<std::string> got(kRacers);
    std::atomic<int> ready{0};
    std::vector<std::thread> racers;
    for (int i = 0; i < kRacers; ++i) {
      racers.emplace_back([&, i] {
        ready++;
        while (ready.load() < kRacers) std::this_thread::yield();
        auto r = node("DELETE", "/db/" + id + "?rev=" + rev);
        got[static_cast<size_t>(i)] = std::to_string(r.status) + " " + text(r);
      });
    }
    for (auto& t : racers) t.join();
    int wins = 0;
    for (const auto& g : got) {
      outcomes[g.substr(0, 3)]++;
      if (g.rfind("200", 0) == 0) {
        ++wins;
      } else {
        CHECK(g == R"(404 {"error":"not_found","reason":"deleted"})");
      }
    }
    CHECK(wins == 1);
  }
  CHECK(outcomes["200"] == kRounds);
}
