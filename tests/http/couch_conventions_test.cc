// CouchDB's conventions for clients that cannot speak plain HTTP, against a real `settee serve`:
// X-HTTP-Method-Override (honoured on POST only), JSONP (`callback=` when [chttpd] allow_jsonp is on),
// and the HTML form upload of attachments (POST /{db}/{docid} with multipart/form-data).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

// The Host the test client sends (tests/live_server.cc), which a form's Referer must name.
std::string hostOf(const LiveServer&) { return "127.0.0.1"; }

// A multipart/form-data body of fields (name, value) and files (field name, file name, type, bytes).
struct Form {
  std::string body;
  void field(const std::string& name, const std::string& value) {
    body += "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  }
  void file(const std::string& filename, const std::string& type, const std::string& bytes) {
    body += "--XyZ\r\nContent-Disposition: form-data; name=\"_attachments\"; filename=\"" + filename +
            "\"\r\nContent-Type: " + type + "\r\n\r\n" + bytes + "\r\n";
  }
  std::string done() const { return body + "--XyZ--\r\n"; }
};

}  // namespace

TEST_CASE(
    "MethodOverride: a POST with X-HTTP-Method-Override is routed as that method; other methods ignore it",
    "[http][conventions]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  auto put = node("POST", "/db/over", R"({"v":1})", {{"X-HTTP-Method-Override", "PUT"}});
  CHECK(put.status == 201);
  Json written(put.body);
  CHECK(written.str("id") == "over");
  auto got = node("POST", "/db/over", "", {{"X-HTTP-Method-Override", "GET"}});
  REQUIRE(got.status == 200);
  CHECK(int64_t(Json(got.body)["v"]) == 1);
  // Only POST may stand for another method: a GET with the header is a GET.
  auto notDeleted =
      node("GET", "/db/over?rev=" + written.str("rev"), "", {{"X-HTTP-Method-Override", "DELETE"}});
  CHECK(notDeleted.status == 200);
  CHECK(node("GET", "/db/over").status == 200);
  // A method outside CouchDB's list is not an override.
  auto odd = node("POST", "/db/_bulk_docs", R"({"docs":[]})", {{"X-HTTP-Method-Override", "PATCH"}});
  CHECK(odd.status == 201);
  auto removed =
      node("POST", "/db/over?rev=" + written.str("rev"), "", {{"X-HTTP-Method-Override", "DELETE"}});
  CHECK(removed.status == 200);
  CHECK(node("GET", "/db/over").status == 404);
}

TEST_CASE("Jsonp: off by default; with allow_jsonp a JSON answer becomes a script call",
          "[http][conventions]") {
  {
    LiveServer plain;
    auto r = plain("GET", "/?callback=cb");
    CHECK(r.status == 200);
    CHECK(r.header("Content-Type")->find("application/json") == 0);
    CHECK(r.body.front() == '{');
  }
  LiveServer node("[chttpd]\nallow_jsonp = true\n");
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/doc", R"({"v":1})").status == 201);
  auto r = node("GET", "/db/doc?callback=my_cb.x");
  REQUIRE(r.status == 200);
  CHECK(*r.header("Content-Type") == "application/javascript");
  const std::string prefix = "/* CouchDB */my_cb.x(";
  REQUIRE(r.body.compare(0, prefix.size(), prefix) == 0);
  size_t close = r.body.rfind(");");
  REQUIRE(close != std::string::npos);
  Json inner(r.body.substr(prefix.size(), close - prefix.size()));
  CHECK(int64_t(inner["v"]) == 1);
  // Errors are wrapped too, with their status.
  auto missing = node("GET", "/db/nope?callback=cb");
  CHECK(missing.status == 404);
  CHECK(missing.body.compare(0, 16, "/* CouchDB */cb(") == 0);
  // A streamed listing is wrapped around its chunks.
  auto listing = node("GET", "/db/_all_docs?callback=cb");
  REQUIRE(listing.status == 200);
  CHECK(*listing.header("Content-Type") == "application/javascript");
  REQUIRE(listing.body.compare(0, 16, "/* CouchDB */cb(") == 0);
  Json rows(listing.body.substr(16, listing.body.rfind(");") - 16));
  CHECK(int64_t(rows["total_rows"]) == 1);
  // A callback name is letters, digits, '.', '_', '[' and ']' only.
  auto bad = node("GET", "/db/doc?callback=alert(1)");
  CHECK(bad.status == 400);
  CHECK(Json(bad.body).str("reason") == "invalid_callback");
  // An empty callback is none.
  CHECK(node("GET", "/db/doc?callback=").body.front() == '{');
}

