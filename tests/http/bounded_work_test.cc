// Work per request is bounded: slow requests never hold every thread, a hostile regex cannot pin one, and
// a request whose client has gone does not run.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

// A database whose documents each hold a long string, so a selector scan over it costs real work.
void fill(LiveServer& node, const std::string& db, int docs, size_t bytes) {
  REQUIRE(node("PUT", "/" + db).status == 201);
  std::string filler(bytes, 'a');
  for (int start = 0; start < docs; start += 500) {
    std::string body = R"({"docs":[)";
    for (int i = start; i < std::min(docs, start + 500); ++i) {
      if (i > start) body += ",";
      body += R"({"_id":"d)" + std::to_string(i) + R"(","s":")" + filler + R"("})";
    }
    body += "]}";
    REQUIRE(node("POST", "/" + db + "/_bulk_docs", body).status == 201);
  }
}

}  // namespace

TEST_CASE("Bounded work: sixteen catastrophic regexes answer, and the node keeps answering",
          "[http][limits]") {
  LiveServer node;
  fill(node, "r", 200, 64);
  // (a+)+$ against "aaaa...a!" backtracks for ever on PCRE or std::regex; RE2 answers in one pass.
  const std::string evil = R"({"selector":{"s":{"$regex":"^(a+)+$"}}})";
  REQUIRE(node("PUT", "/r/bang", R"({"s":")" + std::string(64, 'a') + R"(!"})").status == 201);
  std::vector<std::future<int>> replies;
  for (int i = 0; i < 16; ++i) {
    replies.push_back(std::async(std::launch::async,
                                 [&] { return node("POST", "/r/_changes?filter=_selector", evil).status; }));
  }
  for (auto& r : replies) CHECK(r.get() == 200);
  auto one = node("POST", "/r/_changes?filter=_selector", evil);
  REQUIRE(one.status == 200);
  CHECK(one.body.find("\"bang\"") == std::string::npos);  // "...a!" does not match ^(a+)+$
  CHECK(one.body.find("\"d1\"") != std::string::npos);
  CHECK(node("GET", "/_up").status == 200);
}

TEST_CASE("Bounded work: /_up, /_session and single-document reads answer while slow scans fill the node",
          "[http][limits]") {
  LiveServer node;
  fill(node, "big", 3000, 8 * 1024);
  REQUIRE(node("PUT", "/big/small", R"({"x":1})").status == 201);
  // Each scan parses every document and runs a regex over 8 KB strings: far slower than a single read.
  const std::string scan = R"({"selector":{"s":{"$regex":"^(a|b)*c$"}}})";
  constexpr int kSlow = 48;
  std::atomic<int> finished{0};
  std::vector<std::future<int>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::async(std::launch::async, [&] {
      int status = node("POST", "/big/_changes?filter=_selector", scan).status;
      ++finished;
      return status;
    }));
  }
  // Let the scans take their places, then ask the quick questions: they must not queue behind all the scans.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int before = finished.load();
  CHECK(node("GET", "/_up").status == 200);
  CHECK(node("GET", "/_session").status == 200);
  CHECK(node("GET", "/big/small").status == 200);
  CHECK(node("GET", "/big").status == 200);
  int after = finished.load();
  INFO("scans finished before the quick reads: " << before << ", after: " << after);
  // The quick reads were answered while most of the scans were still running (without the gate they wait
  // for the pool's FIFO queue to drain: every scan ahead of them).
  CHECK(after < kSlow / 2);
  for (auto& s : slow) CHECK(s.get() == 200);
}

TEST_CASE("Bounded work: a _changes scan past its time budget ends with a last_seq the client continues from",
          "[http][limits]") {
  // A budget of 1 ms, and a selector that makes every batch of 500 rows parse 2 MB of documents: an answer
  // holds the batch that spent the budget and the one after it, at most, whatever the database holds.
  LiveServer node("[fabric]\nrequest_timeout = 1\n");
  fill(node, "scan", 3000, 4096);
  const std::string everything = R"({"selector":{"_id":{"$gt":null}}})";
  std::string since = "0";
  size_t seen = 0;
  int answers = 0;
  for (; answers < 20; ++answers) {
    auto r = node("POST", "/scan/_changes?filter=_selector&since=" + since, everything);
    REQUIRE(r.status == 200);
    Json j(r.body);
    size_t rows = j["results"].get_array().value().size();
    seen += rows;
    since = std::to_string(uint64_t(j["last_seq"].get_uint64().value()));
    if (rows == 0 || j["pending"].get_uint64().value() == 0) break;
    CHECK(rows <= 1000);
  }
  CHECK(answers >= 2);  // the budget cut the scan into several answers
  CHECK(seen == 3000);  // and nothing was lost or repeated on the way
}

TEST_CASE("Bounded work: a flood of password guesses does not stop quick requests of logged-in clients",
          "[http][limits][auth][timing]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  const std::pair<std::string, std::string> admin{"Authorization", "Basic YWRtaW46czNjcmV0"};  // admin:s3cret
  REQUIRE(node("PUT", "/db", "", {admin}).status == 201);
  REQUIRE(node("PUT", "/db/doc", R"({"x":1})", {admin}).status == 201);  // the admin's login is now cached
  // Each guess costs a 600,000-iteration PBKDF2 (unknown names as much as known ones).
  constexpr int kGuesses = 48;
  std::atomic<int> finished{0};
  std::vector<std::future<int>> guesses;
  for (int i = 0; i < kGuesses; ++i) {
    guesses.push_back(std::async(std::launch::async, [&, i] {
      int status =
          node("POST", "/_session", R"({"name":"nobody)" + std::to_string(i) + R"(","password":"guess"})")
              .status;
      ++finished;
      return status;
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(node("GET", "/_up").status == 200);
  CHECK(node("GET", "/db/doc", "", {admin}).status == 200);
  CHECK(node("GET", "/db", "", {admin}).status == 200);
  int after = finished.load();
  INFO("guesses answered before the quick requests were: " << after);
  CHECK(after < kGuesses / 2);
  for (auto& g : guesses) CHECK(g.get() == 401);
}

TEST_CASE("Bounded work: [settee] max_buffered_body_bytes sets the budget of bodies held at once", "[http][limits]") {
  LiveServer node("[settee]\nmax_buffered_body_bytes = 4096\n");
  REQUIRE(node("PUT", "/db").status == 201);
  std::string small = R"({"docs":[{"_id":"a"}]})";
  std::string big = R"({"docs":[{"_id":"b","pad":")" + std::string(8192, 'x') + R"("}]})";
  CHECK(node("POST", "/db/_bulk_docs", small).status == 201);
  auto refused = node("POST", "/db/_bulk_docs", big);
  CHECK(refused.status == 503);
  CHECK(node("GET", "/db/b").status == 404);
}
