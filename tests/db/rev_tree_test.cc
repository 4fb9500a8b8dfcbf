// The revision tree's rules, tested without storage.
#include <catch2/catch.hpp>

#include <algorithm>

#include "db/rev_tree.h"
#include "db/rev_tree_codec.h"

using settee::db::RevNode;
using settee::db::RevTree;

namespace {
std::string winnerRev(const RevTree& t) { return t[t.winner()].rev(); }
std::vector<std::string> leafRevs(const RevTree& t) {
  std::vector<std::string> out;
  for (int i : t.leavesByPriority()) out.push_back(t[i].rev());
  return out;
}
}  // namespace

TEST_CASE("RevTree: a linear history has one leaf, the newest", "[db][revtree]") {
  RevTree t;
  int a = t.addChild(-1, "a", false);
  int b = t.addChild(a, "b", false);
  t.addChild(b, "c", false);
  CHECK(leafRevs(t) == std::vector<std::string>{"3-c"});
  CHECK(!t.deleted());
}

TEST_CASE("RevTree: divergent branches merged become sibling leaves, higher hash wins", "[db][revtree]") {
  RevTree t;
  t.merge(2, {"b", "a"}, false);
  auto r = t.merge(2, {"x", "a"}, false);
  CHECK(r.added);
  CHECK(leafRevs(t) == std::vector<std::string>{"2-x", "2-b"});
  CHECK(t.size() == 3);  // the shared ancestor is stored once
}

TEST_CASE("RevTree: a longer branch wins over a higher hash", "[db][revtree]") {
  RevTree t;
  t.merge(3, {"a3", "b", "a"}, false);
  t.merge(2, {"zz", "a"}, false);
  CHECK(winnerRev(t) == "3-a3");
}

TEST_CASE("RevTree: a deleted leaf loses to a live one of lower generation", "[db][revtree]") {
  RevTree t;
  t.merge(3, {"del", "b", "a"}, true);
  t.merge(2, {"live", "a"}, false);
  CHECK(winnerRev(t) == "2-live");
  CHECK(!t.deleted());
}

TEST_CASE("RevTree: the document is deleted only when every leaf is", "[db][revtree]") {
  RevTree t;
  t.merge(2, {"d1", "a"}, true);
  t.merge(2, {"d2", "a"}, true);
  CHECK(t.deleted());
  CHECK(winnerRev(t) == "2-d2");
}

TEST_CASE("RevTree: merging a known path adds nothing", "[db][revtree]") {
  RevTree t;
  t.merge(3, {"c", "b", "a"}, false);
  auto r = t.merge(3, {"c", "b", "a"}, false);
  CHECK(!r.added);
  CHECK(t.size() == 3);
  auto older = t.merge(2, {"b", "a"}, false);
  CHECK(!older.added);
  CHECK(t[older.leaf].rev() == "2-b");
}

TEST_CASE("RevTree: paths arriving out of order end in the same tree", "[db][revtree]") {
  RevTree one, two;
  one.merge(1, {"a"}, false);
  one.merge(3, {"c", "b", "a"}, false);
  two.merge(3, {"c", "b", "a"}, false);
  two.merge(1, {"a"}, false);
  std::string x, y;
  settee::db::encodeRevTree(one, x);
  settee::db::encodeRevTree(two, y);
  CHECK(x == y);
  CHECK(leafRevs(one) == std::vector<std::string>{"3-c"});
}

TEST_CASE("RevTree: paths that share only an ancestor branch at it", "[db][revtree]") {
  RevTree t;
  t.merge(4, {"d", "c", "b", "a"}, false);
  t.merge(4, {"z", "y", "b", "a"}, false);
  CHECK(t.size() == 6);
  CHECK(leafRevs(t) == std::vector<std::string>{"4-z", "4-d"});
  int z = t.find("4-z");
  auto path = t.ancestry(z);
  REQUIRE(path.size() == 4);
  CHECK(t[path[3]].rev() == "1-a");
}

TEST_CASE("RevTree: a path with nothing in common becomes a new root", "[db][revtree]") {
  RevTree t;
  t.merge(2, {"b", "a"}, false);
  t.merge(2, {"q", "p"}, false);
  CHECK(t.leavesByPriority().size() == 2);
  CHECK(t[t.find("1-p")].parent == -1);
}

TEST_CASE("RevTree: stemming keeps the newest revs_limit revisions of each branch", "[db][revtree]") {
  RevTree t;
  t.merge(5, {"e", "d", "c", "b", "a"}, false);
  t.merge(3, {"x", "b", "a"}, false);
  auto removed = t.stem(3);
  // Branch e keeps c,d,e; branch x keeps a,b,x; b and a survive because x still needs them.
  CHECK(removed.empty());
  removed = t.stem(2);
  CHECK(t.find("5-e") >= 0);
  CHECK(t.find("4-d") >= 0);
  CHECK(t.find("3-c") < 0);
  CHECK(t.find("3-x") >= 0);
  CHECK(t.find("2-b") >= 0);
  CHECK(t.find("1-a") < 0);
  CHECK(removed.size() == 2);
  // 4-d is now a root at its true generation.
  CHECK(t[t.find("4-d")].parent == -1);
  CHECK(t[t.find("4-d")].gen == 4);
}

