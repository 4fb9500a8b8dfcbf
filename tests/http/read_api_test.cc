// The read API a PouchDB app leans on, over HTTP against a real `settee serve`: _all_docs / _design_docs
// with include_docs&attachments=true, _changes with attachment bodies in every feed style, POST
// .../_all_docs/queries and .../_design_docs/queries, keys on _design_docs, and POST /_dbs_info — each
// option as CouchDB 3.4 answers it, and bad input refused with CouchDB's error and status, changing nothing.
#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <vector>

#include "attachment_test_support.h"
#include "db/crypto.h"
#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;
using settee::test::percentEncode;

namespace {

using V = std::vector<std::string>;
using Header = std::pair<std::string, std::string>;

std::vector<std::string> idsOf(simdjson::dom::element listing) {
  std::vector<std::string> out;
  for (auto row : listing["rows"].get_array()) {
    std::string_view id;
    if (row["id"].get(id)) id = row["key"].get_string().value();
    out.emplace_back(id);
  }
  return out;
}

std::string str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

// PUTs a document with one text attachment inline; returns its rev.
std::string putWithAttachment(const LiveServer& node, const std::string& db, const std::string& id,
                              const std::string& name, const std::string& bytes) {
  auto r = node("PUT", "/" + db + "/" + id,
                R"({"kind":"att","_attachments":{")" + name + R"(":{"content_type":"text/plain","data":")" +
                    settee::db::base64Encode(bytes) + R"("}}})");
  REQUIRE(r.status == 201);
  return Json(r.body).str("rev");
}

uint64_t updateSeq(const LiveServer& node, const std::string& db = "db") {
  return uint64_t(Json(node("GET", "/" + db).body)["update_seq"].get_uint64().value());
}

}  // namespace

TEST_CASE("Read API: _all_docs include_docs&attachments=true inlines each body as base64, else stubs",
          "[http][readapi]") {
  LiveServer node;
  node("PUT", "/db");
  putWithAttachment(node, "db", "a", "t.txt", "hello");
  putWithAttachment(node, "db", "_design/app", "lib.js", "var x;");
  node("PUT", "/db/b", R"({"plain":true})");

  auto check = [&](const std::string& body, bool inlined) {
    Json j(body);
    auto rows = j["rows"].get_array();
    REQUIRE(rows.size() == 3);
    auto att = rows.at(1)["doc"]["_attachments"]["t.txt"];
    CHECK(str(rows.at(1)["id"]) == "a");
    CHECK(int64_t(att["length"]) == 5);
    if (inlined) {
      CHECK(str(att["data"]) == "aGVsbG8=");
      CHECK(att["stub"].error());
      CHECK(str(rows.at(0)["doc"]["_attachments"]["lib.js"]["data"]) == settee::db::base64Encode("var x;"));
    } else {
      CHECK(att["data"].error());
      CHECK(bool(att["stub"]));
    }
    CHECK(rows.at(2)["doc"]["_attachments"].error());
  };
  check(node("GET", "/db/_all_docs?include_docs=true&attachments=true").body, true);
  check(node("GET", "/db/_all_docs?include_docs=true&attachments=true&binary=true").body, true);
  check(node("POST", "/db/_all_docs", R"({"include_docs":true,"attachments":true})").body, true);
  check(node("POST", "/db/_all_docs?attachments=true", R"({"include_docs":true})").body, true);
  check(node("GET", "/db/_all_docs?include_docs=true").body, false);
  check(node("GET", "/db/_all_docs?include_docs=true&attachments=false").body, false);
  // Without include_docs there is no doc to carry them.
  Json bare(node("GET", "/db/_all_docs?attachments=true").body);
  CHECK(bare["rows"].get_array().at(1)["doc"].error());

  // keys, descending and _design_docs carry them the same way.
  Json keyed(
      node("POST", "/db/_all_docs?include_docs=true&attachments=true", R"({"keys":["a","nope",1]})").body);
  auto rows = keyed["rows"].get_array();
  REQUIRE(rows.size() == 3);
  CHECK(str(rows.at(0)["doc"]["_attachments"]["t.txt"]["data"]) == "aGVsbG8=");
  CHECK(str(rows.at(1)["error"]) == "not_found");
  CHECK(int64_t(rows.at(2)["key"]) == 1);
  Json down(node("GET", "/db/_all_docs?include_docs=true&attachments=true&descending=true&limit=2").body);
  CHECK(str(down["rows"].get_array().at(1)["doc"]["_attachments"]["t.txt"]["data"]) == "aGVsbG8=");
  Json design(node("GET", "/db/_design_docs?include_docs=true&attachments=true").body);
  CHECK(idsOf(design.root()) == V{"_design/app"});
  CHECK(str(design["rows"].get_array().at(0)["doc"]["_attachments"]["lib.js"]["data"]) ==
        settee::db::base64Encode("var x;"));

  CHECK(node("GET", "/db/_all_docs?attachments=maybe").status == 400);
  CHECK(node("POST", "/db/_all_docs", R"({"attachments":"yes"})").status == 400);
}

