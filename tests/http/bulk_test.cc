// The bulk endpoints of a real `settee serve` process: _bulk_docs, _bulk_get, _all_docs, _design_docs,
// _revs_diff and _missing_revs.
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;
using settee::test::percentEncode;

namespace {

// The "id" of each row of an _all_docs answer (the "key" for rows without one).
std::vector<std::string> rowIds(const std::string& body) {
  Json j(body);
  std::vector<std::string> out;
  for (auto row : j["rows"].get_array()) {
    std::string_view id;
    if (row["id"].get(id)) id = row["key"].get_string().value();
    out.emplace_back(id);
  }
  return out;
}

std::string revOf(const LiveServer& node, const std::string& id) {
  return Json(node("GET", "/db/" + id).body).str("_rev");
}

}  // namespace

TEST_CASE("Bulk docs: new_edits=true answers one result per document, conflicts included", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  auto first = node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"a","v":1},{"_id":"b"},{"v":3}]})");
  REQUIRE(first.status == 201);
  Json r(first.body);
  auto results = r.root().get_array();
  REQUIRE(results.size() == 3);
  CHECK(std::string_view(results.at(0)["id"]) == "a");
  CHECK(bool(results.at(0)["ok"]));
  CHECK(std::string_view(results.at(1)["rev"]).substr(0, 2) == "1-");
  CHECK(std::string_view(results.at(2)["id"]).size() == 32);  // generated
  std::string revA(std::string_view(results.at(0)["rev"]));

  auto second =
      node("POST", "/db/_bulk_docs",
           R"({"docs":[{"_id":"a","v":2},{"_id":"a","_rev":")" + revA + R"(","v":2},{"_id":"c"}]})");
  REQUIRE(second.status == 201);
  Json s(second.body);
  auto res2 = s.root().get_array();
  REQUIRE(res2.size() == 3);
  CHECK(std::string_view(res2.at(0)["error"]) == "conflict");
  CHECK(std::string_view(res2.at(0)["reason"]) == "Document update conflict.");
  CHECK(res2.at(0)["ok"].error());
  CHECK(std::string_view(res2.at(1)["rev"]).substr(0, 2) == "2-");
  CHECK(bool(res2.at(2)["ok"]));
  CHECK(node("POST", "/db/_bulk_docs", R"({"docs":[]})").body == "[]");
  // A deletion through _bulk_docs.
  auto del = node("POST", "/db/_bulk_docs",
                  R"({"docs":[{"_id":"c","_rev":")" + revOf(node, "c") + R"(","_deleted":true}]})");
  CHECK(Json(del.body).root().get_array().at(0)["ok"].error() == simdjson::SUCCESS);
  CHECK(node("GET", "/db/c").status == 404);
  CHECK(int64_t(Json(node("GET", "/db").body)["doc_count"]) == 3);
}

TEST_CASE("Bulk docs: malformed bodies are refused whole and write nothing", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  const char* bad[] = {
      R"({"docs":[{"_id":"x"}])",                             // not JSON
      R"([{"_id":"x"}])",                                     // not an object
      R"({"documents":[{"_id":"x"}]})",                       // no docs
      R"({"docs":{"_id":"x"}})",                              // docs not an array
      R"({"docs":[{"_id":"x"}],"new_edits":"no"})",           // new_edits not a boolean
      R"({"docs":[{"_id":"x"},1]})",                          // a document that is not an object
      R"({"docs":[{"_id":"x"},{"_id":"_bad"}]})",             // an illegal id after a good document
      R"({"docs":[{"_id":"x"},{"_id":"y","_rev":"nope"}]})",  // a bad _rev
      R"({"docs":[{"_id":"x"},{"_id":"y","_foo":1}]})",       // an unknown special member
      R"({"docs":[{"_id":"x","_rev":"1-abc"},{"_id":"y"}],"new_edits":false})",  // no _rev with
                                                                                 // new_edits=false
  };
  for (const char* body : bad) {
    INFO(body);
    auto r = node("POST", "/db/_bulk_docs", body);
    CHECK(r.status == 400);
    CHECK(Json(r.body).has("error"));
  }
  CHECK(Json(node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"_bad"}]})").body).str("error") ==
        "illegal_docid");
  auto typed = node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"x"}]})", {{"Content-Type", "text/plain"}});
  CHECK(typed.status == 415);
  CHECK(Json(typed.body).str("error") == "bad_content_type");
  CHECK(node("GET", "/db/_bulk_docs").status == 405);
  Json info(node("GET", "/db").body);
  CHECK(int64_t(info["update_seq"]) == 0);
  CHECK(int64_t(info["doc_count"]) == 0);
}

