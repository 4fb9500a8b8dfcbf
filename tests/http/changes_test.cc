// The _changes feeds of a real `settee serve` process, over HTTP: normal, longpoll, continuous and
// eventsource, their parameters and filters, and what the replicators rely on (PROTOCOL.md).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;
using Clock = std::chrono::steady_clock;

namespace {

// A client that reads a streamed answer as it arrives, so a test can act between two rows.
class StreamClient {
 public:
  StreamClient(int port, const std::string& method, const std::string& target, const std::string& body = "") {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!body.empty())
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    REQUIRE(send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  }
  ~StreamClient() { disconnect(); }
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // Reads until the de-chunked body contains `needle` (true) or `timeoutMs` passes or the server closes.
  bool waitFor(const std::string& needle, int timeoutMs) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    while (body().find(needle) == std::string::npos) {
      if (!readSome(deadline)) return body().find(needle) != std::string::npos;
    }
    return true;
  }
  // Reads until the server closes the connection; false on timeout.
  bool waitClosed(int timeoutMs) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!eof_) {
      if (!readSome(deadline)) return eof_;
    }
    return true;
  }
  const std::string& raw() const { return raw_; }
  // The response body so far, chunk framing removed (complete chunks only).
  std::string body() const {
    size_t pos = raw_.find("\r\n\r\n");
    if (pos == std::string::npos) return {};
    pos += 4;
    std::string out;
    for (;;) {
      size_t eol = raw_.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t size = std::stoul(raw_.substr(pos, eol - pos), nullptr, 16);
      if (size == 0 || eol + 2 + size + 2 > raw_.size()) break;
      out += raw_.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    return out;
  }
  void disconnect() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  bool readSome(Clock::time_point deadline) {
    if (eof_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    raw_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool eof_ = false;
  std::string raw_;
};

// Writes `n` documents id0..id<n-1> (zero-padded) in one _bulk_docs.
void writeDocs(const LiveServer& node, int from, int to, const std::string& extra = "") {
  std::string docs;
  for (int i = from; i < to; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "d%04d", i);
    docs += std::string(docs.empty() ? "" : ",") + R"({"_id":")" + id + R"(","n":)" + std::to_string(i) +
            extra + "}";
  }
  REQUIRE(node("POST", "/db/_bulk_docs", R"({"docs":[)" + docs + "]}").status == 201);
}

std::vector<std::string> ids(const Json& feed) {
  std::vector<std::string> out;
  for (auto row : feed["results"].get_array()) out.emplace_back(std::string_view(row["id"].get_string()));
  return out;
}

uint64_t u64(simdjson::dom::element e) { return uint64_t(e); }

// The non-empty lines of a continuous body.
std::vector<std::string> lines(const std::string& body) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = body.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) out.push_back(body.substr(start, nl - start));
  }
  return out;
}

}  // namespace

TEST_CASE("Changes: a normal feed lists each document once at its latest seq, with last_seq and pending",
          "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  auto empty = node("GET", "/db/_changes");
  REQUIRE(empty.status == 200);
  CHECK(Json(empty.body)["results"].get_array().size() == 0);
  CHECK(u64(Json(empty.body)["last_seq"]) == 0);

  auto a = node("POST", "/db", R"({"_id":"a"})");
  REQUIRE(a.status == 201);
  REQUIRE(node("POST", "/db", R"({"_id":"b"})").status == 201);
  auto c = node("POST", "/db", R"({"_id":"c","v":1})");
  std::string rev = Json(c.body).str("rev");
  // Updating a moves it to the end of the feed.
  auto upd = node("POST", "/db/_bulk_docs",
                  R"({"docs":[{"_id":"a","_rev":")" + Json(a.body).str("rev") + R"(","v":2}]})");
  REQUIRE(upd.status == 201);

  auto reply = node("GET", "/db/_changes");
  REQUIRE(reply.status == 200);
  CHECK(*reply.header("Content-Type") == "application/json");
  CHECK(reply.header("Transfer-Encoding") != nullptr);
  Json feed(reply.body);
  CHECK(ids(feed) == std::vector<std::string>{"b", "c", "a"});
  CHECK(u64(feed["last_seq"]) == 4);
  CHECK(u64(feed["pending"]) == 0);
  auto row = feed["results"].at(1);
  CHECK(u64(row["seq"]) == 3);
  CHECK(row["changes"].get_array().size() == 1);
  CHECK(std::string_view(row["changes"].at(0)["rev"].get_string()) == rev);
  CHECK(row["deleted"].error());
  CHECK(row["doc"].error());

  Json limited(node("GET", "/db/_changes?limit=2").body);
  CHECK(ids(limited) == std::vector<std::string>{"b", "c"});
  CHECK(u64(limited["last_seq"]) == 3);
  CHECK(u64(limited["pending"]) == 1);
  // GET /db's update_seq agrees with the feed's end.
  CHECK(u64(Json(node("GET", "/db").body)["update_seq"]) == 4);
  CHECK(node("GET", "/nope/_changes").status == 404);
}