TEST_CASE("Read API: a gzip-stored attachment is inlined decoded; att_encoding_info describes its encoding",
          "[http][readapi]") {
  LiveServer node;
  node("PUT", "/db");
  const std::string text = "hello hello hello hello";
  REQUIRE(settee::test::putGzippedReplica(node, "db", "z", text) == 201);
  // 600 KB that do not compress: the stored gzip spans several reads of a streamed answer.
  const std::string big = settee::test::randomBytes(600 * 1024, 3);
  REQUIRE(settee::test::putGzippedReplica(node, "db", "zz", big) == 201);
  auto decoded = [](simdjson::dom::element entry) {
    return settee::db::base64Decode(entry["data"].get_string().value()).value_or("?");
  };
  for (std::string path : {"/db/_all_docs?include_docs=true", "/db/_changes?include_docs=true"}) {
    INFO(path);
    const char* list = path.find("_changes") != std::string::npos ? "results" : "rows";
    auto entry = [&](const Json& j, size_t i) {
      return j[list].get_array().at(i)["doc"]["_attachments"]["note.txt"].value();
    };
    Json plain(node("GET", path).body);
    CHECK(bool(entry(plain, 0)["stub"]));
    CHECK(entry(plain, 0)["encoding"].error());
    Json info(node("GET", path + "&att_encoding_info=true").body);
    CHECK(str(entry(info, 0)["encoding"]) == "gzip");
    CHECK(int64_t(entry(info, 0)["encoded_length"]) == int64_t(settee::test::gzip(text).size()));
    CHECK(int64_t(entry(info, 0)["length"]) == int64_t(text.size()));
    // As CouchDB: inline data is the decoded bytes, and the encoding is described only when asked.
    Json inlined(node("GET", path + "&attachments=true").body);
    CHECK(decoded(entry(inlined, 0)) == text);
    CHECK(entry(inlined, 0)["encoding"].error());
    CHECK(entry(inlined, 0)["encoded_length"].error());
    CHECK(decoded(entry(inlined, 1)) == big);
    Json both(node("GET", path + "&attachments=true&att_encoding_info=true").body);
    CHECK(decoded(entry(both, 0)) == text);
    CHECK(str(entry(both, 0)["encoding"]) == "gzip");
    CHECK(decoded(entry(both, 1)) == big);
    CHECK(int64_t(entry(both, 1)["encoded_length"]) == int64_t(settee::test::gzip(big).size()));
  }
  // GET /db/doc?attachments=true answers the same way.
  Json one(node("GET", "/db/z?attachments=true").body);
  CHECK(decoded(one["_attachments"]["note.txt"]) == text);
  CHECK(one["_attachments"]["note.txt"]["encoding"].error());
  Json large(node("GET", "/db/zz?attachments=true&att_encoding_info=true").body);
  CHECK(decoded(large["_attachments"]["note.txt"]) == big);
  CHECK(str(large["_attachments"]["note.txt"]["encoding"]) == "gzip");
}

