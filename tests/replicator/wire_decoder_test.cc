// The wire decoders (replicator/remote_answers.h) on answers captured from CouchDB 3.4.3 and
// pouchdb-server (wire_fixtures.h): what each peer really sends decodes, and fetched revisions come out
// as values, parsed once, with their special members taken apart.
#include <catch2/catch.hpp>

#include "replicator/remote_answers.h"
#include "wire_fixtures.h"

using namespace settee;
using namespace settee::repl;
namespace wire = settee::test::wire;
using Kind = db::AttachmentIn::Kind;

namespace {

const FetchedRev& revisionOf(const std::vector<FetchedRev>& got, const std::string& rev) {
  for (const auto& d : got) {
    if (d.rev && d.rev->revString() == rev) return d;
  }
  FAIL("no revision " << rev);
  return got.front();
}

}  // namespace

TEST_CASE("Wire: CouchDB's changes feed keeps its opaque string sequences and lists every leaf",
          "[repl][answers][wire]") {
  auto got = decodeChanges(wire::kCouchChanges, "0", "GET _changes");
  INFO((got ? "" : got.status().reason()));
  REQUIRE(got);
  REQUIRE(got->rows.size() == 6);
  CHECK(got->rows[0].id == "plain2");
  CHECK(got->rows[0].deleted);
  CHECK(got->rows[0].seq.rfind("\"2-g1AAAA", 0) == 0);  // JSON text, quotes included, handed back as is
  CHECK(got->rows[2].id == "_design/app");
  CHECK(got->rows[4].id == "conflicted");
  CHECK(got->rows[4].revs ==
        std::vector<std::string>{"2-" + std::string(32, 'c'), "2-" + std::string(32, 'b')});
  CHECK_FALSE(got->rows[5].deleted);
  CHECK(got->lastSeq == got->rows[5].seq);
  REQUIRE(got->pending);
  CHECK(*got->pending == 0);
}

TEST_CASE("Wire: pouchdb-server's changes feed has numeric sequences and no pending count",
          "[repl][answers][wire]") {
  auto got = decodeChanges(wire::kPouchChanges, "0", "GET _changes");
  REQUIRE(got);
  REQUIRE(got->rows.size() == 2);
  CHECK(got->rows[0].seq == "1");
  CHECK(got->rows[1].id == "att");
  CHECK(got->lastSeq == "2");
  CHECK_FALSE(got->pending);
}

TEST_CASE("Wire: CouchDB's and pouchdb-server's revs_diff answers list only what is missing",
          "[repl][answers][wire]") {
  const std::string c(32, 'c'), b(32, 'b');
  std::vector<std::pair<std::string, std::vector<std::string>>> asked{
      {"big_att", {"1-fcac58a55b988464b0fff4517d4f685a"}},
      {"_design/app", {"1-a3f55aa591cf64ffa4e09bc29c9c3273"}},
      {"plain1", {"2-199d6f4cb0ab51aafccacee16486d6b3"}},
      {"conflicted", {"2-" + c, "2-" + b}},
      {"small_att", {"1-b169928659d15c482e1fedd6b01100fa"}}};
  auto couch = decodeRevsDiff(wire::kCouchRevsDiff, asked, "POST _revs_diff");
  REQUIRE(couch);
  REQUIRE(couch->size() == 5);
  for (const auto& m : *couch) {
    if (m.id == "conflicted")
      CHECK(m.missing.size() == 2);
    else
      CHECK(m.missing.size() == 1);
    CHECK(m.possibleAncestors.empty());
  }
  auto pouch =
      decodeRevsDiff(wire::kPouchRevsDiff, {{"plain1", {"1-f185ffac436c04edfb7abfe093a197a3", "2-" + b}}},
                     "POST _revs_diff");
  REQUIRE(pouch);
  REQUIRE(pouch->size() == 1);
  CHECK(pouch->front().missing == std::vector<std::string>{"2-" + b});
}

TEST_CASE("Wire: CouchDB's _bulk_get answer becomes revisions whose bodies hold no special member",
          "[repl][answers][wire]") {
  const std::string a(32, 'a'), b(32, 'b'), c(32, 'c');
  std::vector<MissingRevs> asked{{"conflicted", {"2-" + b}, {}},
                                 {"conflicted", {"2-" + c}, {}},
                                 {"plain1", {"2-199d6f4cb0ab51aafccacee16486d6b3"}, {}},
                                 {"small_att", {"1-b169928659d15c482e1fedd6b01100fa"}, {}}};
  auto got = decodeBulkGet(wire::kCouchBulkGet, asked, "POST _bulk_get");
  INFO((got ? "" : got.status().reason()));
  REQUIRE(got);
  REQUIRE(got->size() == 4);

  const FetchedRev& sideB = revisionOf(*got, "2-" + b);
  CHECK(sideB.id == "conflicted");
  CHECK(sideB.rev->id == "conflicted");
  CHECK(sideB.rev->body == R"({"side":"b"})");
  CHECK(sideB.rev->revisionsStart == 2);
  CHECK(sideB.rev->revisionIds == std::vector<std::string>{b, a});
  CHECK_FALSE(sideB.rev->hasAttachments());

  CHECK(revisionOf(*got, "2-199d6f4cb0ab51aafccacee16486d6b3").rev->body == R"({"v":11})");

  // The stub is a question asked of the value: no scan of JSON text.
  const db::Revision& att = *revisionOf(*got, "1-b169928659d15c482e1fedd6b01100fa").rev;
  REQUIRE(att.attachments.size() == 1);
  CHECK(att.attachments[0].kind == Kind::Stub);
  CHECK(att.attachments[0].info.name == "note.txt");
  CHECK(att.attachments[0].info.digest == "md5-iMaiC8wqiFlD2NjLTemvCQ==");
  CHECK(att.stubBytes() == 5);
  CHECK(att.body == "{}");
}

