// CouchDB's revision ids (db/rev_hash.h), proven against ids Apache CouchDB 3.4.3 gave the same edits in
// /work/shared/transcripts (couchdb-replicator-as-seen-by-a-source.txt, couchdb-javascript.txt,
// couchdb-mango.txt): each expected id below is quoted from there.
#include "db/rev_hash.h"

#include <catch2/catch.hpp>

#include "db/crypto.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {

std::string firstRev(std::string_view body) { return db::couchRevHash(false, {}, body, {}); }

db::AttachmentInfo att(std::string name, std::string type, std::string digest) {
  db::AttachmentInfo a;
  a.name = std::move(name);
  a.contentType = std::move(type);
  a.digest = std::move(digest);
  return a;
}

std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto db = Database::open(dir.file("db.settee"), "db");
  REQUIRE(db);
  return std::move(*db);
}

// The design document of couchdb-javascript.txt #1, byte for byte as it was sent.
const char* kDesignDoc =
    R"({"views": {"byType": {"map": "function(doc){ if (doc.type) emit([doc.type, doc.n], doc.n); }", "reduce": "_sum"}, )"
    R"("byTag": {"map": "function(doc){ (doc.tags||[]).forEach(function(t){ emit(t, null); }); }"}, )"
    R"("stats": {"map": "function(doc){ if (doc.n !== undefined) emit(doc.type, doc.n); }", "reduce": "_stats"}, )"
    R"("js": {"map": "function(doc){ emit(doc.type, 1); }", "reduce": "function(keys, values, rereduce){ return sum(values); }"}}, )"
    R"("filters": {"open": "function(doc, req){ return doc.status === (req.query.status || \"open\"); }"}, )"
    R"("validate_doc_update": "function(newDoc, oldDoc, userCtx, secObj){ if (newDoc.bad) throw({forbidden: 'bad docs are refused'}); if (newDoc.auth) throw({unauthorized: 'log in'}); }"})";

}  // namespace

TEST_CASE("RevHash: the term hashed is Erlang's external format with ATOM_EXT atoms", "[db][revhash]") {
  // [false, 0, 0, {[{<<"v">>, 1}]}, []] as term_to_binary(_, [{minor_version, 1}]) writes it.
  static const char kTerm[] =
      "\x83l\0\0\0\x05"
      "d\0\x05"
      "false"
      "a\0"
      "a\0"
      "h\x01l\0\0\0\x01h\x02m\0\0\0\x01"
      "v"
      "a\x01jjj";
  const std::string expected(kTerm, sizeof kTerm - 1);
  CHECK(expected.size() == 38);
  CHECK(db::revisionTerm(false, {}, R"({"v":1})", {}) == expected);
}

TEST_CASE("RevHash: first revisions get the ids CouchDB 3.4.3 gave them", "[db][revhash]") {
  CHECK(firstRev(R"({"v":1})") == "7a7e4b29f3af401e69b6f86e4c26b727");
  CHECK(firstRev(R"({"v":2})") == "b8f97323e7f26909d5e0c8d2764a765f");
  CHECK(firstRev(R"({"type":["a"]})") == "6795394be49115c1e7e8a0cecf1723a0");
  CHECK(firstRev(R"({"type":"é"})") == "7032569f17e211e425a59eae11251888");
  CHECK(firstRev(R"({"type":"customer","name":"Ann"})") == "14da2fb7f3662768939ccbc1e3950333");
  CHECK(firstRev(R"({"type":"order","route":"r0","status":"open","ts":1000,"tags":[],"n":0})") ==
        "4a6cec470e2a71ecd26d3bcb3a12f46f");
  CHECK(firstRev(R"({"type":"order","route":"r2","status":"open","ts":1002,"tags":["a","b"],"n":2})") ==
        "be5c16268ba0a4ed5577ba4336dd38de");
  CHECK(firstRev(R"({"type":"order","route":"r1","status":"open","ts":1010,"tags":["a"],"n":10})") ==
        "6a619cdc106ec290f2e2cffee42729e3");
  CHECK(firstRev(kDesignDoc) == "84cac595745540b1a62e849d229a22ba");
  // An empty body (`{"_id":"ok1"}` in a _bulk_docs), and two more design documents.
  CHECK(firstRev("{}") == "967a00dff5e02add41819138abb3284d");
  CHECK(firstRev(R"({"views":{"by_v":{"map":"function(d){emit(d.v)}"}}})") ==
        "a3f55aa591cf64ffa4e09bc29c9c3273");
  CHECK(firstRev(R"({"views": {"loop": {"map": "function(doc){ while(true){} }"}}})") ==
        "8fba9887a68b25887a27b7cc7d19e741");
}

TEST_CASE("RevHash: an edit hashes its parent's generation and 16-byte id", "[db][revhash]") {
  CHECK(db::couchRevHash(false, {true, 1, "7a7e4b29f3af401e69b6f86e4c26b727"}, R"({"v":11})", {}) ==
        "199d6f4cb0ab51aafccacee16486d6b3");
  CHECK(db::couchRevHash(false, {true, 2, "199d6f4cb0ab51aafccacee16486d6b3"}, R"({"v":111})", {}) ==
        "1055458ef95bb70b2b50a0a5985fd44c");
  // A deletion (DELETE /db/plain2?rev=1-b57d...): the body is empty, Deleted is true.
  CHECK(db::couchRevHash(true, {true, 1, "b57d785aed6a5449083e87f91cb83590"}, "{}", {}) ==
        "742dc27a91278157c747752e62a8f805");
}