TEST_CASE("Bulk docs: a document over max_document_size is 413 for the request", "[http][bulk]") {
  LiveServer node("[couchdb]\nmax_document_size = 1000\n");
  node("PUT", "/db");
  std::string big(2000, 'x');
  auto r = node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"small"},{"_id":"big","v":")" + big + R"("}]})");
  CHECK(r.status == 413);
  CHECK(Json(r.body).str("error") == "document_too_large");
  CHECK(Json(r.body).str("reason") == "big");
  CHECK(int64_t(Json(node("GET", "/db").body)["doc_count"]) == 0);
}

TEST_CASE("Bulk docs: new_edits=false answers only failures and a repeat is a no-op", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  const std::string batch = R"({"new_edits":false,"docs":[
      {"_id":"a","_rev":"2-bbb","_revisions":{"start":2,"ids":["bbb","aaa"]},"v":2},
      {"_id":"b","_rev":"1-ccc","v":1},
      {"_id":"d","_rev":"1-ddd","_deleted":true}]})";
  auto first = node("POST", "/db/_bulk_docs", batch);
  CHECK(first.status == 201);
  CHECK(first.body == "[]");
  int64_t seq = int64_t(Json(node("GET", "/db").body)["update_seq"]);
  CHECK(seq == 3);
  auto again = node("POST", "/db/_bulk_docs", batch);
  CHECK(again.status == 201);
  CHECK(again.body == "[]");
  CHECK(int64_t(Json(node("GET", "/db").body)["update_seq"]) == seq);
  CHECK(revOf(node, "a") == "2-bbb");
  // A failure is reported with its id and rev: a stub that names no stored attachment.
  auto stub = node("POST", "/db/_bulk_docs", R"({"new_edits":false,"docs":[
      {"_id":"e","_rev":"1-eee","_attachments":{"f.txt":{"stub":true,"digest":"md5-x","length":1}}},
      {"_id":"f","_rev":"1-fff"}]})");
  CHECK(stub.status == 201);
  Json failures(stub.body);
  REQUIRE(failures.root().get_array().size() == 1);
  auto f = failures.root().get_array().at(0);
  CHECK(std::string_view(f["id"]) == "e");
  CHECK(std::string_view(f["rev"]) == "1-eee");
  CHECK(std::string_view(f["error"]) == "missing_stub");
  CHECK(node("GET", "/db/f").status == 200);
}

TEST_CASE("Bulk get: conflicts written by _bulk_docs come back as every leaf", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  CHECK(node("POST", "/db/_bulk_docs", R"({"new_edits":false,"docs":[
      {"_id":"a","_rev":"2-bbb","_revisions":{"start":2,"ids":["bbb","aaa"]},"side":"b"},
      {"_id":"a","_rev":"2-ccc","_revisions":{"start":2,"ids":["ccc","aaa"]},"side":"c"},
      {"_id":"z","_rev":"1-zzz","v":1}]})")
            .body == "[]");

  auto all = node("POST", "/db/_bulk_get?revs=true", R"({"docs":[{"id":"a"},{"id":"z","rev":"1-zzz"}]})");
  REQUIRE(all.status == 200);
  Json j(all.body);
  auto results = j["results"].get_array();
  REQUIRE(results.size() == 2);
  CHECK(std::string_view(results.at(0)["id"]) == "a");
  auto docs = results.at(0)["docs"].get_array();
  REQUIRE(docs.size() == 2);
  std::set<std::string> revs;
  for (auto d : docs) {
    revs.emplace(std::string_view(d["ok"]["_rev"]));
    CHECK(int64_t(d["ok"]["_revisions"]["start"]) == 2);
    CHECK(d["ok"]["_revisions"]["ids"].get_array().size() == 2);
  }
  CHECK(revs == std::set<std::string>{"2-bbb", "2-ccc"});
  CHECK(std::string_view(results.at(1)["docs"].get_array().at(0)["ok"]["_id"]) == "z");

  // latest=true: a non-leaf revision answers with the leaves under it.
  Json latest(node("POST", "/db/_bulk_get?latest=true", R"({"docs":[{"id":"a","rev":"1-aaa"}]})").body);
  CHECK(latest["results"].get_array().at(0)["docs"].get_array().size() == 2);
  // Without it, the ancestor's body is not stored: missing.
  Json old(node("POST", "/db/_bulk_get", R"({"docs":[{"id":"a","rev":"1-aaa"}]})").body);
  auto e = old["results"].get_array().at(0)["docs"].get_array().at(0)["error"];
  CHECK(std::string_view(e["rev"]) == "1-aaa");
  CHECK(std::string_view(e["error"]) == "not_found");
}

