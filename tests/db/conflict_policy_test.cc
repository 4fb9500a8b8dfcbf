// The conflict policies as pure decisions (db/conflict_policy.h): every rule on values alone, and the
// text forms of ConflictPolicy.
#include "db/conflict_policy.h"

#include <catch2/catch.hpp>

#include "test_util.h"

using namespace settee;
using settee::db::decide;
using settee::test::Json;

namespace {

// A conflict of leaves given as (rev, body members), the first being CouchDB's winner.
ConflictInput conflictOf(std::vector<std::pair<std::string, std::string>> leaves,
                         std::optional<std::string> ancestor = std::nullopt) {
  ConflictInput in;
  in.id = "doc";
  for (auto& [rev, members] : leaves) {
    std::string sep = members.empty() ? "" : ",";
    in.leaves.push_back({rev, R"({"_id":"doc","_rev":")" + rev + "\"" + sep + members + "}"});
  }
  if (ancestor) {
    in.ancestorRev = "1-anc";
    std::string sep = ancestor->empty() ? "" : ",";
    in.ancestorJson = R"({"_id":"doc","_rev":"1-anc")" + sep + *ancestor + "}";
  }
  return in;
}

ConflictDecision decided(const ConflictPolicy& policy, const ConflictInput& in) {
  auto d = decide(policy, in);
  REQUIRE(d);
  return *d;
}

std::string chosen(const ConflictPolicy& policy, const ConflictInput& in) {
  auto d = decided(policy, in);
  REQUIRE_FALSE(d.keep);
  REQUIRE_FALSE(d.mergedJson);
  return d.winnerRev;
}

std::string mergedBody(const ConflictPolicy& policy, const ConflictInput& in) {
  auto d = decided(policy, in);
  REQUIRE_FALSE(d.keep);
  REQUIRE(d.mergedJson);
  CHECK(d.winnerRev == in.leaves.front().rev);  // written on CouchDB's winner
  return *d.mergedJson;
}

}  // namespace

TEST_CASE(
    "ConflictPolicy: parse takes keep, lww:FIELD, merge and merge:lww:FIELD, and describe gives them back",
    "[db][conflict]") {
  for (std::string text : {"keep", "lww:updated_at", "merge", "merge:lww:ts"}) {
    auto p = ConflictPolicy::parse(text);
    REQUIRE(p);
    CHECK(p->describe() == text);
  }
  CHECK(ConflictPolicy::parse("lww:updated_at")->kind == ConflictPolicy::Kind::LastWriteWins);
  CHECK(ConflictPolicy::parse("lww:updated_at")->field == "updated_at");
  auto m = ConflictPolicy::parse("merge:lww:ts");
  CHECK(m->kind == ConflictPolicy::Kind::Merge);
  CHECK(m->bothChanged == ConflictPolicy::BothChanged::LastWriteWins);
  CHECK(ConflictPolicy::parse("merge")->bothChanged == ConflictPolicy::BothChanged::Keep);
  CHECK(ConflictPolicy::custom([](const ConflictInput&) {
          return ConflictDecision::keepConflict();
        }).describe() == "custom");
}

TEST_CASE("ConflictPolicy: anything else is bad_request naming the text and the reason", "[db][conflict]") {
  for (std::string text : {"", "lww", "lww:", "LWW:x", "merge:", "merge:lww:", "merge:lww", "newest",
                           "custom", "lww:_rev", "keep "}) {
    auto p = ConflictPolicy::parse(text);
    INFO(text);
    REQUIRE_FALSE(p);
    CHECK(p.status().code() == ErrorCode::BadRequest);
    CHECK(p.status().reason().find("\"" + text + "\"") != std::string::npos);
  }
  CHECK(ConflictPolicy::parse("lww:").status().reason().find("empty") != std::string::npos);
}

TEST_CASE("decide: keep, and any policy on fewer than two leaves, writes nothing", "[db][conflict]") {
  auto in = conflictOf({{"2-b", R"("v":1)"}, {"2-a", R"("v":2)"}});
  CHECK(decided(ConflictPolicy::keep(), in).keep);
  auto single = conflictOf({{"2-b", R"("v":1)"}});
  CHECK(decided(ConflictPolicy::lastWriteWins("v"), single).keep);
  CHECK(decided(ConflictPolicy::merge(), single).keep);
}