TEST_CASE("Read API: _all_docs with attachment bodies larger than a page answers every row whole",
          "[http][readapi]") {
  LiveServer node;
  node("PUT", "/db");
  // 24 documents of 60 KB (sent in their rows' text) and 100 KB (streamed from the store) in turn: about
  // 2.5 MB of base64, several pages of the stream.
  auto bytesOf = [](int i) { return settee::test::randomBytes(i % 2 ? 100 * 1024 : 60 * 1024, uint64_t(i)); };
  V ids;
  for (int i = 0; i < 24; ++i) {
    std::string id = "d" + std::to_string(100 + i);
    putWithAttachment(node, "db", id, "blob.bin", bytesOf(i));
    ids.push_back(id);
  }
  // `expected` holds ids, and "#N" for a non-string key N that names no document.
  auto verify = [&](const std::string& body, const V& expected) {
    Json j(body);
    auto rows = j["rows"].get_array();
    REQUIRE(rows.size() == expected.size());
    size_t i = 0;
    for (auto row : rows) {
      const std::string& want = expected[i++];
      INFO(want);
      if (want[0] == '#') {
        CHECK(int64_t(row["key"]) == std::stoi(want.substr(1)));
        CHECK(str(row["error"]) == "not_found");
        continue;
      }
      CHECK(str(row["id"]) == want);
      CHECK(str(row["doc"]["_attachments"]["blob.bin"]["data"]) ==
            settee::db::base64Encode(bytesOf(std::stoi(want.substr(1)) - 100)));
    }
  };
  verify(node("GET", "/db/_all_docs?include_docs=true&attachments=true").body, ids);
  V reversed(ids.rbegin(), ids.rend());
  verify(node("GET", "/db/_all_docs?include_docs=true&attachments=true&descending=true").body, reversed);
  // Keys in reverse, a number before and after every third id.
  std::string keys = "[";
  V expected;
  for (size_t i = 0; i < reversed.size(); ++i) {
    if (i % 3 == 0) {
      keys += std::to_string(i) + ",";
      expected.push_back("#" + std::to_string(i));
    }
    keys += "\"" + reversed[i] + "\",";
    expected.push_back(reversed[i]);
  }
  keys += "7]";
  expected.push_back("#7");
  verify(node("POST", "/db/_all_docs?include_docs=true&attachments=true", R"({"keys":)" + keys + "}").body,
         expected);
}

TEST_CASE("Read API: _changes include_docs&attachments=true carries the bodies in every feed style",
          "[http][readapi]") {
  LiveServer node;
  node("PUT", "/db");
  putWithAttachment(node, "db", "a", "t.txt", "hello");
  const std::string q = "/db/_changes?include_docs=true&attachments=true";
  auto dataOf = [](const std::string& row) {
    Json j(row);
    return str(j["doc"]["_attachments"]["t.txt"]["data"]);
  };
  // normal and longpoll: {"results":[...]}
  for (std::string feed : {"", "&feed=normal", "&feed=longpoll"}) {
    INFO(feed);
    Json j(node("GET", q + feed).body);
    auto row = j["results"].get_array().at(0);
    CHECK(str(row["doc"]["_attachments"]["t.txt"]["data"]) == "aGVsbG8=");
    CHECK(bool(Json(node("GET", "/db/_changes?include_docs=true" + feed).body)["results"].get_array().at(
        0)["doc"]["_attachments"]["t.txt"]["stub"]));
  }
  // continuous: one row per line, then last_seq.
  auto cont = node("GET", q + "&feed=continuous&timeout=50");
  REQUIRE(cont.status == 200);
  CHECK(dataOf(cont.body.substr(0, cont.body.find('\n'))) == "aGVsbG8=");
  // eventsource: "data: <row>" events.
  auto es = node("GET", q + "&feed=eventsource&timeout=50");
  REQUIRE(es.status == 200);
  size_t at = es.body.find("data: ");
  REQUIRE(at != std::string::npos);
  CHECK(dataOf(es.body.substr(at + 6, es.body.find('\n', at) - at - 6)) == "aGVsbG8=");
  // POST works the same way (the options stay in the query string, as PouchDB sends them).
  Json posted(node("POST", q, R"({})").body);
  CHECK(str(posted["results"].get_array().at(0)["doc"]["_attachments"]["t.txt"]["data"]) == "aGVsbG8=");
  CHECK(node("GET", "/db/_changes?attachments=perhaps").status == 400);
}