TEST_CASE("Bulk get: missing revisions, missing documents and bad entries are per-entry errors",
          "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"a","v":1}]})");
  auto r = node("POST", "/db/_bulk_get", R"({"docs":[
      {"id":"a","rev":"9-nothere"}, {"id":"nope"}, {"id":"nope","rev":"1-abc"}, {},
      {"id":"_bad"}, {"id":"a","rev":"bogus"}, {"id":"a","atts_since":"1-x"}, {"id":"a"}]})");
  REQUIRE(r.status == 200);
  Json j(r.body);
  auto results = j["results"].get_array();
  REQUIRE(results.size() == 8);
  auto err = [&](size_t i) { return results.at(i)["docs"].get_array().at(0)["error"]; };
  CHECK(std::string_view(err(0)["id"]) == "a");
  CHECK(std::string_view(err(0)["rev"]) == "9-nothere");
  CHECK(std::string_view(err(0)["error"]) == "not_found");
  CHECK(std::string_view(err(0)["reason"]) == "missing");
  CHECK(std::string_view(err(1)["rev"]) == "undefined");  // CouchDB's word for "no rev asked"
  CHECK(std::string_view(err(1)["error"]) == "not_found");
  CHECK(std::string_view(err(2)["rev"]) == "1-abc");
  CHECK(results.at(3)["id"].is_null());
  CHECK(std::string_view(err(3)["error"]) == "bad_request");
  CHECK(std::string_view(err(4)["error"]) == "illegal_docid");
  CHECK(std::string_view(err(5)["error"]) == "bad_request");
  CHECK(std::string_view(err(5)["rev"]) == "bogus");
  CHECK(std::string_view(err(6)["error"]) == "bad_request");
  CHECK(std::string_view(results.at(7)["docs"].get_array().at(0)["ok"]["_id"]) == "a");

  CHECK(node("POST", "/db/_bulk_get", R"({"documents":[]})").status == 400);
  CHECK(node("POST", "/db/_bulk_get", R"({"docs":{}})").status == 400);
  CHECK(node("POST", "/db/_bulk_get", R"({"docs":[)").status == 400);
  CHECK(node("POST", "/db/_bulk_get?revs=maybe", R"({"docs":[]})").status == 400);
  CHECK(node("POST", "/db/_bulk_get", R"({"docs":[]})", {{"Content-Type", "text/plain"}}).status == 415);
  CHECK(node("POST", "/db/_bulk_get", R"({"docs":[]})").body == R"({"results":[]})");
  CHECK(node("GET", "/db/_bulk_get").status == 405);
}

TEST_CASE("Bulk get: attachments inline on request, stubs otherwise and for atts_since", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  auto w = node(
      "POST", "/db/_bulk_docs",
      R"({"docs":[{"_id":"a","_attachments":{"t.txt":{"content_type":"text/plain","data":"aGVsbG8="}}}]})");
  std::string rev(std::string_view(Json(w.body).root().get_array().at(0)["rev"]));
  auto att = [&](const std::string& q, const std::string& body) {
    Json j(node("POST", "/db/_bulk_get" + q, body).body);
    auto a = j["results"].get_array().at(0)["docs"].get_array().at(0)["ok"]["_attachments"]["t.txt"];
    std::string_view data;
    return a["data"].get(data) ? std::string("stub") : std::string(data);
  };
  CHECK(att("", R"({"docs":[{"id":"a"}]})") == "stub");
  CHECK(att("?attachments=true", R"({"docs":[{"id":"a"}]})") == "aGVsbG8=");
  CHECK(att("?attachments=true", R"({"docs":[{"id":"a","atts_since":[")" + rev + R"("]}]})") == "stub");
}