TEST_CASE("decide: last-write-wins picks the leaf with the greatest field, numbers as numbers",
          "[db][conflict]") {
  auto lww = ConflictPolicy::lastWriteWins("t");
  // 10 > 9 as numbers (as text "9" > "10").
  CHECK(chosen(lww, conflictOf({{"2-b", R"("t":9)"}, {"2-a", R"("t":10)"}})) == "2-a");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("t":10)"}, {"2-a", R"("t":9.5)"}})) == "2-b");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("t":-1)"}, {"2-a", R"("t":18446744073709551615)"}})) == "2-a");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("t":1.5)"}, {"2-a", R"("t":2)"}})) == "2-a");
}

TEST_CASE("decide: last-write-wins compares strings as strings, so ISO 8601 times order as times",
          "[db][conflict]") {
  auto lww = ConflictPolicy::lastWriteWins("updated_at");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("updated_at":"2026-01-09T10:00:00Z")"},
                                {"2-a", R"("updated_at":"2026-01-10T09:00:00Z")"}})) == "2-a");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("updated_at":"2026-12-01T00:00:00.500Z")"},
                                {"2-a", R"("updated_at":"2026-12-01T00:00:00.499Z")"}})) == "2-b");
}

TEST_CASE("decide: last-write-wins ranks a number over a string over a missing or unusable field",
          "[db][conflict]") {
  auto lww = ConflictPolicy::lastWriteWins("t");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("t":"9999")"}, {"2-a", R"("t":1)"}})) == "2-a");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("x":1)"}, {"2-a", R"("t":"")"}})) == "2-a");
  // null, booleans, objects and arrays count as missing: the tie goes to CouchDB's winner.
  for (std::string bad : {"null", "true", "{\"a\":9}", "[9]"}) {
    INFO(bad);
    CHECK(chosen(lww, conflictOf({{"2-b", R"("t":)" + bad}, {"2-a", R"("t":)" + bad}})) == "2-b");
    CHECK(chosen(lww, conflictOf({{"2-b", R"("t":)" + bad}, {"2-a", R"("t":"a")"}})) == "2-a");
  }
}

TEST_CASE("decide: last-write-wins breaks ties and missing fields by CouchDB's order", "[db][conflict]") {
  auto lww = ConflictPolicy::lastWriteWins("t");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("t":5)"}, {"2-a", R"("t":5)"}})) == "2-b");
  CHECK(chosen(lww, conflictOf({{"2-b", R"("t":5)"}, {"2-a", R"("t":5.0)"}})) == "2-b");  // 5 == 5.0
  CHECK(chosen(lww, conflictOf({{"2-b", R"("x":1)"}, {"2-a", R"("y":1)"}})) == "2-b");
  // Three leaves: the greatest wins wherever it stands; among equals the earliest.
  CHECK(chosen(lww, conflictOf({{"3-c", R"("t":1)"}, {"2-b", R"("t":7)"}, {"2-a", R"("t":7)"}})) == "2-b");
  CHECK(chosen(lww, conflictOf({{"3-c", R"("t":1)"}, {"2-b", R"("t":7)"}, {"2-a", R"("t":8)"}})) == "2-a");
}

TEST_CASE("decide: merge takes a member changed on one side only, from either side", "[db][conflict]") {
  auto in = conflictOf({{"3-w", R"("a":1,"b":20,"c":3)"}, {"3-l", R"("a":10,"b":2,"c":3)"}},
                       R"("a":1,"b":2,"c":3)");
  Json merged(mergedBody(ConflictPolicy::merge(), in));
  CHECK(int64_t(merged["a"]) == 10);
  CHECK(int64_t(merged["b"]) == 20);
  CHECK(int64_t(merged["c"]) == 3);
  CHECK_FALSE(merged.has("_id"));
  CHECK_FALSE(merged.has("_rev"));
}