TEST_CASE("RevTree: a stemmed tree extended by a longer path is grafted, not duplicated", "[db][revtree]") {
  RevTree t;
  t.merge(5, {"e", "d", "c", "b", "a"}, false);
  t.stem(2);  // keeps 4-d, 5-e
  auto r = t.merge(6, {"f", "e", "d", "c"}, false);
  CHECK(r.added);
  CHECK(t.leavesByPriority().size() == 1);
  CHECK(winnerRev(t) == "6-f");
  CHECK(t.ancestry(t.find("6-f")).size() == 4);
}

TEST_CASE("RevTree: leavesUnder finds the leaves descending from a revision", "[db][revtree]") {
  RevTree t;
  t.merge(3, {"c", "b", "a"}, false);
  t.merge(3, {"y", "b", "a"}, false);
  auto leaves = t.leavesUnder(t.find("1-a"));
  CHECK(leaves.size() == 2);
  CHECK(t.leavesUnder(t.find("3-c")) == std::vector<int>{t.find("3-c")});
}

TEST_CASE("RevTree codec: round trip keeps every node, flag and unpackable hash", "[db][revtree]") {
  RevTree t;
  t.merge(2, {"0123456789abcdef0123456789abcdef", "short"}, true);
  t.merge(2, {"ABC", "short"}, false);
  t.markBodyStored(0);
  std::string blob;
  settee::db::encodeRevTree(t, blob);
  auto back = settee::db::decodeRevTree(blob);
  REQUIRE(back);
  REQUIRE(back->size() == t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    CHECK(back->nodes()[i].rev() == t.nodes()[i].rev());
    CHECK(back->nodes()[i].parent == t.nodes()[i].parent);
    CHECK(back->nodes()[i].deleted == t.nodes()[i].deleted);
    CHECK(back->nodes()[i].hasBody == t.nodes()[i].hasBody);
  }
  CHECK(!settee::db::decodeRevTree(blob.substr(0, blob.size() - 1)));
  CHECK(!settee::db::decodeRevTree(""));
}

TEST_CASE("RevTree: a body stored for a revision known only by id is recorded on that node alone", "[db][revtree]") {
  RevTree t;
  auto r = t.merge(3, {"c", "b", "a"}, false);
  int b = t.find("2-b");
  CHECK(!t[b].hasBody);
  t.markBodyStored(b);
  CHECK(t[b].hasBody);
  CHECK(!t[r.leaf].hasBody);
  CHECK(!t[t.find("1-a")].hasBody);
}

TEST_CASE("RevTree: compaction forgets the bodies of inner revisions and keeps every leaf's", "[db][revtree]") {
  RevTree t;
  int a = t.addChild(-1, "a", false);
  int b = t.addChild(a, "b", false);
  t.addChild(b, "c", false);
  t.merge(2, {"x", "a"}, false);  // a conflict: 2-x is a leaf without a body
  t.markBodyStored(t.find("2-x"));
  auto forgotten = t.forgetInnerBodies();
  std::sort(forgotten.begin(), forgotten.end());
  CHECK(forgotten == std::vector<std::string>{"1-a", "2-b"});
  CHECK(!t[t.find("1-a")].hasBody);
  CHECK(!t[t.find("2-b")].hasBody);
  CHECK(t[t.find("3-c")].hasBody);
  CHECK(t[t.find("2-x")].hasBody);
  CHECK(t.forgetInnerBodies().empty());  // nothing left to forget
  // Sorted order survives: every node is still found where its generation puts it.
  for (const char* rev : {"1-a", "2-b", "2-x", "3-c"}) CHECK(t.find(rev) >= 0);
}

TEST_CASE("RevTree: fromNodes refuses nodes that break the sorted-by-generation invariant", "[db][revtree]") {
  auto node = [](uint64_t gen, const char* hash, int parent) { return RevNode{gen, hash, parent, false, true}; };
  CHECK(RevTree::fromNodes({node(1, "a", -1), node(2, "b", 0), node(2, "x", 0)}));
  CHECK(RevTree::fromNodes({}));
  CHECK(!RevTree::fromNodes({node(2, "b", -1), node(1, "a", -1)}));  // out of generation order
  CHECK(!RevTree::fromNodes({node(1, "a", 1), node(2, "b", -1)}));   // a parent after its child
  CHECK(!RevTree::fromNodes({node(1, "a", 0)}));                    // its own parent
  CHECK(!RevTree::fromNodes({node(1, "a", -1), node(3, "c", 0)}));  // a generation skipped
  CHECK(!RevTree::fromNodes({node(1, "a", -2)}));
}

TEST_CASE("RevTree codec: a blob whose nodes break the tree's order is refused as corrupt", "[db][revtree]") {
  RevTree t;
  t.merge(2, {"b", "a"}, false);
  std::string blob;
  settee::db::encodeRevTree(t, blob);
  // Byte layout: version, count, then per node gen, parent+1, flags, hash length, hash. Make the
  // second node's generation 5 (its parent is generation 1).
  std::string bad = blob;
  size_t second = 1 + 1 + (1 + 1 + 1 + 1 + 1);
  REQUIRE(bad[second] == 2);
  bad[second] = 5;
  CHECK(settee::db::decodeRevTree(blob));
  CHECK(!settee::db::decodeRevTree(bad));
}