TEST_CASE("Changes: limit is exact, limit=0 is 1, and PouchDB-style paging visits every document once",
          "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  writeDocs(node, 0, 1234);  // more than two of the server's internal batches
  std::set<std::string> seen;
  uint64_t since = 0;
  int requests = 0;
  for (;;) {
    auto reply =
        node("GET", "/db/_changes?style=all_docs&seq_interval=100&limit=100&since=" + std::to_string(since));
    REQUIRE(reply.status == 200);
    Json page(reply.body);
    auto rows = ids(page);
    ++requests;
    for (const auto& id : rows) CHECK(seen.insert(id).second);
    uint64_t last = u64(page["last_seq"]);
    CHECK(u64(page["pending"]) == 1234 - seen.size());
    if (rows.size() < 100) break;
    CHECK(rows.size() == 100);
    CHECK(last > since);
    since = last;
  }
  CHECK(seen.size() == 1234);
  CHECK(requests == 13);

  Json one(node("GET", "/db/_changes?limit=0").body);
  CHECK(ids(one) == std::vector<std::string>{"d0000"});
  Json all(node("GET", "/db/_changes").body);
  CHECK(all["results"].get_array().size() == 1234);
  CHECK(u64(all["last_seq"]) == 1234);
  // Exactly the limit, even across the server's internal batches.
  CHECK(Json(node("GET", "/db/_changes?limit=777").body)["results"].get_array().size() == 777);
}