TEST_CASE("Read API: POST _all_docs/queries answers each query in order, in CouchDB's shape",
          "[http][readapi]") {
  LiveServer node;
  node("PUT", "/db");
  node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"c0"},{"_id":"c1"},{"_id":"c2"},{"_id":"c3"}]})");
  putWithAttachment(node, "db", "c4", "t.txt", "hello");
  const uint64_t seq = updateSeq(node);
  // Transcript #23: keys (offset null, missing key as an error row), then limit+skip (offset counted).
  auto r = node("POST", "/db/_all_docs/queries",
                R"({"queries": [{"keys": ["c1", "zz"]}, {"limit": 2, "skip": 1}]})");
  REQUIRE(r.status == 200);
  Json j(r.body);
  auto results = j["results"].get_array();
  REQUIRE(results.size() == 2);
  CHECK(int64_t(results.at(0)["total_rows"]) == 5);
  CHECK(results.at(0)["offset"].is_null());
  CHECK(idsOf(results.at(0)) == V{"c1", "zz"});
  CHECK(str(results.at(0)["rows"].get_array().at(1)["error"]) == "not_found");
  CHECK(str(results.at(0)["rows"].get_array().at(0)["value"]["rev"]).substr(0, 2) == "1-");
  CHECK(int64_t(results.at(1)["total_rows"]) == 5);
  CHECK(int64_t(results.at(1)["offset"]) == 1);
  CHECK(idsOf(results.at(1)) == V{"c1", "c2"});
  CHECK(results.at(1)["rows"].get_array().at(0)["doc"].error());

  // The query string's options are every query's defaults; an entry's own members override them.
  Json d(
      node("POST", "/db/_all_docs/queries?include_docs=true&limit=1",
           R"({"queries":[{},{"descending":true,"attachments":true},{"include_docs":false,"startkey":"c2"},)"
           R"({"update_seq":true,"limit":0}]})")
          .body);
  auto res = d["results"].get_array();
  REQUIRE(res.size() == 4);
  CHECK(idsOf(res.at(0)) == V{"c0"});
  CHECK(str(res.at(0)["rows"].get_array().at(0)["doc"]["_id"]) == "c0");
  CHECK(idsOf(res.at(1)) == V{"c4"});
  CHECK(str(res.at(1)["rows"].get_array().at(0)["doc"]["_attachments"]["t.txt"]["data"]) == "aGVsbG8=");
  CHECK(idsOf(res.at(2)) == V{"c2"});
  CHECK(int64_t(res.at(2)["offset"]) == 2);
  CHECK(res.at(2)["rows"].get_array().at(0)["doc"].error());
  CHECK(idsOf(res.at(3)).empty());
  CHECK(uint64_t(res.at(3)["update_seq"]) == seq);

  Json empty(node("POST", "/db/_all_docs/queries", R"({"queries":[]})").body);
  CHECK(empty["results"].get_array().size() == 0);
  // Many queries, some large, stream as one answer.
  std::string many = R"({"queries":[)";
  for (int i = 0; i < 300; ++i)
    many += std::string(i ? "," : "") + R"({"include_docs":true,"attachments":true})";
  many += "]}";
  Json big(node("POST", "/db/_all_docs/queries", many).body);
  REQUIRE(big["results"].get_array().size() == 300);
  CHECK(idsOf(big["results"].get_array().at(299)) == V{"c0", "c1", "c2", "c3", "c4"});
  CHECK(updateSeq(node) == seq);
}

