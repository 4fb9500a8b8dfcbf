// The document endpoints of a real `settee serve` process: /{db}/{docid} GET/HEAD/PUT/DELETE/COPY, the
// _design/ and _local/ forms, open_revs (JSON and multipart/mixed) and multipart/related PUTs.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "http/multipart.h"
#include "live_server.h"

using settee::test::HttpReply;
using settee::test::Json;
using settee::test::LiveServer;

namespace {

std::string etagOf(const std::string& s) { return "\"" + s + "\""; }

int64_t docCount(const LiveServer& node) { return int64_t(Json(node("GET", "/db").body)["doc_count"]); }

// A multipart/related PUT body as CouchDB's replicator writes it: the JSON, then each body in order.
std::string relatedBody(const std::string& boundary, const std::string& json,
                        const std::vector<std::pair<std::string, std::string>>& atts) {
  std::string out = "--" + boundary + "\r\nContent-Type: application/json\r\n\r\n" + json;
  for (const auto& [name, data] : atts) {
    out += "\r\n--" + boundary + "\r\nContent-Disposition: attachment; filename=\"" + name +
           "\"\r\nContent-Type: application/octet-stream\r\nContent-Length: " + std::to_string(data.size()) +
           "\r\n\r\n" + data;
  }
  return out + "\r\n--" + boundary + "--";
}

// Bytes that look like multipart framing inside an attachment, to prove the boundary is not confused.
std::string trickyBytes(size_t n) {
  std::string s;
  uint32_t x = 12345;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    s.push_back(static_cast<char>(x >> 16));
    if (s.size() % 997 == 0) s += "\r\n--\r\n";
  }
  s.resize(n);
  return s;
}

}  // namespace

TEST_CASE("Docs: PUT and GET a document with ETag, Location and If-None-Match", "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  auto put = node("PUT", "/db/a", R"({"v":1})");
  REQUIRE(put.status == 201);
  Json created(put.body);
  CHECK(created["ok"].get_bool().value());
  CHECK(created.str("id") == "a");
  std::string rev1 = created.str("rev");
  CHECK(rev1.substr(0, 2) == "1-");
  REQUIRE(put.header("ETag"));
  CHECK(*put.header("ETag") == etagOf(rev1));
  REQUIRE(put.header("Location"));
  CHECK(put.header("Location")->find("/db/a") != std::string::npos);

  auto get = node("GET", "/db/a");
  REQUIRE(get.status == 200);
  Json doc(get.body);
  CHECK(doc.str("_id") == "a");
  CHECK(doc.str("_rev") == rev1);
  CHECK(int64_t(doc["v"]) == 1);
  CHECK(*get.header("ETag") == etagOf(rev1));
  auto head = node("HEAD", "/db/a");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(*head.header("ETag") == etagOf(rev1));
  CHECK(node("GET", "/db/a", "", {{"If-None-Match", etagOf(rev1)}}).status == 304);

  // Updates name their parent in ?rev=, If-Match or the body.
  auto byQuery = node("PUT", "/db/a?rev=" + rev1, R"({"v":2})");
  REQUIRE(byQuery.status == 201);
  std::string rev2 = Json(byQuery.body).str("rev");
  CHECK(rev2.substr(0, 2) == "2-");
  auto byHeader = node("PUT", "/db/a", R"({"v":3})", {{"If-Match", etagOf(rev2)}});
  REQUIRE(byHeader.status == 201);
  std::string rev3 = Json(byHeader.body).str("rev");
  auto byBody = node("PUT", "/db/a", R"({"_rev":")" + rev3 + R"(","v":4})");
  REQUIRE(byBody.status == 201);
  std::string rev4 = Json(byBody.body).str("rev");
  CHECK(rev4.substr(0, 2) == "4-");
  CHECK(node("GET", "/db/a", "", {{"If-None-Match", etagOf(rev1)}}).status == 200);

  // Stale and missing revisions conflict; old revisions stay readable.
  auto stale = node("PUT", "/db/a?rev=" + rev1, R"({"v":9})");
  CHECK(stale.status == 409);
  CHECK(Json(stale.body).str("error") == "conflict");
  CHECK(node("PUT", "/db/a", R"({"v":9})").status == 409);
  auto old = node("GET", "/db/a?rev=" + rev2);
  REQUIRE(old.status == 200);
  CHECK(int64_t(Json(old.body)["v"]) == 2);
  CHECK(*old.header("ETag") == etagOf(rev2));
  auto unknown = node("GET", "/db/a?rev=7-0123456789abcdef0123456789abcdef");
  CHECK(unknown.status == 404);
  CHECK(Json(unknown.body).str("reason") == "missing");
  CHECK(int64_t(Json(node("GET", "/db/a").body)["v"]) == 4);

  // batch=ok is accepted (202) and written.
  auto batch = node("PUT", "/db/b?batch=ok", R"({"x":true})");
  CHECK(batch.status == 202);
  CHECK(node("GET", "/db/b").status == 200);
  auto missing = node("GET", "/db/nope");
  CHECK(missing.status == 404);
  CHECK(Json(missing.body).str("error") == "not_found");
  CHECK(Json(missing.body).str("reason") == "missing");
}