TEST_CASE("Changes: style=all_docs lists every leaf; deleted describes the winner", "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  // Two conflicting branches of x, written as a replicator would.
  REQUIRE(node("POST", "/db/_bulk_docs",
               R"({"new_edits":false,"docs":[{"_id":"x","_rev":"1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","v":1},)"
               R"({"_id":"x","_rev":"1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","v":2}]})")
              .status == 201);
  Json main(node("GET", "/db/_changes").body);
  REQUIRE(main["results"].get_array().size() == 1);
  CHECK(main["results"].at(0)["changes"].get_array().size() == 1);
  CHECK(std::string_view(main["results"].at(0)["changes"].at(0)["rev"].get_string()) ==
        "1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  Json all(node("GET", "/db/_changes?style=all_docs").body);
  auto changes = all["results"].at(0)["changes"];
  REQUIRE(changes.get_array().size() == 2);
  CHECK(std::string_view(changes.at(0)["rev"].get_string()) == "1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  CHECK(std::string_view(changes.at(1)["rev"].get_string()) == "1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  CHECK(node("GET", "/db/_changes?style=main_only").status == 200);

  // Deleting the winner leaves the other branch winning: not deleted; deleting both: deleted.
  REQUIRE(node("POST", "/db/_bulk_docs",
               R"({"docs":[{"_id":"x","_rev":"1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","_deleted":true}]})")
              .status == 201);
  Json one(node("GET", "/db/_changes?style=all_docs").body);
  CHECK(one["results"].at(0)["deleted"].error());
  CHECK(one["results"].at(0)["changes"].get_array().size() == 2);
  REQUIRE(node("POST", "/db/_bulk_docs",
               R"({"docs":[{"_id":"x","_rev":"1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","_deleted":true}]})")
              .status == 201);
  Json gone(node("GET", "/db/_changes?include_docs=true").body);
  auto row = gone["results"].at(0);
  CHECK(bool(row["deleted"]) == true);
  CHECK(bool(row["doc"]["_deleted"]) == true);
  CHECK(std::string_view(row["doc"]["_id"].get_string()) == "x");
}

TEST_CASE("Changes: include_docs, conflicts, descending, and every form of since", "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  writeDocs(node, 0, 5, R"(,"tag":"q\"uote")");
  Json docs(node("GET", "/db/_changes?include_docs=true&limit=2").body);
  auto doc = docs["results"].at(1)["doc"];
  CHECK(std::string_view(doc["_id"].get_string()) == "d0001");
  CHECK(std::string_view(doc["tag"].get_string()) == "q\"uote");
  CHECK(std::string_view(doc["_rev"].get_string()) ==
        std::string_view(docs["results"].at(1)["changes"].at(0)["rev"].get_string()));

  REQUIRE(node("POST", "/db/_bulk_docs",
               R"({"new_edits":false,"docs":[{"_id":"d0004","_rev":"1-00000000000000000000000000000000"}]})")
              .status == 201);
  Json conflicts(node("GET", "/db/_changes?include_docs=true&conflicts=true&since=5").body);
  REQUIRE(conflicts["results"].get_array().size() == 1);
  CHECK(conflicts["results"].at(0)["doc"]["_conflicts"].get_array().size() == 1);

  Json desc(node("GET", "/db/_changes?descending=true").body);
  CHECK(ids(desc) == std::vector<std::string>{"d0004", "d0003", "d0002", "d0001", "d0000"});
  Json descLimited(node("GET", "/db/_changes?descending=true&limit=2").body);
  CHECK(ids(descLimited) == std::vector<std::string>{"d0004", "d0003"});
  CHECK(u64(descLimited["last_seq"]) == 4);

  for (const char* since : {"3", "%223%22", "%5B3%2C%22g1AAAA%22%5D", "3-g1AAAAxyz", "%223-g1AAAA%22"}) {
    INFO(since);
    auto reply = node("GET", std::string("/db/_changes?since=") + since);
    REQUIRE(reply.status == 200);
    CHECK(ids(Json(reply.body)) == std::vector<std::string>{"d0003", "d0004"});
  }
  Json now(node("GET", "/db/_changes?since=now").body);
  CHECK(now["results"].get_array().size() == 0);
  CHECK(u64(now["last_seq"]) == 6);
  Json beyond(node("GET", "/db/_changes?since=100").body);
  CHECK(beyond["results"].get_array().size() == 0);
}

TEST_CASE("Changes: longpoll answers at once with data, otherwise waits for the next write",
          "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  writeDocs(node, 0, 2);
  auto start = Clock::now();
  Json ready(node("GET", "/db/_changes?feed=longpoll&since=0").body);
  CHECK(ids(ready).size() == 2);
  CHECK(Clock::now() - start < std::chrono::seconds(2));

  // Nothing after since=2: the request waits until another client writes.
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    node("POST", "/db", R"({"_id":"late"})");
  });
  start = Clock::now();
  auto reply = node("GET", "/db/_changes?feed=longpoll&since=2&heartbeat=10000");
  auto waited = Clock::now() - start;
  writer.join();
  REQUIRE(reply.status == 200);
  Json woke(reply.body);
  CHECK(ids(woke) == std::vector<std::string>{"late"});
  CHECK(u64(woke["last_seq"]) == 3);
  CHECK(waited >= std::chrono::milliseconds(300));
  CHECK(waited < std::chrono::seconds(3));

  // Nothing arrives: the timeout answers with no results.
  start = Clock::now();
  Json idle(node("GET", "/db/_changes?feed=longpoll&since=now&timeout=300").body);
  CHECK(idle["results"].get_array().size() == 0);
  CHECK(u64(idle["last_seq"]) == 3);
  CHECK(Clock::now() - start >= std::chrono::milliseconds(250));

  // A filtered-out write does not wake a filtered longpoll.
  std::thread writer2([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    node("POST", "/db", R"({"_id":"other"})");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    node("POST", "/db", R"({"_id":"wanted"})");
  });
  Json filtered(
      node("GET", "/db/_changes?feed=longpoll&since=now&filter=_doc_ids&doc_ids=%5B%22wanted%22%5D").body);
  writer2.join();
  CHECK(ids(filtered) == std::vector<std::string>{"wanted"});
}