TEST_CASE("Read API: _design_docs takes keys by GET and POST, and queries; total_rows counts design docs",
          "[http][readapi]") {
  LiveServer node;
  node("PUT", "/db");
  node(
      "POST", "/db/_bulk_docs",
      R"({"docs":[{"_id":"a"},{"_id":"_design/one"},{"_id":"_design/two"},{"_id":"z"},{"_id":"_design/gone"}]})");
  auto gone = Json(node("GET", "/db/_design/gone").body).str("_rev");
  REQUIRE(node("DELETE", "/db/_design/gone?rev=" + gone).status == 200);

  Json all(node("GET", "/db/_design_docs").body);
  CHECK(int64_t(all["total_rows"]) == 2);
  CHECK(idsOf(all.root()) == V{"_design/one", "_design/two"});

  const std::string keys = R"(["_design/two","_design/nope","_design/gone","_design/one"])";
  auto check = [&](const std::string& body) {
    Json j(body);
    CHECK(int64_t(j["total_rows"]) == 2);
    CHECK(j["offset"].is_null());
    auto rows = j["rows"].get_array();
    REQUIRE(rows.size() == 4);
    CHECK(str(rows.at(0)["id"]) == "_design/two");
    CHECK(str(rows.at(0)["doc"]["_id"]) == "_design/two");
    CHECK(str(rows.at(1)["error"]) == "not_found");
    CHECK(bool(rows.at(2)["value"]["deleted"]));
    CHECK(rows.at(2)["doc"].is_null());
    CHECK(str(rows.at(3)["id"]) == "_design/one");
  };
  check(node("GET", "/db/_design_docs?include_docs=true&keys=" + percentEncode(keys)).body);
  check(node("POST", "/db/_design_docs", R"({"include_docs":true,"keys":)" + keys + "}").body);

  Json q(node("POST", "/db/_design_docs/queries",
              R"({"queries":[{"keys":["_design/one"]},{"descending":true},{"skip":1}]})")
             .body);
  auto res = q["results"].get_array();
  REQUIRE(res.size() == 3);
  CHECK(idsOf(res.at(0)) == V{"_design/one"});
  CHECK(idsOf(res.at(1)) == V{"_design/two", "_design/one"});
  CHECK(idsOf(res.at(2)) == V{"_design/two"});
  CHECK(int64_t(res.at(2)["total_rows"]) == 2);
  CHECK(node("POST", "/db/_design_docs", R"({"keys":{"a":1}})").status == 400);
}

TEST_CASE("Read API: bad queries and keys get CouchDB's errors and change nothing", "[http][readapi]") {
  LiveServer node("[chttpd]\nmax_http_request_size = 65536\n");
  node("PUT", "/db");
  node("PUT", "/db/a", R"({"v":1})");
  const uint64_t seq = updateSeq(node);
  struct Bad {
    std::string method, path, body;
    int status;
    std::string error, reason;
  };
  const Bad cases[] = {
      {"POST", "/db/_all_docs/queries", R"({})", 400, "bad_request",
       "POST body must include `queries` parameter."},
      {"POST", "/db/_all_docs/queries", R"({"queries":{"keys":["a"]}})", 400, "bad_request",
       "`queries` member must be an array."},
      {"POST", "/db/_design_docs/queries", R"({"queries":"all"})", 400, "bad_request",
       "`queries` member must be an array."},
      {"POST", "/db/_all_docs/queries", R"({"queries":[{},"keys"]})", 400, "bad_request", ""},
      {"POST", "/db/_all_docs/queries", R"({"queries":[{"keys":"a"}]})", 400, "query_parse_error",
       "`keys` must be an array of strings."},
      {"POST", "/db/_all_docs/queries", R"({"queries":[{"limit":-1}]})", 400, "bad_request", ""},
      {"POST", "/db/_all_docs/queries", R"({"queries":[{"keys":["a"],"startkey":"a"}]})", 400, "bad_request",
       ""},
      {"POST", "/db/_all_docs/queries", R"({"queries":[{"descending":"yes"}]})", 400, "bad_request", ""},
      {"POST", "/db/_all_docs/queries", R"([{"keys":["a"]}])", 400, "bad_request", ""},
      {"POST", "/db/_all_docs/queries", R"({"queries":[)", 400, "bad_request", ""},
      {"POST", "/db/_all_docs", R"({"keys":"a"})", 400, "bad_request",
       "`keys` body member must be an array."},
      {"POST", "/db/_design_docs", R"({"keys":7})", 400, "bad_request",
       "`keys` body member must be an array."},
      {"GET", "/db/_all_docs?keys=" + percentEncode(R"({"a":1})"), "", 400, "bad_request",
       "`keys` parameter must be an array."},
      {"GET", "/db/_design_docs?keys=" + percentEncode("\"a\""), "", 400, "bad_request",
       "`keys` parameter must be an array."},
      {"GET", "/db/_all_docs/queries", "", 405, "method_not_allowed", ""},
      {"POST", "/nodb/_all_docs/queries", R"({"queries":[]})", 404, "not_found", ""},
  };
  for (const Bad& c : cases) {
    INFO(c.method << " " << c.path << " " << c.body);
    auto r = node(c.method, c.path, c.body);
    CHECK(r.status == c.status);
    Json j(r.body);
    CHECK(j.str("error") == c.error);
    if (!c.reason.empty()) CHECK(j.str("reason") == c.reason);
  }
  // A keys list past the request size limit is refused whole (413), whatever the endpoint.
  std::string huge = R"({"keys":[)";
  for (int i = 0; huge.size() < 80 * 1024; ++i)
    huge += std::string(i ? "," : "") + "\"k" + std::to_string(i) + "\"";
  huge += "]}";
  CHECK(node("POST", "/db/_all_docs", huge).status == 413);
  CHECK(node("POST", "/db/_all_docs/queries", R"({"queries":[)" + huge + "]}").status == 413);
  // One just under the limit is answered whole, a row per key.
  std::string many = R"({"keys":[)";
  int n = 0;
  for (; many.size() < 60 * 1024; ++n) many += std::string(n ? "," : "") + "\"k" + std::to_string(n) + "\"";
  many += "]}";
  auto answered = node("POST", "/db/_all_docs", many);
  REQUIRE(answered.status == 200);
  CHECK(Json(answered.body)["rows"].get_array().size() == size_t(n));
  CHECK(updateSeq(node) == seq);
  CHECK(Json(node("GET", "/db/a").body).str("_rev").substr(0, 2) == "1-");
}