TEST_CASE("All docs: every option over a range, with _design_docs", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  node("POST", "/db/_bulk_docs",
       R"({"docs":[{"_id":"a"},{"_id":"b"},{"_id":"c","v":3},{"_id":"d"},{"_id":"e"},)"
       R"({"_id":"_design/x"},{"_id":"gone"}]})");
  node("DELETE", "/db/gone?rev=" + revOf(node, "gone"));
  using V = std::vector<std::string>;
  auto get = [&](const std::string& q) { return node("GET", "/db/_all_docs" + q); };

  auto plain = get("");
  REQUIRE(plain.status == 200);
  Json p(plain.body);
  CHECK(int64_t(p["total_rows"]) == 6);
  CHECK(int64_t(p["offset"]) == 0);
  CHECK(!p.has("update_seq"));
  CHECK(rowIds(plain.body) == V{"_design/x", "a", "b", "c", "d", "e"});
  auto first = p["rows"].get_array().at(1);
  CHECK(std::string_view(first["key"]) == "a");
  CHECK(std::string_view(first["value"]["rev"]).substr(0, 2) == "1-");
  CHECK(first["doc"].error());

  CHECK(rowIds(get("?limit=2").body) == V{"_design/x", "a"});
  CHECK(rowIds(get("?limit=0").body).empty());
  auto skipped = get("?skip=2&limit=2");
  CHECK(rowIds(skipped.body) == V{"b", "c"});
  CHECK(int64_t(Json(skipped.body)["offset"]) == 2);
  CHECK(rowIds(get("?skip=10").body).empty());
  CHECK(rowIds(get("?descending=true").body) == V{"e", "d", "c", "b", "a", "_design/x"});
  auto from = get("?startkey=" + percentEncode("\"c\""));
  CHECK(rowIds(from.body) == V{"c", "d", "e"});
  CHECK(int64_t(Json(from.body)["offset"]) == 3);
  CHECK(rowIds(get("?start_key=" + percentEncode("\"c\"") + "&end_key=" + percentEncode("\"d\"")).body) ==
        V{"c", "d"});
  CHECK(rowIds(get("?endkey=" + percentEncode("\"b\"")).body) == V{"_design/x", "a", "b"});
  CHECK(rowIds(get("?endkey=" + percentEncode("\"b\"") + "&inclusive_end=false").body) ==
        V{"_design/x", "a"});
  CHECK(rowIds(get("?key=" + percentEncode("\"d\"")).body) == V{"d"});
  auto down =
      get("?descending=true&startkey=" + percentEncode("\"c\"") + "&endkey=" + percentEncode("\"a\""));
  CHECK(rowIds(down.body) == V{"c", "b", "a"});
  CHECK(int64_t(Json(down.body)["offset"]) == 2);
  CHECK(rowIds(get("?descending=true&startkey=" + percentEncode("\"c\"") +
                   "&endkey=" + percentEncode("\"a\"") + "&inclusive_end=false")
                   .body) == V{"c", "b"});
  // Non-string keys sort before every id.
  CHECK(rowIds(get("?startkey=1&limit=1").body) == V{"_design/x"});
  CHECK(rowIds(get("?endkey=null").body).empty());

  auto docs = get("?include_docs=true&key=" + percentEncode("\"c\""));
  Json docsJson(docs.body);
  auto doc = docsJson["rows"].get_array().at(0)["doc"];
  CHECK(std::string_view(doc["_id"]) == "c");
  CHECK(int64_t(doc["v"]) == 3);
  auto seq = Json(get("?update_seq=true").body);
  CHECK(int64_t(seq["update_seq"]) == int64_t(Json(node("GET", "/db").body)["update_seq"]));

  auto design = node("GET", "/db/_design_docs");
  REQUIRE(design.status == 200);
  CHECK(rowIds(design.body) == V{"_design/x"});
  CHECK(rowIds(node("GET", "/db/_design_docs?descending=true").body) == V{"_design/x"});
  CHECK(rowIds(node("GET", "/db/_design_docs?startkey=" + percentEncode("\"_design/y\"")).body).empty());
}

