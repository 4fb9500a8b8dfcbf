// The revision value (db/revision.h): parsed once, rendered once, and read from the store as a value.
#include <catch2/catch.hpp>

#include "db/document.h"
#include "db/database_internal.h"
#include "db/store.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::TempDir;
using Kind = db::AttachmentIn::Kind;

namespace {

db::Revision parsed(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE_FALSE(parser.parse(json).get(root));
  auto rev = db::parseDocument(root);
  INFO((rev ? "" : rev.status().reason()));
  REQUIRE(rev);
  return std::move(*rev);
}

const std::string kA(32, 'a'), kB(32, 'b');

}  // namespace

TEST_CASE("Revision: rendering what was parsed gives back the same revision", "[db][revision]") {
  const std::string json =
      R"({"_id":"d","_rev":"2-)" + kB + R"(","_deleted":true,"x":{"y":[1,"\u0022"]},)" +
      R"("_revisions":{"start":2,"ids":[")" + kB + R"(",")" + kA + R"("]},)" +
      R"("_attachments":{"a.txt":{"content_type":"text/plain","data":"aGk="},)" +
      R"("s":{"content_type":"text/plain","digest":"md5-x","length":7,"revpos":1,"stub":true}}})";
  db::Revision rev = parsed(json);
  CHECK(rev.body == R"({"x":{"y":[1,"\""]}})");
  db::Revision again = parsed(db::renderRevision(rev));
  CHECK(again.id == "d");
  CHECK(again.revString() == "2-" + kB);
  CHECK(again.deleted);
  CHECK(again.body == rev.body);
  CHECK(again.revisionsStart == 2);
  CHECK(again.revisionIds == std::vector<std::string>{kB, kA});
  REQUIRE(again.attachments.size() == 2);
  CHECK(again.attachments[0].kind == Kind::Inline);
  CHECK(again.attachments[0].data == "hi");
  CHECK(again.attachments[1].kind == Kind::Stub);
  CHECK(again.attachments[1].info.digest == "md5-x");
  CHECK(again.stubBytes() == 7 + 2);  // every attachment's length, the inline one's as rendered
  CHECK(again.inlineBytes() == 2);
}

TEST_CASE("Revision: rendered for multipart, held bytes become `follows` with their length",
          "[db][revision]") {
  db::Revision rev = parsed(R"({"_id":"d","_rev":"1-)" + kA +
                            R"(","_attachments":{"a":{"content_type":"text/plain","data":"aGVsbG8="}}})");
  db::RenderOptions options;
  options.attachments = db::RenderOptions::Attachments::Follows;
  options.revisions = false;
  std::string json = db::renderRevision(rev, options);
  CHECK_THAT(json, Catch::Contains(R"("length":5)"));
  CHECK_THAT(json, Catch::Contains(R"("follows":true)"));
  CHECK_THAT(json, !Catch::Contains("data"));
  CHECK_THAT(json, !Catch::Contains("_revisions"));
}

TEST_CASE("Revision: an empty body renders the special members alone, a body without them alone",
          "[db][revision]") {
  db::Revision rev;
  CHECK(db::renderRevision(rev) == "{}");
  rev.body = R"({"a":1})";
  CHECK(db::renderRevision(rev) == R"({"a":1})");
  rev.id = "x";
  CHECK(db::renderRevision(rev) == R"({"_id":"x","a":1})");
}

TEST_CASE("Revision: several rendered into one writer's array make one valid JSON text", "[db][revision]") {
  db::Revision plain = parsed(R"({"_id":"a","_rev":"1-)" + kA + R"(","v":1})");
  db::Revision bare;  // no special member: the body alone
  bare.body = R"({"w":2})";
  db::Revision empty = parsed(R"({"_id":"e","_rev":"1-)" + kB + R"(","_deleted":true})");
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  w.StartObject();
  db::writeKey(w, "docs");
  w.StartArray();
  for (const auto* rev : {&plain, &bare, &empty}) db::renderRevision(w, buf, *rev);
  w.EndArray();
  w.EndObject();
  CHECK(std::string(db::bufferView(buf)) == R"({"docs":[{"_id":"a","_rev":"1-)" + kA +
                                                R"(","v":1},{"w":2},)" + R"({"_id":"e","_rev":"1-)" + kB +
                                                R"(","_deleted":true}]})");
}

TEST_CASE("Store: revisions read as values carry their path, stubs or bytes, and write elsewhere unparsed",
          "[db][revision]") {
  TempDir dir;
  auto src = Database::open(dir.file("src.settee"), "src", {});
  auto dst = Database::open(dir.file("dst.settee"), "dst", {});
  REQUIRE(src);
  REQUIRE(dst);
  auto r1 = (*src)->put(
      R"({"_id":"d","v":1,"_attachments":{"a.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})");
  REQUIRE(r1);
  auto r2 =
      (*src)->put(R"({"_id":"d","_rev":")" + r1->rev + R"(","v":2,"_attachments":{"a.txt":{"stub":true}}})");
  REQUIRE(r2);

  ReadOptions options;
  options.revs = true;
  auto stubs = db::storeOf(**src).getRevisions("d", {r2->rev}, options);
  REQUIRE(stubs);
  REQUIRE(stubs->size() == 1);
  const db::Revision& rev = stubs->front();
  CHECK(rev.revString() == r2->rev);
  CHECK(rev.body == R"({"v":2})");
  CHECK(rev.revisionIds.size() == 2);
  REQUIRE(rev.attachments.size() == 1);
  CHECK(rev.attachments[0].kind == Kind::Stub);
  CHECK(rev.stubBytes() == 5);

  // With attachments, those newer than atts_since come with their bytes; older ones stay stubs.
  options.attachments = true;
  auto bytes = db::storeOf(**src).getRevisions("d", {r2->rev}, options);
  REQUIRE(bytes);
  CHECK(bytes->front().attachments[0].kind == Kind::Inline);
  CHECK(bytes->front().attachments[0].data == "hello");
  options.attsSince = {r1->rev};
  auto since = db::storeOf(**src).getRevisions("d", {r2->rev}, options);
  REQUIRE(since);
  CHECK(since->front().attachments[0].kind == Kind::Stub);

  // The value goes into another database as it is (new_edits=false), with its history.
  std::vector<db::WriteOp> ops;
  ops.push_back(db::storeOf(**dst).prepare(bytes->front()));
  auto written = db::storeOf(**dst).write(ops, false);
  REQUIRE(written.size() == 1);
  CHECK(written[0].status.isOk());
  ReadOptions withRevs;
  withRevs.revs = true;
  test::Json doc(*(*dst)->get("d", withRevs));
  CHECK(doc.str("_rev") == r2->rev);
  auto att = (*dst)->getAttachment("d", "a.txt");
  REQUIRE(att);
  CHECK(att->data == "hello");
}

TEST_CASE("Store: a revision whose body passes max_document_size is refused before it is written",
          "[db][revision]") {
  TempDir dir;
  DatabaseOptions small;
  small.maxDocumentSize = 16;
  auto db = Database::open(dir.file("db.settee"), "db", small);
  REQUIRE(db);
  db::Revision rev;
  rev.id = "big";
  rev.rev = db::RevId{1, kA};
  rev.body = R"({"text":"more than sixteen bytes"})";
  std::vector<db::WriteOp> ops;
  ops.push_back(db::storeOf(**db).prepare(rev));
  auto written = db::storeOf(**db).write(ops, false);
  CHECK(written[0].status.code() == ErrorCode::TooLarge);
}
