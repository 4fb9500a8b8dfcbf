// Headers CouchDB 3.4 puts on its answers and clients read: X-Couch-Request-ID on every answer, absolute
// Location on 201s, /_uuids' cache-busting headers and ETag; and the revision id CouchDB 3.4.3 gave a
// design document (shared transcripts, couchdb-javascript.txt #1), over HTTP from a real node.
#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "db/rev_hash.h"
#include "live_server.h"

using settee::test::HttpReply;
using settee::test::Json;
using settee::test::LiveServer;

namespace {

bool isTenHex(const std::string* id) { return id && std::regex_match(*id, std::regex("[0-9a-f]{10}")); }

// One request with headers of our choosing (the test client always sends its own Host), answered with
// the value of the response's Location header ("" when it has none) and its status in `status`.
std::string locationOf(int port, const std::string& method, const std::string& target,
                       const std::string& body, const std::string& extraHeaders, int& status) {
  std::string req = method + " " + target + " HTTP/1.1\r\n" + extraHeaders + "Connection: close\r\n";
  if (!body.empty())
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  std::string answer = settee::test::rawExchange(port, req);
  status = answer.size() > 12 ? std::stoi(answer.substr(9, 3)) : 0;
  std::smatch m;
  if (std::regex_search(answer, m, std::regex("\r\nLocation: ([^\r]*)\r\n", std::regex::icase))) return m[1];
  return "";
}

}  // namespace

TEST_CASE("Headers: every answer carries a fresh 10-hex X-Couch-Request-ID, errors and streams included",
          "[http][headers]") {
  LiveServer node;
  std::set<std::string> seen;
  for (HttpReply reply : {node("GET", "/"), node("PUT", "/db"), node("GET", "/missing"),
                          node("GET", "/db/_changes?feed=continuous&timeout=1"), node("PATCH", "/db")}) {
    INFO(reply.status << " " << reply.body);
    const std::string* id = reply.header("X-Couch-Request-ID");
    CHECK(isTenHex(id));
    if (id) seen.insert(*id);
  }
  CHECK(seen.size() == 5);
}

TEST_CASE("Headers: a client's own well-formed X-Couch-Request-ID is echoed, a malformed one replaced",
          "[http][headers]") {
  LiveServer node;
  auto echoed = node("GET", "/", "", {{"X-Couch-Request-ID", "trace-42.a_b"}});
  REQUIRE(echoed.header("X-Couch-Request-ID"));
  CHECK(*echoed.header("X-Couch-Request-ID") == "trace-42.a_b");
  auto replaced = node("GET", "/", "", {{"X-Couch-Request-ID", "has space"}});
  CHECK(isTenHex(replaced.header("X-Couch-Request-ID")));
}

TEST_CASE("Headers: 201 answers give an absolute Location built from the Host header", "[http][headers]") {
  LiveServer node;
  int status = 0;
  const std::string host = "Host: couch.example:5984\r\n";
  CHECK(locationOf(node.port(), "PUT", "/db", "", host, status) == "http://couch.example:5984/db");
  CHECK(status == 201);
  CHECK(locationOf(node.port(), "PUT", "/db/a%20b", R"({"v":1})", host, status) ==
        "http://couch.example:5984/db/a%20b");
  CHECK(status == 201);
  CHECK(locationOf(node.port(), "POST", "/db", R"({"_id":"p","v":1})", "Host: h:1\r\n", status) ==
        "http://h:1/db/p");
  CHECK(status == 201);
  // Behind a proxy: CouchDB's X-Forwarded-Host and X-Forwarded-Ssl.
  CHECK(locationOf(node.port(), "PUT", "/db/q", R"({"v":1})",
                   "Host: inner:5984\r\nX-Forwarded-Host: outer.example\r\nX-Forwarded-Ssl: on\r\n",
                   status) == "https://outer.example/db/q");
  // A batch write is not done yet: no Location, as in CouchDB.
  CHECK(locationOf(node.port(), "POST", "/db?batch=ok", R"({"_id":"b"})", host, status).empty());
  CHECK(status == 202);
}