TEST_CASE("Docs: bad input is refused with 400 and changes nothing", "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  std::string rev = Json(node("PUT", "/db/a", R"({"v":1})").body).str("rev");
  auto malformed = node("PUT", "/db/x", R"({"v":)");
  CHECK(malformed.status == 400);
  CHECK(Json(malformed.body).str("error") == "bad_request");
  CHECK(node("PUT", "/db/x", "{\"v\":\"\xff\xfe\"}").status == 400);
  CHECK(node("PUT", "/db/x", "[1,2]").status == 400);
  CHECK(node("PUT", "/db/x", "").status == 400);
  CHECK(node("PUT", "/db/_bad", R"({"v":1})").status == 400);
  CHECK(node("PUT", "/db/x", R"({"_foo":1})").status == 400);
  // Revisions: malformed in the query, the header or the body; disagreeing with each other.
  for (const char* bad : {"abc", "-abc", "0-abc", "x-1", "1-a%20b"}) {
    INFO(bad);
    CHECK(node("PUT", std::string("/db/a?rev=") + bad, R"({"v":2})").status == 400);
    CHECK(node("GET", std::string("/db/a?rev=") + bad).status == 400);
    CHECK(node("DELETE", std::string("/db/a?rev=") + bad).status == 400);
  }
  // "1-" is a revision with an empty hash, as CouchDB has it: one `a` does not have.
  CHECK(node("PUT", "/db/a?rev=1-", R"({"v":2})").status == 409);
  CHECK(node("GET", "/db/a?rev=1-").status == 404);
  CHECK(node("PUT", "/db/a", R"({"_rev":"bogus","v":2})").status == 400);
  CHECK(node("PUT", "/db/a", R"({"v":2})", {{"If-Match", "\"nope\""}}).status == 400);
  CHECK(node("PUT", "/db/a?rev=" + rev, R"({"_rev":"1-00000000000000000000000000000000","v":2})").status ==
        400);
  CHECK(
      node("PUT", "/db/a?rev=" + rev, R"({"v":2})", {{"If-Match", "\"1-00000000000000000000000000000000\""}})
          .status == 400);
  // Query values of the wrong type.
  CHECK(node("GET", "/db/a?revs=yes").status == 400);
  CHECK(node("GET", "/db/a?conflicts=1").status == 400);
  CHECK(node("PUT", "/db/a?new_edits=maybe", R"({"v":2})").status == 400);
  CHECK(node("GET", "/db/a?open_revs=%5B%221-abc").status == 400);        // ["1-abc
  CHECK(node("GET", "/db/a?open_revs=%7B%22a%22%3A1%7D").status == 400);  // {"a":1}
  CHECK(node("GET", "/db/a?open_revs=%5B%22bad%22%5D").status == 400);    // ["bad"]
  CHECK(node("GET", "/db/a?open_revs=%5B1%5D").status == 400);            // [1]
  CHECK(node("GET", "/db/a?atts_since=nope").status == 400);
  CHECK(node("GET", "/db/a?atts_since=%5B%22bad%22%5D").status == 400);
  CHECK(docCount(node) == 1);
  auto doc = Json(node("GET", "/db/a").body);
  CHECK(doc.str("_rev") == rev);
  CHECK(int64_t(doc["v"]) == 1);
}

