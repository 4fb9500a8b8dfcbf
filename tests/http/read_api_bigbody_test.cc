// _all_docs with include_docs&attachments=true against a real `settee serve`: a large attachment body is
// streamed from the store as base64 inside its row, as GET /db/doc?attachments=true streams it, instead
// of being built into the row in memory (a 48 MB body would otherwise cost five times that in copies).
#include <catch2/catch.hpp>

#include "attachment_test_support.h"
#include "db/crypto.h"
#include "live_server.h"
#include "peak_rss.h"

using settee::test::HttpReply;
using settee::test::Json;
using settee::test::LiveServer;

namespace {

constexpr size_t kBig = 48 * 1024 * 1024;

// How far the server's peak RSS rises over its RSS while `fn` runs, in MB.
template <class F>
double peakGrowthMb(LiveServer& node, F fn) {
  REQUIRE(settee::test::resetPeak(node.pid()));
  long base = settee::test::statusKb(node.pid(), "VmHWM");
  REQUIRE(base > 0);
  fn();
  return static_cast<double>(settee::test::statusKb(node.pid(), "VmHWM") - base) / 1024.0;
}

template <class Row>
std::string dataOf(Row row, const char* att) {
  return settee::db::base64Decode(row["doc"]["_attachments"][att]["data"].get_string().value()).value_or("?");
}

}  // namespace

TEST_CASE("Read API: _all_docs attachments=true streams a large body in its row instead of building it",
          "[http][readapi][bigbody]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  const std::string big = settee::test::randomBytes(kBig, 5);
  REQUIRE(node("PUT", "/db/b/blob.bin", big, {{"Content-Type", "application/octet-stream"}}).status == 201);
  REQUIRE(
      node("PUT", "/db/a", R"({"_attachments":{"t.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})")
          .status == 201);
  REQUIRE(node("PUT", "/db/c", R"({"v":3})").status == 201);

  const std::string keys = "%5B%22c%22%2C%22b%22%2C7%2C%22a%22%5D";  // ["c","b",7,"a"]
  for (const std::string& target : {std::string("/db/_all_docs?include_docs=true&attachments=true"),
                                    "/db/_all_docs?include_docs=true&attachments=true&keys=" + keys}) {
    INFO(target);
    HttpReply r;
    double mb = peakGrowthMb(node, [&] { r = node("GET", target); });
    INFO("_all_docs with a 48 MB attachment inline: peak RSS grew by " << mb << " MB");
    CHECK(mb < 24.0 + settee::test::kSanitizerSlackMb);
    REQUIRE(r.status == 200);
    Json j(r.body);
    auto rows = j["rows"].get_array();
    const bool keyed = target.find("keys=") != std::string::npos;
    REQUIRE(rows.size() == (keyed ? 4u : 3u));
    simdjson::dom::element bigRow = rows.at(1);
    CHECK(std::string_view(bigRow["id"]) == "b");
    CHECK(dataOf(bigRow, "blob.bin") == big);
    CHECK(dataOf(rows.at(keyed ? 3 : 0), "t.txt") == "hello");
    CHECK(std::string_view(rows.at(keyed ? 0 : 2)["doc"]["_id"]) == "c");
    if (keyed) CHECK(std::string_view(rows.at(2)["error"]) == "not_found");
  }
  // The same rows through .../queries.
  auto q = node("POST", "/db/_all_docs/queries",
                R"({"queries":[{"keys":["b"],"include_docs":true,"attachments":true},{"limit":1}]})");
  REQUIRE(q.status == 200);
  Json qj(q.body);
  CHECK(dataOf(qj["results"].get_array().at(0)["rows"].get_array().at(0), "blob.bin") == big);
  CHECK(std::string_view(qj["results"].get_array().at(1)["rows"].get_array().at(0)["id"]) == "a");
}

TEST_CASE("Read API: _changes attachments=true streams a large body in its row, in every feed style",
          "[http][readapi][bigbody]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(
      node("PUT", "/db/a", R"({"_attachments":{"t.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})")
          .status == 201);
  const std::string big = settee::test::randomBytes(kBig, 9);
  REQUIRE(node("PUT", "/db/b/blob.bin", big, {{"Content-Type", "application/octet-stream"}}).status == 201);
  REQUIRE(node("PUT", "/db/c", R"({"v":3})").status == 201);
  // The rows of each feed style as JSON texts.
  auto rowsOf = [](const std::string& feed, const std::string& body) {
    std::vector<std::string> rows;
    if (feed == "normal" || feed == "longpoll") {
      Json j(body);
      for (auto r : j["results"].get_array()) rows.emplace_back(simdjson::minify(r));
      return rows;
    }
    size_t at = 0;
    while (at < body.size()) {
      size_t eol = body.find('\n', at);
      if (eol == std::string::npos) eol = body.size();
      std::string line = body.substr(at, eol - at);
      at = eol + 1;
      if (feed == "eventsource" && line.rfind("data: ", 0) == 0) rows.push_back(line.substr(6));
      if (feed == "continuous" && line.rfind("{\"seq\"", 0) == 0) rows.push_back(line);
    }
    return rows;
  };
  // heartbeat=10 beats many times while the large row goes out: none may land inside it. limit=3 ends
  // the waiting feeds once the three rows are out.
  for (std::string feed : {"normal", "longpoll", "continuous", "eventsource"}) {
    INFO(feed);
    HttpReply r;
    double mb = peakGrowthMb(node, [&] {
      r = node("GET", "/db/_changes?include_docs=true&attachments=true&limit=3&heartbeat=10&feed=" + feed);
    });
    INFO("_changes with a 48 MB attachment inline: peak RSS grew by " << mb << " MB");
    CHECK(mb < 24.0 + settee::test::kSanitizerSlackMb);
    REQUIRE(r.status == 200);
    auto rows = rowsOf(feed, r.body);
    REQUIRE(rows.size() == 3);
    Json first(rows[0]), second(rows[1]), third(rows[2]);
    CHECK(first.str("id") == "a");
    CHECK(dataOf(first.root(), "t.txt") == "hello");
    CHECK(second.str("id") == "b");
    CHECK(dataOf(second.root(), "blob.bin") == big);
    CHECK(third.str("id") == "c");
  }
  // Paging through it one row at a time resumes after the large row.
  Json page(node("GET", "/db/_changes?include_docs=true&attachments=true&since=1&limit=1").body);
  CHECK(int64_t(page["last_seq"]) == 2);
  CHECK(int64_t(page["pending"]) == 1);
  CHECK(dataOf(page["results"].get_array().at(0), "blob.bin") == big);
}