TEST_CASE("FormUpload: a multipart/form-data POST adds the files as attachments to the revision named",
          "[http][conventions][attachments]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  auto created =
      node("PUT", "/db/doc",
           R"({"title":"t","_attachments":{"keep.txt":{"content_type":"text/plain","data":"a2VlcA=="}}})");
  REQUIRE(created.status == 201);
  std::string rev = Json(created.body).str("rev");
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "multipart/form-data; boundary=XyZ"},
      {"Referer", "http://" + hostOf(node) + "/_utils/"}};

  Form form;
  form.field("_rev", rev);
  form.file("hello.txt", "text/plain", "Hello, form!");
  auto r = node("POST", "/db/doc", form.done(), headers);
  REQUIRE(r.status == 201);
  Json answer(r.body);
  CHECK(answer["ok"].get_bool().value());
  CHECK(answer.str("id") == "doc");
  std::string rev2 = answer.str("rev");
  CHECK(rev2.rfind("2-", 0) == 0);
  CHECK(*r.header("ETag") == "\"" + rev2 + "\"");
  auto att = node("GET", "/db/doc/hello.txt");
  CHECK(att.status == 200);
  CHECK(att.body == "Hello, form!");
  CHECK(att.header("Content-Type")->find("text/plain") == 0);
  // The document's body and its other attachments are kept.
  Json doc(node("GET", "/db/doc").body);
  CHECK(doc.str("title") == "t");
  CHECK(node("GET", "/db/doc/keep.txt").body == "keep");

  // A file of the same name replaces that attachment.
  Form again;
  again.field("_rev", rev2);
  again.file("keep.txt", "text/plain", "replaced");
  REQUIRE(node("POST", "/db/doc", again.done(), headers).status == 201);
  CHECK(node("GET", "/db/doc/keep.txt").body == "replaced");
  CHECK(node("GET", "/db/doc/hello.txt").body == "Hello, form!");

  // A stale _rev conflicts, as any edit of an old revision does.
  Form stale;
  stale.field("_rev", rev);
  stale.file("x.txt", "text/plain", "x");
  CHECK(node("POST", "/db/doc", stale.done(), headers).status == 409);

  // A `_doc` field gives the document itself: a new one is created with the files.
  Form fresh;
  fresh.field("_doc", R"({"kind":"new"})");
  fresh.file("a.bin", "application/octet-stream", std::string("\x00\x01\x02", 3));
  REQUIRE(node("POST", "/db/fresh", fresh.done(), headers).status == 201);
  CHECK(Json(node("GET", "/db/fresh").body).str("kind") == "new");
  CHECK(node("GET", "/db/fresh/a.bin").body == std::string("\x00\x01\x02", 3));
}

TEST_CASE("FormUpload: CouchDB's refusals — no Referer, a foreign Referer, another Content-Type",
          "[http][conventions][attachments]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  Form form;
  form.field("_doc", "{}");
  auto noReferer =
      node("POST", "/db/doc", form.done(), {{"Content-Type", "multipart/form-data; boundary=XyZ"}});
  CHECK(noReferer.status == 400);
  CHECK(Json(noReferer.body).str("reason") == "Referer header required.");
  auto foreign =
      node("POST", "/db/doc", form.done(),
           {{"Content-Type", "multipart/form-data; boundary=XyZ"}, {"Referer", "http://evil.example/"}});
  CHECK(foreign.status == 400);
  CHECK(Json(foreign.body).str("reason") == "Referer header must match host.");
  auto json = node("POST", "/db/doc", "{}", {{"Referer", "http://" + hostOf(node) + "/"}});
  CHECK(json.status == 415);
  CHECK(Json(json.body).str("error") == "bad_content_type");
  CHECK(node("GET", "/db/doc").status == 404);
}