TEST_CASE("Docs: DELETE needs the current rev; deleted documents read as 404 deleted", "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  std::string rev1 = Json(node("PUT", "/db/a", R"({"v":1})").body).str("rev");
  std::string rev2 = Json(node("PUT", "/db/a?rev=" + rev1, R"({"v":2})").body).str("rev");
  CHECK(node("DELETE", "/db/a").status == 409);
  CHECK(node("DELETE", "/db/a?rev=" + rev1).status == 409);
  CHECK(node("DELETE", "/db/nope?rev=" + rev1).status == 404);
  auto del = node("DELETE", "/db/a", "", {{"If-Match", etagOf(rev2)}});
  REQUIRE(del.status == 200);
  Json d(del.body);
  CHECK(d["ok"].get_bool().value());
  std::string rev3 = d.str("rev");
  CHECK(rev3.substr(0, 2) == "3-");
  CHECK(*del.header("ETag") == etagOf(rev3));
  auto gone = node("GET", "/db/a");
  CHECK(gone.status == 404);
  CHECK(Json(gone.body).str("reason") == "deleted");
  auto again = node("DELETE", "/db/a?rev=" + rev3);
  CHECK(again.status == 404);
  CHECK(Json(again.body).str("reason") == "deleted");
  // The tombstone itself is readable by rev.
  auto tomb = node("GET", "/db/a?rev=" + rev3);
  REQUIRE(tomb.status == 200);
  CHECK(Json(tomb.body)["_deleted"].get_bool().value());
  CHECK(docCount(node) == 0);
  // Re-creating extends the tombstone.
  auto back = node("PUT", "/db/a", R"({"v":3})");
  REQUIRE(back.status == 201);
  CHECK(Json(back.body).str("rev").substr(0, 2) == "4-");
}