TEST_CASE("decide: merge takes additions and deletions made on one side", "[db][conflict]") {
  auto in = conflictOf({{"3-w", R"("a":1,"new":true)"}, {"3-l", R"("b":2)"}}, R"("a":1,"b":2,"gone":0)");
  // The winner added "new" and deleted "b"; the loser deleted "a"; both deleted "gone".
  CHECK(mergedBody(ConflictPolicy::merge(), in) == R"({"new":true})");
}

TEST_CASE("decide: merge writes members in the winner's order, then the others' in leaf order",
          "[db][conflict]") {
  auto in = conflictOf({{"3-w", R"("z":1,"a":1)"}, {"3-l", R"("m":2,"z":1,"a":1,"b":3)"}}, R"("z":1,"a":1)");
  CHECK(mergedBody(ConflictPolicy::merge(), in) == R"({"z":1,"a":1,"m":2,"b":3})");
}

TEST_CASE("decide: merge treats the same value set on both sides as no conflict, comparing whole values",
          "[db][conflict]") {
  auto in = conflictOf(
      {{"3-w", R"("o":{"x":1,"y":[1,2]},"n":2,"k":0)"}, {"3-l", R"("o":{"y":[1,2],"x":1.0},"n":2,"k":1)"}},
      R"("o":{"x":0},"n":1,"k":0)");
  CHECK(mergedBody(ConflictPolicy::merge(), in) == R"({"o":{"x":1,"y":[1,2]},"n":2,"k":1})");
  // A nested change on each side is one member changed on both sides: no deep merge.
  auto nested =
      conflictOf({{"3-w", R"("o":{"x":1,"y":0})"}, {"3-l", R"("o":{"x":0,"y":1})"}}, R"("o":{"x":0,"y":0})");
  CHECK(decided(ConflictPolicy::merge(), nested).keep);
}

TEST_CASE("decide: merge with a member changed on both sides keeps the conflict, or takes it by LWW",
          "[db][conflict]") {
  auto in = conflictOf({{"3-w", R"("v":"w","t":1,"only":1)"}, {"3-l", R"("v":"l","t":2,"only":0)"}},
                       R"("v":"a","t":0,"only":0)");
  CHECK(decided(ConflictPolicy::merge(), in).keep);
  auto byT = ConflictPolicy::merge(ConflictPolicy::BothChanged::LastWriteWins, "t");
  CHECK(mergedBody(byT, in) == R"({"v":"l","t":2,"only":1})");
  // The other way round, the winner's value stays; a tie goes to the winner.
  auto rev = conflictOf({{"3-w", R"("v":"w","t":3)"}, {"3-l", R"("v":"l","t":3)"}}, R"("v":"a","t":0)");
  CHECK(chosen(byT, rev) == "3-w");  // the merge is the winner's body: nothing new to write on it
  // A deletion on one side against a change on the other is changed on both sides.
  auto del = conflictOf({{"3-w", R"("t":1)"}, {"3-l", R"("v":"l","t":2)"}}, R"("v":"a","t":0)");
  CHECK(decided(ConflictPolicy::merge(), del).keep);
  CHECK(mergedBody(byT, del) == R"({"t":2,"v":"l"})");
}

TEST_CASE("decide: merge without the ancestor's body counts every differing member as changed on both sides",
          "[db][conflict]") {
  auto in = conflictOf({{"3-w", R"("same":1,"a":1,"t":1)"}, {"3-l", R"("same":1,"a":2,"t":2)"}});
  CHECK(decided(ConflictPolicy::merge(), in).keep);
  CHECK(mergedBody(ConflictPolicy::merge(ConflictPolicy::BothChanged::LastWriteWins, "t"), in) ==
        R"({"same":1,"a":2,"t":2})");
  // Leaves that agree everywhere merge to the winner's body.
  auto agree = conflictOf({{"3-w", R"("a":1)"}, {"3-l", R"("a":1)"}});
  CHECK(chosen(ConflictPolicy::merge(), agree) == "3-w");
}