TEST_CASE("Changes: continuous streams rows as they are written, heartbeats, and ends with last_seq",
          "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  writeDocs(node, 0, 2);
  {
    StreamClient feed(node.port(), "GET", "/db/_changes?feed=continuous&heartbeat=100");
    REQUIRE(feed.waitFor(R"("id":"d0001")", 3000));
    auto before = lines(feed.body());
    CHECK(before.size() == 2);
    node("POST", "/db", R"({"_id":"live1"})");
    CHECK(feed.waitFor(R"("id":"live1")", 2000));
    node("POST", "/db", R"({"_id":"live2"})");
    CHECK(feed.waitFor(R"("id":"live2")", 2000));
    // Blank lines arrive while nothing happens.
    CHECK(feed.waitFor("}\n\n\n", 2000));
    auto rows = lines(feed.body());
    REQUIRE(rows.size() == 4);
    CHECK(u64(Json(rows[3])["seq"]) == 4);
    CHECK(feed.raw().find("HTTP/1.1 200") == 0);
  }
  // timeout ends the feed with a last_seq line.
  StreamClient timed(node.port(), "GET", "/db/_changes?feed=continuous&since=3&timeout=300");
  REQUIRE(timed.waitClosed(3000));
  auto rows = lines(timed.body());
  REQUIRE(rows.size() == 2);
  CHECK(std::string_view(Json(rows[0])["id"].get_string()) == "live2");
  Json end(rows[1]);
  CHECK(u64(end["last_seq"]) == 4);
  CHECK(u64(end["pending"]) == 0);

  // A limit ends a continuous feed too.
  StreamClient limited(node.port(), "GET", "/db/_changes?feed=continuous&limit=1");
  REQUIRE(limited.waitClosed(3000));
  auto limitedRows = lines(limited.body());
  REQUIRE(limitedRows.size() == 2);
  CHECK(u64(Json(limitedRows[1])["last_seq"]) == 1);
  CHECK(u64(Json(limitedRows[1])["pending"]) == 3);
}

TEST_CASE("Changes: eventsource sends data/id events and heartbeat events", "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  writeDocs(node, 0, 1);
  StreamClient es(node.port(), "GET", "/db/_changes?feed=eventsource&heartbeat=100");
  REQUIRE(es.waitFor("id: 1\n\n", 3000));
  CHECK(es.raw().find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(es.body().find("data: {\"seq\":1,\"id\":\"d0000\"") == 0);
  CHECK(es.waitFor("event: heartbeat\ndata: \n\n", 2000));
  node("POST", "/db", R"({"_id":"x"})");
  CHECK(es.waitFor("id: 2\n\n", 2000));
}

TEST_CASE("Changes: _doc_ids by GET and POST, _design, and _selector by POST", "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  writeDocs(node, 0, 700, R"(,"o":{"k":"v"})");  // spans two internal batches
  REQUIRE(node("POST", "/db", R"({"_id":"_design/app","views":{}})").status == 201);
  REQUIRE(node("POST", "/db", R"({"_id":"nested","o":{"k":"w","n":[1,2]}})").status == 201);

  Json byGet(
      node("GET", "/db/_changes?filter=_doc_ids&doc_ids=%5B%22d0650%22%2C%22d0003%22%2C%22zz%22%5D").body);
  CHECK(ids(byGet) == std::vector<std::string>{"d0003", "d0650"});
  CHECK(u64(byGet["last_seq"]) == 702);
  auto byPost = node("POST", "/db/_changes?filter=_doc_ids", R"({"doc_ids":["nested","d0001"]})");
  REQUIRE(byPost.status == 200);
  CHECK(ids(Json(byPost.body)) == std::vector<std::string>{"d0001", "nested"});
  // The limit counts rows sent, not rows scanned.
  CHECK(ids(Json(node("POST", "/db/_changes?filter=_doc_ids&limit=1", R"({"doc_ids":["nested","d0699"]})")
                     .body)) == std::vector<std::string>{"d0699"});

  CHECK(ids(Json(node("GET", "/db/_changes?filter=_design").body)) ==
        std::vector<std::string>{"_design/app"});

  auto gt = node("POST", "/db/_changes?filter=_selector", R"({"selector":{"n":{"$gt":696}}})");
  REQUIRE(gt.status == 200);
  CHECK(ids(Json(gt.body)) == std::vector<std::string>{"d0697", "d0698", "d0699"});
  auto nested = node("POST", "/db/_changes?filter=_selector&include_docs=true",
                     R"({"selector":{"o.k":"w","o":{"n":{"$size":2}}}})");
  REQUIRE(nested.status == 200);
  Json n(nested.body);
  CHECK(ids(n) == std::vector<std::string>{"nested"});
  CHECK(std::string_view(n["results"].at(0)["doc"]["o"]["k"].get_string()) == "w");
  // Selector with a longpoll: wakes only for a matching write.
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    node("POST", "/db", R"({"_id":"nope","n":1})");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    node("POST", "/db", R"({"_id":"yes","n":5000})");
  });
  Json lp(node("POST", "/db/_changes?feed=longpoll&since=now&filter=_selector",
               R"({"selector":{"n":{"$gt":1000}}})")
              .body);
  writer.join();
  CHECK(ids(lp) == std::vector<std::string>{"yes"});
}

