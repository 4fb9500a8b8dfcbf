// Bad input: each case gets its typed error and leaves the database as it was.
#include <catch2/catch.hpp>

#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::TempDir;

namespace {

// A database whose max_document_size is 4 KB.
std::unique_ptr<Database> openSmallDocs(const TempDir& dir) {
  DatabaseOptions options;
  options.maxDocumentSize = 4096;
  auto opened = Database::open(dir.file("db.settee"), "db", options);
  REQUIRE(opened);
  return std::move(*opened);
}

}  // namespace

TEST_CASE("Bad input: every malformed document is refused with its error and writes nothing", "[db][badinput]") {
  TempDir dir;
  auto db = openSmallDocs(dir);
  auto base = db->put(R"({"_id":"keep","v":1})");
  REQUIRE(base);
  const uint64_t seq = db->info()->updateSeq;

  struct Case {
    std::string json;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {R"({"_id":"x",)", ErrorCode::BadRequest},                        // truncated JSON
      {"{\"_id\":\"x\",\"v\":\"\xff\xfe\"}", ErrorCode::BadRequest},     // invalid UTF-8
      {R"([1,2])", ErrorCode::BadRequest},                              // not an object
      {R"("just a string")", ErrorCode::BadRequest},
      {R"({"_id":"keep","_rev":"abc"})", ErrorCode::BadRequest},        // revisions CouchDB cannot parse
      {R"({"_id":"keep","_rev":"x-abc"})", ErrorCode::BadRequest},
      {R"({"_id":"keep","_rev":"-abc"})", ErrorCode::BadRequest},
      {R"({"_id":"keep","_rev":"1-0123456789abcdef0123456789abcdeg"})", ErrorCode::BadRequest},
      {R"({"_id":"keep","_rev":"0-abc"})", ErrorCode::Conflict},        // parsed by CouchDB, held by no tree
      {R"({"_id":"keep","_rev":"1-ab$c"})", ErrorCode::Conflict},
      {R"({"_id":"keep","_rev":5})", ErrorCode::BadRequest},            // wrong types
      {R"({"_id":"keep","_deleted":"yes"})", ErrorCode::BadRequest},
      {R"({"_id":7})", ErrorCode::BadRequest},
      {R"({"_id":""})", ErrorCode::BadRequest},
      {R"({"_id":"_design/"})", ErrorCode::IllegalDocId},               // forbidden ids
      {R"({"_id":"_private"})", ErrorCode::IllegalDocId},
      {R"({"_id":"x","_foo":1})", ErrorCode::DocValidation},            // unknown special member
      {R"({"_id":"x","_attachments":{"a":{"data":"!!!"}}})", ErrorCode::BadRequest},
      {R"({"_id":"x","_attachments":{"a":{"content_type":"x"}}})", ErrorCode::BadRequest},
      {R"({"_id":"x","_attachments":[]})", ErrorCode::BadRequest},
      {R"({"_id":"x","_revisions":{"start":1,"ids":["a","b"]},"_rev":"1-a"})", ErrorCode::BadRequest},
      {R"({"_id":"x","_revisions":{"start":2,"ids":[1]},"_rev":"2-a"})", ErrorCode::BadRequest},
      {R"({"_id":"x","big":")" + std::string(5000, 'a') + "\"}", ErrorCode::TooLarge},  // over the limit
  };
  for (const auto& c : cases) {
    INFO(c.json.substr(0, 80));
    auto r = db->put(c.json);
    CHECK(r.status().code() == c.code);
    CHECK(!r.status().reason().empty());
    auto bulk = db->bulkDocs({c.json}, {.newEdits = false});
    CHECK(bulk[0].status.code() != ErrorCode::Ok);
  }
  CHECK(db->info()->updateSeq == seq);
  CHECK(db->info()->docCount == 1);
  CHECK(db->remove("keep", "garbage").status().code() == ErrorCode::BadRequest);
  CHECK(db->putLocal("l", "{").status().code() == ErrorCode::BadRequest);
  CHECK(db->putLocal("l", R"({"_rev":"1-abc"})").status().code() == ErrorCode::BadRequest);
  CHECK(db->removeLocal("l", "zz").status().code() == ErrorCode::BadRequest);
}

TEST_CASE("Bad input: a bad document in a batch fails alone; the rest of the batch is written", "[db][badinput]") {
  TempDir dir;
  auto db = std::move(*Database::open(dir.file("db.settee"), "db"));
  auto res = db->bulkDocs({R"({"_id":"ok1"})", R"({"_id":"_bad"})", R"({"_id":"ok2"})"});
  CHECK(res[0].status.isOk());
  CHECK(res[1].status.code() == ErrorCode::IllegalDocId);
  CHECK(res[2].status.isOk());
  CHECK(db->info()->docCount == 2);
}

TEST_CASE("Bad input: max_document_size counts the body, not its attachments", "[db][badinput]") {
  TempDir dir;
  auto db = openSmallDocs(dir);
  // 12 KB of base64 inline: over the limit as text, but the body is tiny (CouchDB counts the same way,
  // and a replicator copying a document from a JSON-only peer sends exactly this).
  std::string data(12000, 'Q');
  auto withAttachment = db->put(R"({"_id":"photo","_attachments":{"p.bin":{"content_type":"x/y","data":")" + data + R"("}}})");
  REQUIRE(withAttachment);
  CHECK(db->getAttachment("photo", "p.bin")->length == 9000);
  // A body over the limit is still refused, attachments or not.
  auto big = db->put(R"({"_id":"big","v":")" + std::string(5000, 'a') +
                     R"(","_attachments":{"p.bin":{"content_type":"x/y","data":"QUJD"}}})");
  REQUIRE_FALSE(big);
  CHECK(big.status().code() == ErrorCode::TooLarge);
  CHECK_FALSE(db->get("big"));
}