TEST_CASE("Read API: the new endpoints keep the access rules of the reads they extend", "[http][readapi]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  const Header admin{"Authorization", "Basic " + settee::db::base64Encode("admin:s3cret")};
  const Header bob{"Authorization", "Basic " + settee::db::base64Encode("bob:bobpw")};
  const Header eve{"Authorization", "Basic " + settee::db::base64Encode("eve:evepw")};
  for (const char* name : {"bob", "eve"}) {
    std::string user = name;
    REQUIRE(node("PUT", "/_users/org.couchdb.user:" + user,
                 R"({"name":")" + user + R"(","password":")" + user + R"(pw","roles":[],"type":"user"})",
                 {admin})
                .status == 201);
  }
  REQUIRE(node("PUT", "/bobdb", "", {admin}).status == 201);
  REQUIRE(node("PUT", "/bobdb/_security", R"({"members":{"names":["bob"]},"admins":{}})", {admin}).status ==
          200);
  REQUIRE(node("PUT", "/bobdb/_design/x", R"({"v":1})", {admin}).status == 201);
  const std::string queries = R"({"queries":[{"include_docs":true}]})";
  for (const char* path : {"/bobdb/_all_docs/queries", "/bobdb/_design_docs/queries"}) {
    INFO(path);
    CHECK(node("POST", path, queries).status == 401);
    CHECK(node("POST", path, queries, {eve}).status == 403);
    auto r = node("POST", path, queries, {bob});
    REQUIRE(r.status == 200);
    CHECK(idsOf(Json(r.body)["results"].get_array().at(0)) == V{"_design/x"});
  }
  CHECK(node("GET", "/bobdb/_design_docs?keys=" + percentEncode(R"(["_design/x"])"), "", {eve}).status ==
        403);
  // /_dbs_info is for server admins, as /_all_dbs is.
  CHECK(node("POST", "/_dbs_info", R"({"keys":["bobdb"]})").status == 401);
  CHECK(node("POST", "/_dbs_info", R"({"keys":["bobdb"]})", {bob}).status == 403);
  auto info = node("POST", "/_dbs_info", R"({"keys":["bobdb"]})", {admin});
  REQUIRE(info.status == 200);
  CHECK(str(Json(info.body).root().get_array().at(0)["info"]["db_name"]) == "bobdb");
}