TEST_CASE("Changes: bad parameter values are 400 and unknown filters are refused", "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  REQUIRE(
      node("POST", "/db", R"({"_id":"_design/app","filters":{"f":"function(doc){return true}"}})").status ==
      201);
  for (const char* q : {"feed=sideways",
                        "since=abc",
                        "since=-1",
                        "since=%5B%5D",
                        "since=%22x%22",
                        "limit=-1",
                        "limit=ten",
                        "descending=yes",
                        "style=some",
                        "include_docs=1",
                        "heartbeat=often",
                        "timeout=-5",
                        "conflicts=maybe",
                        "seq_interval=x",
                        "filter=_view",
                        "filter=nofunction",
                        "filter=_doc_ids",
                        "filter=_doc_ids&doc_ids=%5B1%5D",
                        "filter=_doc_ids&doc_ids=%5B",
                        "filter=_selector"}) {
    INFO(q);
    auto reply = node("GET", std::string("/db/_changes?") + q);
    CHECK(reply.status == 400);
    CHECK(Json(reply.body).str("error") == "bad_request");
  }
  CHECK(node("POST", "/db/_changes?filter=_selector", R"({"selector":{"n":{"$bogus":1}}})").status == 400);
  CHECK(node("POST", "/db/_changes?filter=_selector", R"({"selector":[1]})").status == 400);
  CHECK(node("POST", "/db/_changes?filter=_selector", R"({"selector":)").status == 400);
  CHECK(node("POST", "/db/_changes?filter=_doc_ids", R"({"doc_ids":"a"})").status == 400);
  CHECK(node("POST", "/db/_changes", R"([1])").status == 400);
  CHECK(node("POST", "/db/_changes", R"({})", {{"Content-Type", "text/plain"}}).status == 415);
  auto missingDdoc = node("GET", "/db/_changes?filter=other/f");
  CHECK(missingDdoc.status == 404);
  CHECK(Json(missingDdoc.body).str("error") == "not_found");
  CHECK(node("GET", "/db/_changes?filter=app/g").status == 404);
  // A filter function that exists runs (tests/http/js_design_test.cc covers what it lets through).
  CHECK(node("GET", "/db/_changes?filter=app/f").status == 200);
  CHECK(node("PUT", "/db/_changes").status == 405);
  // Nothing was broken by the refusals.
  CHECK(node("GET", "/db/_changes").status == 200);
}

TEST_CASE("Changes: clients that disconnect mid-feed leave the server healthy", "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  writeDocs(node, 0, 3);
  for (int i = 0; i < 5; ++i) {
    StreamClient feed(node.port(), "GET", "/db/_changes?feed=continuous&heartbeat=50&include_docs=true");
    REQUIRE(feed.waitFor(R"("id":"d0002")", 3000));
    feed.disconnect();
    StreamClient poll(node.port(), "GET", "/db/_changes?feed=longpoll&since=now");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    poll.disconnect();
  }
  // Writes still go through (they call every listener) and every feed kind still answers.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  writeDocs(node, 3, 10);
  Json all(node("GET", "/db/_changes").body);
  CHECK(all["results"].get_array().size() == 10);
  StreamClient feed(node.port(), "GET", "/db/_changes?feed=continuous&timeout=200&since=8");
  REQUIRE(feed.waitClosed(3000));
  CHECK(lines(feed.body()).size() == 3);
  CHECK(node("GET", "/_up").status == 200);
}

TEST_CASE("Changes: a large feed streams while the client reads slowly", "[http][changes]") {
  LiveServer node;
  node("PUT", "/db");
  std::string pad(2000, 'x');
  for (int i = 0; i < 2000; i += 500) writeDocs(node, i, i + 500, R"(,"pad":")" + pad + "\"");
  // ~4.5 MB with include_docs: several batches and more than the server queues before pausing.
  StreamClient slow(node.port(), "GET", "/db/_changes?include_docs=true");
  REQUIRE(slow.waitFor("d0000", 3000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server must pause, not buffer it all
  REQUIRE(slow.waitClosed(10000));
  Json feed(slow.body());
  CHECK(feed["results"].get_array().size() == 2000);
  CHECK(u64(feed["last_seq"]) == 2000);
}