TEST_CASE("Wire: CouchDB's _bulk_get answer for a deletion is a deleted revision with an empty body",
          "[repl][answers][wire]") {
  auto got = decodeBulkGet(wire::kCouchBulkGetDeleted,
                           {{"plain2", {"2-742dc27a91278157c747752e62a8f805"}, {}}}, "POST _bulk_get");
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  REQUIRE(got->front().rev);
  CHECK(got->front().rev->deleted);
  CHECK(got->front().rev->body == "{}");
  CHECK(got->front().rev->revisionIds.size() == 2);
}

TEST_CASE("Wire: pouchdb-server's inline attachment arrives decoded and renders back as base64",
          "[repl][answers][wire]") {
  const std::string attRev = "1-" + std::string(32, 'a');
  auto bulk = decodeBulkGet(wire::kPouchBulkGet,
                            {{"plain1", {"1-f185ffac436c04edfb7abfe093a197a3"}, {}}, {"att", {attRev}, {}}},
                            "POST _bulk_get");
  INFO((bulk ? "" : bulk.status().reason()));
  REQUIRE(bulk);
  REQUIRE(bulk->size() == 2);
  CHECK(revisionOf(*bulk, "1-f185ffac436c04edfb7abfe093a197a3").rev->body == R"({"v":1})");
  auto open = decodeOpenRevs(wire::kPouchOpenRevs, {"att", {attRev}, {}}, "GET open_revs");
  REQUIRE(open);
  REQUIRE(open->size() == 1);
  for (const db::Revision* rev :
       std::vector<const db::Revision*>{&*revisionOf(*bulk, attRev).rev, &*open->front().rev}) {
    REQUIRE(rev->attachments.size() == 1);
    const db::AttachmentIn& note = rev->attachments[0];
    CHECK(note.kind == Kind::Inline);
    CHECK(note.data == "hello");
    CHECK(note.info.contentType == "text/plain");
    CHECK(note.info.revpos == 1);
    CHECK(rev->inlineBytes() == 5);
    // Rendered for a target's _bulk_docs: the bytes as base64 again, with the length pouchdb-server left out.
    std::string json = db::renderRevision(*rev);
    CHECK_THAT(json, Catch::Contains(R"("data":"aGVsbG8=")"));
    CHECK_THAT(json, Catch::Contains(R"("length":5)"));
    CHECK_THAT(json, Catch::Contains(R"("_revisions":{"start":1,"ids":[")" + std::string(32, 'a') + "\"]}"));
  }
}

TEST_CASE("Wire: CouchDB's open_revs revision with a gzip attachment that follows counts its encoded bytes",
          "[repl][answers][wire]") {
  std::string body = std::string(R"([{"ok":)") + wire::kCouchOpenRevsSmallAttJson + "}]";
  auto got = decodeOpenRevs(body, {"small_att", {"1-b169928659d15c482e1fedd6b01100fa"}, {}}, "GET open_revs");
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  const db::AttachmentIn& note = got->front().rev->attachments.at(0);
  CHECK(note.kind == Kind::Follows);
  CHECK(note.info.encoding == "gzip");
  CHECK(note.info.length == 5);
  CHECK(note.sentLength() == 25);
}

TEST_CASE("Wire: a fetched revision that breaks CouchDB's document rules is kept as its own failure",
          "[repl][answers][wire]") {
  // Not a malformed answer (the replication goes on): the target refuses that one document.
  const std::string a(32, 'a');
  std::string body = R"({"results":[{"id":"d","docs":[{"ok":{"_id":"d","_rev":"1-)" + a +
                     R"(","_revisions":{"start":1,"ids":[")" + a + R"("]},"_bogus":1}}]}]})";
  auto got = decodeBulkGet(body, {{"d", {"1-" + a}, {}}}, "POST _bulk_get");
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  REQUIRE_FALSE(got->front().rev);
  CHECK(got->front().rev.status().code() == ErrorCode::DocValidation);
}