TEST_CASE("RevHash: attachments hash their name, type and md5, in reverse order", "[db][revhash]") {
  CHECK(db::couchRevHash(false, {}, "{}", {att("note.txt", "text/plain", "md5-iMaiC8wqiFlD2NjLTemvCQ==")}) ==
        "b169928659d15c482e1fedd6b01100fa");
  CHECK(db::couchRevHash(false, {}, "{}",
                         {att("photo.bin", "application/octet-stream", "md5-dXv4lVLOWbIzq0d5f+Vj6Q==")}) ==
        "fcac58a55b988464b0fff4517d4f685a");
  // Two attachments: the order matters (CouchDB prepends while folding, so the last comes first).
  auto a = att("a.bin", "application/octet-stream", db::md5Digest("hello"));
  auto b = att("b.bin", "application/octet-stream", db::md5Digest("world"));
  CHECK(db::couchRevHash(false, {}, R"({"k":1})", {a, b}) == "99630dd431fad52301264a111162ceb6");
  CHECK(db::couchRevHash(false, {}, R"({"k":1})", {b, a}) != "99630dd431fad52301264a111162ceb6");
}

TEST_CASE("RevHash: a repeated key keeps its last value at its last position, as jiffy's dedupe_keys",
          "[db][revhash]") {
  CHECK(firstRev(R"({"bar":1,"foo":2,"baz":3,"foo":4})") == firstRev(R"({"bar":1,"baz":3,"foo":4})"));
  CHECK(firstRev(R"({"bar":1,"foo":2,"baz":3,"foo":4})") != firstRev(R"({"bar":1,"foo":4,"baz":3})"));
}

TEST_CASE("RevHash: numbers keep Erlang's forms (small, 32-bit, bignum, float)", "[db][revhash]") {
  // Expected from an independent encoder of the same rules (the one that matched every id above).
  CHECK(firstRev(R"({"i":-1,"j":256,"k":-2147483648,"l":2147483648,"m":-9223372036854775808,)"
                 R"("n":18446744073709551615,"f":1.0,"g":1000.0,"h":0.1,"t":true,"u":null,"s":"é\u0000"})") ==
        "8d9e6490fd373687d688820d863c972e");
  // 1.0 is a float and 1 an integer, in jiffy as here: not the same revision.
  CHECK(firstRev(R"({"v":1.0})") != firstRev(R"({"v":1})"));
  CHECK(firstRev(R"({"v":1e3})") == firstRev(R"({"v":1000.0})"));
  // jiffy reads -0 as the integer 0 and -0.0 as the float -0.0; so does simdjson.
  CHECK(firstRev(R"({"a":-0})") == "dcf485487e051d7f9b7c62bd4265a425");
  CHECK(firstRev(R"({"a":0})") == "dcf485487e051d7f9b7c62bd4265a425");
  CHECK(firstRev(R"({"a":-0.0})") == "79e62e17829588afea5328e32c7e34af");
}

TEST_CASE("RevHash: a database gives the same edits the ids CouchDB gave them", "[db][revhash]") {
  TempDir dir;
  auto db = openDb(dir);
  auto r1 = db->put(R"({"_id":"plain1","v":1})");
  REQUIRE(r1);
  CHECK(r1->rev == "1-7a7e4b29f3af401e69b6f86e4c26b727");
  auto r2 = db->put(R"({"_id":"plain1","_rev":")" + r1->rev + R"(","v":11})");
  REQUIRE(r2);
  CHECK(r2->rev == "2-199d6f4cb0ab51aafccacee16486d6b3");
  auto r3 = db->put(R"({"_id":"plain1","_rev":")" + r2->rev + R"(","v":111})");
  REQUIRE(r3);
  CHECK(r3->rev == "3-1055458ef95bb70b2b50a0a5985fd44c");

  // plain2's first body is not in the transcript: its revision arrives replicated, the delete is ours.
  PutOptions replicated;
  replicated.newEdits = false;
  REQUIRE(db->put(R"({"_id":"plain2","_rev":"1-b57d785aed6a5449083e87f91cb83590","v":2})", replicated));
  auto del = db->remove("plain2", "1-b57d785aed6a5449083e87f91cb83590");
  REQUIRE(del);
  CHECK(del->rev == "2-742dc27a91278157c747752e62a8f805");

  auto ddoc = db->put(kDesignDoc, PutOptions{true, "_design/app"});
  REQUIRE(ddoc);
  CHECK(ddoc->rev == "1-84cac595745540b1a62e849d229a22ba");
}

TEST_CASE("RevHash: inline attachments give the id their name, type and digest call for", "[db][revhash]") {
  TempDir dir;
  auto db = openDb(dir);
  // "aGVsbG8=" is "hello", "d29ybGQ=" is "world"; octet-stream is a type CouchDB stores uncompressed.
  auto r = db->put(R"({"_id":"x","k":1,"_attachments":{)"
                   R"("a.bin":{"content_type":"application/octet-stream","data":"aGVsbG8="},)"
                   R"("b.bin":{"content_type":"application/octet-stream","data":"d29ybGQ="}}})");
  REQUIRE(r);
  CHECK(r->rev == "1-99630dd431fad52301264a111162ceb6");
}