TEST_CASE("Docs: revs, revs_info, conflicts, deleted_conflicts, local_seq and meta", "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  const std::string a = "1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const std::string b = "2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  const std::string c = "2-cccccccccccccccccccccccccccccccc";
  const std::string d = "2-dddddddddddddddddddddddddddddddd";
  REQUIRE(node("PUT", "/db/x?new_edits=false", R"({"_rev":")" + a + R"(","v":"a"})").status == 201);
  auto pb = node(
      "PUT", "/db/x?new_edits=false",
      R"({"_rev":")" + b +
          R"(","v":"b","_revisions":{"start":2,"ids":["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}})");
  REQUIRE(pb.status == 201);
  CHECK(Json(pb.body).str("rev") == b);
  REQUIRE(
      node(
          "PUT", "/db/x?new_edits=false",
          R"({"_rev":")" + c +
              R"(","v":"c","_revisions":{"start":2,"ids":["cccccccccccccccccccccccccccccccc","aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}})")
          .status == 201);
  REQUIRE(
      node(
          "PUT", "/db/x?new_edits=false",
          R"({"_rev":")" + d +
              R"(","_deleted":true,"_revisions":{"start":2,"ids":["dddddddddddddddddddddddddddddddd","aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}})")
          .status == 201);
  // Replaying a known revision is a success, never a conflict.
  CHECK(node("PUT", "/db/x?new_edits=false", R"({"_rev":")" + c + R"(","v":"c"})").status == 201);

  Json doc(node("GET", "/db/x?conflicts=true&deleted_conflicts=true&revs=true&revs_info=true&local_seq=true")
               .body);
  CHECK(doc.str("_rev") == c);  // the highest hash among live leaves of the top generation
  CHECK(doc["_conflicts"].get_array().size() == 1);
  CHECK(std::string_view(doc["_conflicts"].at(0)) == b);
  CHECK(std::string_view(doc["_deleted_conflicts"].at(0)) == d);
  CHECK(int64_t(doc["_revisions"]["start"]) == 2);
  CHECK(doc["_revisions"]["ids"].get_array().size() == 2);
  CHECK(doc["_revs_info"].get_array().size() == 2);
  CHECK(std::string_view(doc["_revs_info"].at(1)["status"]) == "available");
  CHECK(doc.has("_local_seq"));
  Json meta(node("GET", "/db/x?meta=true").body);
  CHECK(meta.has("_conflicts"));
  CHECK(meta.has("_deleted_conflicts"));
  CHECK(meta.has("_revs_info"));
  Json plain(node("GET", "/db/x").body);
  CHECK_FALSE(plain.has("_conflicts"));
  CHECK_FALSE(plain.has("_revisions"));
}

TEST_CASE("Docs: open_revs as a JSON array: all, a list with missing revs, latest", "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  std::string r1 = Json(node("PUT", "/db/x", R"({"v":1})").body).str("rev");
  std::string r2 = Json(node("PUT", "/db/x?rev=" + r1, R"({"v":2})").body).str("rev");
  const std::string other = "2-ffffffffffffffffffffffffffffffff";
  REQUIRE(node("PUT", "/db/x?new_edits=false",
               R"({"_rev":")" + other +
                   R"(","v":"o","_revisions":{"start":2,"ids":["ffffffffffffffffffffffffffffffff",")" +
                   r1.substr(2) + R"("]}})")
              .status == 201);
  const std::pair<std::string, std::string> json{"Accept", "application/json"};
  auto all = node("GET", "/db/x?open_revs=all", "", {json});
  REQUIRE(all.status == 200);
  Json a(all.body);
  REQUIRE(a.root().get_array().size() == 2);
  for (auto entry : a.root().get_array()) CHECK(!entry["ok"].error());

  const std::string gone = "3-00000000000000000000000000000000";
  std::string list = "%5B%22" + r1 + "%22%2C%22" + gone + "%22%5D";  // [r1, gone]
  Json plain(node("GET", "/db/x?revs=true&open_revs=" + list, "", {json}).body);
  REQUIRE(plain.root().get_array().size() == 2);
  CHECK(std::string_view(plain.root().at(0)["ok"]["_rev"]) == r1);
  CHECK(int64_t(plain.root().at(0)["ok"]["_revisions"]["start"]) == 1);
  CHECK(std::string_view(plain.root().at(1)["missing"]) == gone);
  // latest=true: r1 resolves to both leaves under it.
  Json latest(node("GET", "/db/x?latest=true&open_revs=%5B%22" + r1 + "%22%5D", "", {json}).body);
  REQUIRE(latest.root().get_array().size() == 2);
  std::set<std::string> revs;
  for (auto entry : latest.root().get_array())
    revs.insert(std::string(std::string_view(entry["ok"]["_rev"])));
  CHECK(revs == std::set<std::string>{r2, other});
  // No Accept header: JSON, as CouchDB's chttpd decides by the listed types.
  CHECK(node("GET", "/db/x?open_revs=all").header("Content-Type")->find("application/json") == 0);
  // A document that does not exist: 404 for all, missing entries for a list.
  CHECK(node("GET", "/db/nope?open_revs=all", "", {json}).status == 404);
  auto nope = node("GET", "/db/nope?open_revs=%5B%22" + r1 + "%22%5D", "", {json});
  CHECK(nope.status == 200);
  CHECK(std::string_view(Json(nope.body).root().at(0)["missing"]) == r1);
  CHECK(node("GET", "/db/x?open_revs=%5B%5D", "", {json}).body == "[]");
}

TEST_CASE("Docs: _design and _local documents route with the slash raw or encoded", "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  auto ddoc = node("PUT", "/db/_design/app", R"({"views":{}})");
  REQUIRE(ddoc.status == 201);
  CHECK(Json(ddoc.body).str("id") == "_design/app");
  CHECK(ddoc.header("Location")->find("/db/_design%2Fapp") != std::string::npos);
  std::string drev = Json(ddoc.body).str("rev");
  CHECK(Json(node("GET", "/db/_design%2Fapp").body).str("_rev") == drev);
  CHECK(Json(node("GET", "/db/_design/app").body).str("_rev") == drev);
  auto upd = node("PUT", "/db/_design%2Fapp?rev=" + drev, R"({"views":{"v":{}}})");
  REQUIRE(upd.status == 201);
  CHECK(node("DELETE", "/db/_design/app?rev=" + Json(upd.body).str("rev")).status == 200);
  CHECK(node("GET", "/db/_design/app").status == 404);

  for (std::string path : {"/db/_local/cp", "/db/_local%2Fcp"}) {
    INFO(path);
    auto put = node("PUT", path, R"({"seq":1})");
    REQUIRE(put.status == 201);
    Json p(put.body);
    CHECK(p.str("id") == "_local/cp");
    CHECK(p.str("rev") == "0-1");
    auto get = node("GET", path);
    REQUIRE(get.status == 200);
    CHECK(Json(get.body).str("_rev") == "0-1");
    CHECK(int64_t(Json(get.body)["seq"]) == 1);
    CHECK(node("PUT", path, R"({"seq":2})").status == 409);               // no rev on an existing one
    CHECK(node("PUT", path, R"({"_rev":"0-7","seq":2})").status == 409);  // stale
    auto second = node("PUT", path + "?rev=0-1", R"({"seq":2})");
    REQUIRE(second.status == 201);
    CHECK(Json(second.body).str("rev") == "0-2");
    CHECK(node("DELETE", path).status == 409);
    CHECK(node("DELETE", path + "?rev=0-1").status == 409);
    CHECK(node("DELETE", path + "?rev=0-2").status == 200);
    CHECK(node("GET", path).status == 404);
  }
  // _local documents are not documents: they are not counted.
  node("PUT", "/db/_local/x", R"({})");
  CHECK(docCount(node) == 0);
  CHECK(int64_t(Json(node("GET", "/db").body)["update_seq"]) == 3);
}

TEST_CASE("Docs: COPY copies the body and attachments, and overwrites with a destination rev",
          "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  std::string rev =
      Json(node("PUT", "/db/src",
                R"({"v":1,"_attachments":{"a.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})")
               .body)
          .str("rev");
  auto copy = node("COPY", "/db/src", "", {{"Destination", "dst"}});
  REQUIRE(copy.status == 201);
  CHECK(Json(copy.body).str("id") == "dst");
  std::string dstRev = Json(copy.body).str("rev");
  Json dst(node("GET", "/db/dst").body);
  CHECK(int64_t(dst["v"]) == 1);
  CHECK(node("GET", "/db/dst/a.txt").body == "hello");
  // An existing destination needs its rev.
  CHECK(node("COPY", "/db/src", "", {{"Destination", "dst"}}).status == 409);
  node("PUT", "/db/src?rev=" + rev, R"({"v":2})");
  auto over = node("COPY", "/db/src", "", {{"Destination", "dst?rev=" + dstRev}});
  REQUIRE(over.status == 201);
  CHECK(Json(over.body).str("rev").substr(0, 2) == "2-");
  CHECK(int64_t(Json(node("GET", "/db/dst").body)["v"]) == 2);
  // An older source revision by ?rev=.
  REQUIRE(node("COPY", "/db/src?rev=" + rev, "", {{"Destination", "old"}}).status == 201);
  CHECK(int64_t(Json(node("GET", "/db/old").body)["v"]) == 1);
  CHECK(node("COPY", "/db/src").status == 400);
  CHECK(node("COPY", "/db/missing", "", {{"Destination", "z"}}).status == 404);
  CHECK(node("COPY", "/db/src", "", {{"Destination", "z?rev=junk"}}).status == 400);
}