TEST_CASE("decide: merge of three leaves takes each one-sided change and decides the rest by LWW",
          "[db][conflict]") {
  auto in = conflictOf({{"4-x", R"("a":1,"b":0,"c":0,"t":5)"},
                        {"3-y", R"("a":0,"b":2,"c":9,"t":7)"},
                        {"3-z", R"("a":0,"b":0,"c":8,"t":6)"}},
                       R"("a":0,"b":0,"c":0,"t":0)");
  CHECK(decided(ConflictPolicy::merge(), in).keep);  // c changed on y and z
  auto byT = ConflictPolicy::merge(ConflictPolicy::BothChanged::LastWriteWins, "t");
  CHECK(mergedBody(byT, in) == R"({"a":1,"b":2,"c":9,"t":7})");
  // The decision does not depend on the order of the losers.
  auto swapped = in;
  std::swap(swapped.leaves[1], swapped.leaves[2]);
  CHECK(mergedBody(byT, swapped) == R"({"a":1,"b":2,"c":9,"t":7})");
}

TEST_CASE("decide: merge keeps the winner's attachments and leaves metadata out", "[db][conflict]") {
  ConflictInput in;
  in.id = "doc";
  in.leaves = {
      {"3-w",
       R"({"_id":"doc","_rev":"3-w","_attachments":{"a.txt":{"content_type":"text/plain","digest":"md5-x","length":1,"revpos":2,"stub":true}},"v":1})"},
      {"3-l",
       R"({"_id":"doc","_rev":"3-l","_attachments":{"b.txt":{"content_type":"text/plain","digest":"md5-y","length":1,"revpos":3,"stub":true}},"w":1})"}};
  in.ancestorRev = "2-a";
  in.ancestorJson = R"({"_id":"doc","_rev":"2-a"})";
  Json merged(mergedBody(ConflictPolicy::merge(), in));
  CHECK(int64_t(merged["v"]) == 1);
  CHECK(int64_t(merged["w"]) == 1);
  CHECK(merged.has("_attachments"));
  CHECK_FALSE(merged["_attachments"]["a.txt"].error());
  CHECK(merged["_attachments"]["b.txt"].error());
}

TEST_CASE("decide: the same input gives the same bytes", "[db][conflict]") {
  auto in = conflictOf(
      {{"3-w", R"("s":"é\u00e9","n":1e300,"o":{"b":1,"a":[true,null]})"}, {"3-l", R"("x":-0.5)"}}, "");
  auto byT = ConflictPolicy::merge(ConflictPolicy::BothChanged::LastWriteWins, "t");
  std::string first = mergedBody(byT, in);
  for (int i = 0; i < 5; ++i) CHECK(mergedBody(byT, in) == first);
}

TEST_CASE("decide: a custom resolver decides; its exception keeps the conflict with an error",
          "[db][conflict]") {
  auto in = conflictOf({{"2-b", R"("v":1)"}, {"2-a", R"("v":2)"}}, R"("v":0)");
  ConflictInput seen;
  auto pickLoser = ConflictPolicy::custom([&](const ConflictInput& i) {
    seen = i;
    return ConflictDecision::choose(i.leaves.back().rev);
  });
  CHECK(chosen(pickLoser, in) == "2-a");
  CHECK(seen.leaves.size() == 2);
  CHECK(seen.ancestorJson == in.ancestorJson);
  auto merge =
      ConflictPolicy::custom([](const ConflictInput&) { return ConflictDecision::merged(R"({"v":3})"); });
  auto d = decided(merge, in);
  CHECK(d.winnerRev == "2-b");  // empty: CouchDB's winner
  CHECK(*d.mergedJson == R"({"v":3})");
  auto keep = ConflictPolicy::custom([](const ConflictInput&) { return ConflictDecision::keepConflict(); });
  CHECK(decided(keep, in).keep);
  auto throws = ConflictPolicy::custom(
      [](const ConflictInput&) -> ConflictDecision { throw std::runtime_error("boom"); });
  auto failed = decide(throws, in);
  REQUIRE_FALSE(failed);
  CHECK(failed.status().reason().find("boom") != std::string::npos);
  auto stranger =
      ConflictPolicy::custom([](const ConflictInput&) { return ConflictDecision::choose("9-zzz"); });
  auto bad = decide(stranger, in);
  REQUIRE_FALSE(bad);
  CHECK(bad.status().code() == ErrorCode::BadRequest);
}