TEST_CASE("Headers: /_uuids is never cacheable and its ETag is CouchDB's make_etag of the ids",
          "[http][headers][uuids]") {
  LiveServer node;
  auto reply = node("GET", "/_uuids?count=3");
  REQUIRE(reply.status == 200);
  REQUIRE(reply.header("Cache-Control"));
  CHECK(*reply.header("Cache-Control") == "must-revalidate, no-cache");
  REQUIRE(reply.header("Pragma"));
  CHECK(*reply.header("Pragma") == "no-cache");
  REQUIRE(reply.header("Expires"));
  CHECK(*reply.header("Expires") == "Mon, 01 Jan 1990 00:00:00 GMT");
  Json body(reply.body);
  std::vector<std::string> ids;
  for (auto id : body["uuids"].get_array()) ids.emplace_back(std::string_view(id.get_string().value()));
  REQUIRE(ids.size() == 3);
  REQUIRE(reply.header("ETag"));
  CHECK(*reply.header("ETag") == settee::db::couchEtag(settee::db::binaryListTerm(ids)));
  CHECK(node("GET", "/_uuids").header("ETag") != nullptr);
}

TEST_CASE("Uuids: make_etag is md5 of term_to_binary in upper-case base 36", "[http][uuids]") {
  // Computed independently: md5(<<131,106>>) and md5 of [<<"abc">>] as base-36 numbers.
  CHECK(settee::db::couchEtag(settee::db::binaryListTerm({})) == "\"9S1TZHT62SOTEBBYV5L6W8M9B\"");
  CHECK(settee::db::couchEtag(settee::db::binaryListTerm({"abc"})) == "\"7F1U6F085OKZLRLRNJWI393NE\"");
}

TEST_CASE("Revisions: a design document PUT over HTTP gets the revision CouchDB 3.4.3 gave it",
          "[http][revhash]") {
  LiveServer node;
  node("PUT", "/v");
  // couchdb-javascript.txt #1, the body as it was sent.
  const std::string ddoc =
      R"({"views": {"byType": {"map": "function(doc){ if (doc.type) emit([doc.type, doc.n], doc.n); }", "reduce": "_sum"}, )"
      R"("byTag": {"map": "function(doc){ (doc.tags||[]).forEach(function(t){ emit(t, null); }); }"}, )"
      R"("stats": {"map": "function(doc){ if (doc.n !== undefined) emit(doc.type, doc.n); }", "reduce": "_stats"}, )"
      R"("js": {"map": "function(doc){ emit(doc.type, 1); }", "reduce": "function(keys, values, rereduce){ return sum(values); }"}}, )"
      R"("filters": {"open": "function(doc, req){ return doc.status === (req.query.status || \"open\"); }"}, )"
      R"("validate_doc_update": "function(newDoc, oldDoc, userCtx, secObj){ if (newDoc.bad) throw({forbidden: 'bad docs are refused'}); if (newDoc.auth) throw({unauthorized: 'log in'}); }"})";
  auto reply = node("PUT", "/v/_design/app", ddoc);
  INFO(reply.body);
  REQUIRE(reply.status == 201);
  CHECK(Json(reply.body).str("rev") == "1-84cac595745540b1a62e849d229a22ba");
  REQUIRE(reply.header("ETag"));
  CHECK(*reply.header("ETag") == "\"1-84cac595745540b1a62e849d229a22ba\"");
  // And plain documents of couchdb-mango.txt / couchdb-javascript.txt.
  CHECK(Json(node("PUT", "/v/c1", R"({"type":"customer","name":"Ann"})").body).str("rev") ==
        "1-14da2fb7f3662768939ccbc1e3950333");
  CHECK(Json(node("PUT", "/v/e", R"({"type":"é"})").body).str("rev") == "1-7032569f17e211e425a59eae11251888");
}

TEST_CASE("Revisions: an attachment PUT goes first in the list CouchDB hashes", "[http][revhash]") {
  LiveServer node;
  node("PUT", "/db");
  // Expected ids from the encoder that reproduces CouchDB's (tests/db/rev_hash_test.cc): [a] for the first
  // revision; for the second CouchDB builds NewAtt ++ Others = [b, a] and hashes it reversed, [a, b].
  auto first =
      node("PUT", "/db/x",
           R"({"_attachments":{"a.bin":{"content_type":"application/octet-stream","data":"aGVsbG8="}}})");
  REQUIRE(first.status == 201);
  CHECK(Json(first.body).str("rev") == "1-8c161e6ebc477eb9060fcacc36b6c836");
  auto second = node("PUT", "/db/x/b.bin?rev=1-8c161e6ebc477eb9060fcacc36b6c836", "world",
                     {{"Content-Type", "application/octet-stream"}});
  INFO(second.body);
  REQUIRE(second.status == 201);
  CHECK(Json(second.body).str("rev") == "2-9e47b7b4e362d2ed633842668a3288c8");
}