TEST_CASE("Docs: multipart/related PUT with new_edits=false, then open_revs as multipart/mixed",
          "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  const std::string big = trickyBytes(70000);
  const std::string small = "hello";
  const std::string rev = "1-fcac58a55b988464b0fff4517d4f685a";
  std::string json =
      R"({"_id":"big","_rev":")" + rev +
      R"(","_revisions":{"start":1,"ids":["fcac58a55b988464b0fff4517d4f685a"]},"v":1,)"
      R"("_attachments":{"photo.bin":{"content_type":"application/octet-stream","revpos":1,"length":70000,"follows":true},)"
      R"("note.txt":{"content_type":"text/plain","revpos":1,"length":5,"follows":true}}})";
  std::string boundary = "0ac1aef4fe767cd4976b4a8f2fb5295e";
  auto put = node("PUT", "/db/big?new_edits=false",
                  relatedBody(boundary, json, {{"photo.bin", big}, {"note.txt", small}}),
                  {{"Content-Type", "multipart/related; boundary=\"" + boundary + "\""}});
  REQUIRE(put.status == 201);
  CHECK(Json(put.body).str("rev") == rev);
  CHECK(*put.header("ETag") == etagOf(rev));
  CHECK(node("GET", "/db/big/photo.bin").body == big);
  CHECK(node("GET", "/db/big/note.txt").body == small);
  node("PUT", "/db/plain", R"({"p":true})");
  std::string plainRev = Json(node("GET", "/db/plain").body).str("_rev");

  // As CouchDB's replicator asks: revs, latest, Accept: multipart/mixed.
  const std::string missing = "2-00000000000000000000000000000000";
  auto got =
      node("GET", "/db/big?revs=true&latest=true&open_revs=%5B%22" + rev + "%22%2C%22" + missing + "%22%5D",
           "", {{"Accept", "multipart/mixed"}});
  REQUIRE(got.status == 200);
  REQUIRE(got.header("Transfer-Encoding"));
  CHECK(*got.header("Transfer-Encoding") == "chunked");
  auto outer = settee::http::boundaryOf(*got.header("Content-Type"));
  REQUIRE(got.header("Content-Type")->rfind("multipart/mixed", 0) == 0);
  REQUIRE(outer);
  // CouchDB's framing: no preamble, no trailing CRLF after the closing delimiter.
  CHECK(got.body.rfind("--" + *outer + "\r\n", 0) == 0);
  CHECK(got.body.size() > outer->size() + 6);
  CHECK(got.body.substr(got.body.size() - outer->size() - 6) == "\r\n--" + *outer + "--");
  auto parts = settee::http::parseMultipart(got.body, *outer);
  REQUIRE(parts);
  REQUIRE(parts->size() == 2);
  const auto& related = (*parts)[0];
  REQUIRE(related.header("Content-Type"));
  CHECK(related.header("Content-Type")->rfind("multipart/related", 0) == 0);
  auto inner = settee::http::boundaryOf(*related.header("Content-Type"));
  REQUIRE(inner);
  auto innerParts = settee::http::parseMultipart(related.body, *inner);
  REQUIRE(innerParts);
  REQUIRE(innerParts->size() == 3);
  CHECK(*(*innerParts)[0].header("Content-Type") == "application/json");
  Json doc{std::string((*innerParts)[0].body)};
  CHECK(doc.str("_rev") == rev);
  CHECK(int64_t(doc["_revisions"]["start"]) == 1);
  CHECK(doc["_attachments"]["photo.bin"]["follows"].get_bool().value());
  CHECK(doc["_attachments"]["note.txt"]["follows"].get_bool().value());
  CHECK(int64_t(doc["_attachments"]["photo.bin"]["length"]) == 70000);
  // Bodies follow in _attachments order, byte-exact, with CouchDB's part headers.
  std::vector<std::string> order;
  for (auto field : doc["_attachments"].get_object()) order.emplace_back(field.key);
  for (size_t i = 0; i < order.size(); ++i) {
    const auto& part = (*innerParts)[i + 1];
    CHECK(*part.header("Content-Disposition") == "attachment; filename=\"" + order[i] + "\"");
    CHECK(std::string(part.body) == (order[i] == "photo.bin" ? big : small));
    CHECK(*part.header("Content-Length") == std::to_string(part.body.size()));
  }
  CHECK(*(*parts)[1].header("Content-Type") == "application/json; error=\"true\"");
  CHECK(std::string((*parts)[1].body) == R"({"missing":")" + missing + R"("})");

  // A document without attachments is a plain application/json part.
  auto plain = node("GET", "/db/plain?open_revs=all", "", {{"Accept", "multipart/mixed"}});
  auto pb = settee::http::boundaryOf(*plain.header("Content-Type"));
  REQUIRE(pb);
  auto plainParts = settee::http::parseMultipart(plain.body, *pb);
  REQUIRE(plainParts);
  REQUIRE(plainParts->size() == 1);
  CHECK(*(*plainParts)[0].header("Content-Type") == "application/json");
  CHECK(Json(std::string((*plainParts)[0].body)).str("_rev") == plainRev);

  // atts_since naming the revision itself: the attachments stay stubs and no body follows.
  auto since = node("GET", "/db/big?open_revs=all&atts_since=%5B%22" + rev + "%22%5D", "",
                    {{"Accept", "multipart/mixed"}});
  auto sb = settee::http::boundaryOf(*since.header("Content-Type"));
  auto sinceParts = settee::http::parseMultipart(since.body, *sb);
  REQUIRE(sinceParts);
  REQUIRE(sinceParts->size() == 1);
  CHECK(*(*sinceParts)[0].header("Content-Type") == "application/json");
  CHECK(Json(std::string((*sinceParts)[0].body))["_attachments"]["note.txt"]["stub"].get_bool().value());

  // The same answer as JSON carries stubs, or base64 bodies with attachments=true.
  Json asJson(node("GET", "/db/big?open_revs=all", "", {{"Accept", "application/json"}}).body);
  CHECK(asJson.root().at(0)["ok"]["_attachments"]["note.txt"]["stub"].get_bool().value());
  Json inlined(
      node("GET", "/db/big?open_revs=all&attachments=true", "", {{"Accept", "application/json"}}).body);
  CHECK(std::string_view(inlined.root().at(0)["ok"]["_attachments"]["note.txt"]["data"]) == "aGVsbG8=");

  // Round trip: the multipart answer's related part PUT back into another database as is.
  node("PUT", "/db2");
  std::string innerType = *related.header("Content-Type");
  auto back =
      node("PUT", "/db2/big?new_edits=false", std::string(related.body), {{"Content-Type", innerType}});
  REQUIRE(back.status == 201);
  CHECK(node("GET", "/db2/big/photo.bin").body == big);
  // A single document with attachments=true and Accept: multipart/related.
  auto one = node("GET", "/db/big?attachments=true", "", {{"Accept", "multipart/related"}});
  REQUIRE(one.status == 200);
  REQUIRE(one.header("Content-Type")->rfind("multipart/related", 0) == 0);
  auto ob = settee::http::boundaryOf(*one.header("Content-Type"));
  auto oneParts = settee::http::parseMultipart(one.body, *ob);
  REQUIRE(oneParts);
  CHECK(oneParts->size() == 3);
}