TEST_CASE("All docs: conflicts=true shows a conflicted document's losing leaves", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  node("POST", "/db/_bulk_docs", R"({"new_edits":false,"docs":[
      {"_id":"a","_rev":"1-bbb"},{"_id":"a","_rev":"1-ccc"}]})");
  Json j(node("GET", "/db/_all_docs?include_docs=true&conflicts=true").body);
  auto doc = j["rows"].get_array().at(0)["doc"];
  CHECK(std::string_view(doc["_rev"]) == "1-ccc");
  CHECK(std::string_view(doc["_conflicts"].get_array().at(0)) == "1-bbb");
  Json plain(node("GET", "/db/_all_docs?include_docs=true").body);
  CHECK(plain["rows"].get_array().at(0)["doc"]["_conflicts"].error());
}

TEST_CASE("All docs: keys answer in order, with missing and deleted ids", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  node("POST", "/db/_bulk_docs", R"({"docs":[{"_id":"a"},{"_id":"b"},{"_id":"del"}]})");
  std::string delRev = revOf(node, "del");
  auto gone = Json(node("DELETE", "/db/del?rev=" + delRev).body).str("rev");
  auto check = [&](const std::string& body) {
    Json j(body);
    CHECK(int64_t(j["total_rows"]) == 2);
    CHECK(j["offset"].is_null());
    auto rows = j["rows"].get_array();
    REQUIRE(rows.size() == 5);
    CHECK(std::string_view(rows.at(0)["id"]) == "b");
    CHECK(std::string_view(rows.at(0)["doc"]["_id"]) == "b");
    CHECK(std::string_view(rows.at(1)["key"]) == "zz");
    CHECK(std::string_view(rows.at(1)["error"]) == "not_found");
    CHECK(rows.at(1)["id"].error());
    CHECK(std::string_view(rows.at(2)["id"]) == "del");
    CHECK(std::string_view(rows.at(2)["value"]["rev"]) == gone);
    CHECK(bool(rows.at(2)["value"]["deleted"]));
    CHECK(rows.at(2)["doc"].is_null());
    CHECK(std::string_view(rows.at(3)["id"]) == "a");
    CHECK(int64_t(rows.at(4)["key"]) == 7);
    CHECK(std::string_view(rows.at(4)["error"]) == "not_found");
  };
  const std::string keys = R"(["b","zz","del","a",7])";
  check(node("GET", "/db/_all_docs?include_docs=true&keys=" + percentEncode(keys)).body);
  check(node("POST", "/db/_all_docs?include_docs=true", R"({"keys":)" + keys + "}").body);
  check(node("POST", "/db/_all_docs", R"({"include_docs":true,"keys":)" + keys + "}").body);
  // skip, limit and descending apply to the keys.
  using V = std::vector<std::string>;
  CHECK(rowIds(node("POST", "/db/_all_docs?skip=1&limit=2", R"({"keys":["a","b","zz"]})").body) ==
        V{"b", "zz"});
  CHECK(rowIds(node("POST", "/db/_all_docs?descending=true", R"({"keys":["a","b"]})").body) == V{"b", "a"});
  CHECK(rowIds(node("POST", "/db/_all_docs", R"({"keys":[]})").body).empty());
}

TEST_CASE("All docs: bad options are 400", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  for (const std::string& q :
       {"?startkey=" + percentEncode("\"unclosed"), std::string("?startkey=abc"), std::string("?limit=-1"),
        std::string("?limit=abc"), std::string("?skip=1.5"), std::string("?descending=maybe"),
        std::string("?include_docs=1"), "?keys=" + percentEncode("{\"a\":1}"),
        "?keys=" + percentEncode("[\"a\"]") + "&startkey=" + percentEncode("\"a\"")}) {
    INFO(q);
    auto r = node("GET", "/db/_all_docs" + q);
    CHECK(r.status == 400);
    CHECK(Json(r.body).str("error") == "bad_request");
  }
  CHECK(node("POST", "/db/_all_docs", R"({"keys":"a"})").status == 400);
  CHECK(node("POST", "/db/_all_docs", R"({"keys":["a"])").status == 400);
  CHECK(node("POST", "/db/_all_docs", R"({"keys":["a"]})", {{"Content-Type", "text/plain"}}).status == 415);
  CHECK(node("GET", "/nodb/_all_docs").status == 404);
}

