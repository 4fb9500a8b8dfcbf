// Which revision strings Settee parses, and which CouchDB's couch_doc:parse_rev takes.
#include <catch2/catch.hpp>

#include "db/rev_id.h"

using settee::db::RevId;

TEST_CASE("RevId: parses N-hash, an empty hash included, and refuses what CouchDB refuses", "[db][revid]") {
  auto r = RevId::parse("12-abcDEF09");
  REQUIRE(r);
  CHECK(r->gen == 12);
  CHECK(r->hash == "abcDEF09");
  auto bare = RevId::parse("1-");
  REQUIRE(bare);
  CHECK(bare->hash.empty());
  CHECK(bare->str() == "1-");
  for (const char* bad : {"", "abc", "-abc", "x-1", "0-abc", "1-a b", "1-a_b", "+1-abc",
                          "1-0123456789abcdef0123456789abcdeg", "99999999999999999999-a"}) {
    INFO(bad);
    CHECK(!RevId::parse(bad));
  }
}

TEST_CASE("RevId: CouchDB's syntax is digits, a dash, then anything (hex when 32 long)", "[db][revid]") {
  for (const char* ok :
       {"1-", "0-abc", "1-a_b", "1-a-b", "3-not a hash", "1-0123456789ABCDEF0123456789abcdef"})
    CHECK(RevId::couchSyntax(ok));
  for (const char* bad : {"", "abc", "-abc", "x-1", "1x-abc", "1-0123456789abcdef0123456789abcdeg"})
    CHECK(!RevId::couchSyntax(bad));
}