TEST_CASE("Docs: truncated or malformed multipart bodies are 400 and write nothing", "[http][docs]") {
  LiveServer node;
  node("PUT", "/db");
  const std::string b = "abc123";
  const std::pair<std::string, std::string> type{"Content-Type", "multipart/related; boundary=\"" + b + "\""};
  std::string json = R"({"_attachments":{"f":{"content_type":"text/plain","follows":true}}})";
  std::string good = relatedBody(b, json, {{"f", "data!"}});
  // Cut short before the closing delimiter.
  CHECK(node("PUT", "/db/t", good.substr(0, good.size() - 12), {type}).status == 400);
  // No boundary parameter.
  CHECK(node("PUT", "/db/t", good, {{"Content-Type", "multipart/related"}}).status == 400);
  // A follows entry with no body, and a body with no follows entry.
  CHECK(node("PUT", "/db/t", relatedBody(b, json, {}), {type}).status == 400);
  CHECK(node("PUT", "/db/t", relatedBody(b, json, {{"f", "1"}, {"g", "2"}}), {type}).status == 400);
  // A JSON part that is not JSON, or not UTF-8.
  CHECK(node("PUT", "/db/t", relatedBody(b, "{nope", {{"f", "1"}}), {type}).status == 400);
  CHECK(node("PUT", "/db/t", relatedBody(b, "{\"x\":\"\xff\"}", {}), {type}).status == 400);
  // new_edits=false without a _rev.
  CHECK(node("PUT", "/db/t?new_edits=false", good, {type}).status == 400);
  CHECK(node("GET", "/db/t").status == 404);
  CHECK(docCount(node) == 0);
  auto ok = node("PUT", "/db/t", good, {type});
  REQUIRE(ok.status == 201);
  CHECK(node("GET", "/db/t/f").body == "data!");
}

TEST_CASE("Docs: a _users document's password is stored hashed", "[http][docs]") {
  LiveServer node;
  node("PUT", "/_users");
  auto put = node("PUT", "/_users/org.couchdb.user:amy",
                  R"({"name":"amy","type":"user","roles":[],"password":"secret"})");
  REQUIRE(put.status == 201);
  Json doc(node("GET", "/_users/org.couchdb.user:amy").body);
  CHECK_FALSE(doc.has("password"));
  CHECK(doc.has("derived_key"));
  CHECK(doc.has("salt"));
  CHECK(node("GET", "/_session", "", {{"Authorization", "Basic YW15OnNlY3JldA=="}}).status ==
        200);  // amy:secret
}