TEST_CASE("All docs: a range larger than a page streams whole, in order, without repeats", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  std::vector<std::string> ids;
  std::string body = R"({"docs":[)";
  for (int i = 0; i < 1234; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "doc%05d", i);
    ids.emplace_back(id);
    body += std::string(i ? "," : "") + R"({"_id":")" + id + R"(","n":)" + std::to_string(i) + "}";
  }
  body += "]}";
  REQUIRE(node("POST", "/db/_bulk_docs", body).status == 201);
  auto all = node("GET", "/db/_all_docs?include_docs=true");
  REQUIRE(all.status == 200);
  CHECK(rowIds(all.body) == ids);
  auto window = rowIds(node("GET", "/db/_all_docs?skip=10&limit=700").body);
  CHECK(window == std::vector<std::string>(ids.begin() + 10, ids.begin() + 710));
  auto down =
      rowIds(node("GET", "/db/_all_docs?descending=true&startkey=" + percentEncode("\"doc01000\"")).body);
  CHECK(down == std::vector<std::string>(ids.rbegin() + 233, ids.rend()));
  std::string keys = "[";
  for (size_t i = 0; i < ids.size(); ++i) keys += (i ? ",\"" : "\"") + ids[ids.size() - 1 - i] + "\"";
  keys += "]";
  auto byKeys = rowIds(node("POST", "/db/_all_docs", R"({"keys":)" + keys + "}").body);
  CHECK(byKeys == std::vector<std::string>(ids.rbegin(), ids.rend()));
}

TEST_CASE("Revs diff and missing revs: only what is missing, and bad shapes are 400", "[http][bulk]") {
  LiveServer node;
  node("PUT", "/db");
  node("POST", "/db/_bulk_docs", R"({"new_edits":false,"docs":[
      {"_id":"a","_rev":"2-bbb","_revisions":{"start":2,"ids":["bbb","aaa"]}},{"_id":"b","_rev":"1-ccc"}]})");
  auto diff =
      node("POST", "/db/_revs_diff", R"({"a":["2-bbb","3-ddd","1-aaa"],"b":["1-ccc"],"n":["1-eee"]})");
  REQUIRE(diff.status == 200);
  Json d(diff.body);
  CHECK(!d.has("b"));
  REQUIRE(d["a"]["missing"].get_array().size() == 1);
  CHECK(std::string_view(d["a"]["missing"].get_array().at(0)) == "3-ddd");
  CHECK(std::string_view(d["a"]["possible_ancestors"].get_array().at(0)) == "2-bbb");
  CHECK(std::string_view(d["n"]["missing"].get_array().at(0)) == "1-eee");
  CHECK(d["n"]["possible_ancestors"].error());
  CHECK(node("POST", "/db/_revs_diff", R"({"a":["2-bbb"],"b":[]})").body == "{}");
  CHECK(node("POST", "/db/_revs_diff", "{}").body == "{}");

  auto missing = node("POST", "/db/_missing_revs", R"({"a":["2-bbb","3-ddd"],"b":["1-ccc"]})");
  REQUIRE(missing.status == 200);
  CHECK(missing.body == R"({"missing_revs":{"a":["3-ddd"]}})");
  CHECK(node("POST", "/db/_missing_revs", R"({"b":["1-ccc"]})").body == R"({"missing_revs":{}})");

  for (const char* path : {"/db/_revs_diff", "/db/_missing_revs"}) {
    INFO(path);
    for (const char* bad : {R"(["a"])", R"({"a":"1-x"})", R"({"a":[1]})", R"({"a":["nope"]})", R"({"a":)"}) {
      INFO(bad);
      CHECK(node("POST", path, bad).status == 400);
    }
    CHECK(node("POST", path, "{}", {{"Content-Type", "text/plain"}}).status == 415);
  }
}
