// rev_tree.h — a document's revision tree, CouchDB's key tree, in memory.
//
// Pure: no SQLite, JSON or HTTP here, so every rule can be tested exhaustively on its own.
// The tree is a forest of nodes kept in a flat vector sorted by generation, so a parent always comes
// before its children and a node's index is stable until the next merge, graft or stem. A node knows
// its generation, hash, parent index (-1 for a root), whether it is a deletion, and whether its body
// is still stored (false after compaction or for ancestors known only by id).
//
// Rules (CouchDB "Replication and conflict model", couch_key_tree):
// - merge(): an incoming path {start, ids newest first} extends the branch holding its newest known
//   revision; with none in common it becomes a new root (a conflict). Nothing new when its leaf exists.
// - winner(): leaves sorted by (not deleted, generation, hash), highest first.
// - stem(limit): each root-to-leaf path keeps its newest `limit` revisions; cut nodes vanish and their
//   children become roots at their true generation.
// Not thread-safe; a value type (copyable).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace settee::db {

struct RevNode {
  uint64_t gen = 0;
  std::string hash;
  int32_t parent = -1;
  bool deleted = false;
  bool hasBody = false;
  std::string rev() const { return std::to_string(gen) + "-" + hash; }
};

class RevTree {
 public:
  // A tree from nodes in stored order (the codec's way back): nullopt unless they keep the invariant
  // every operation relies on — sorted by generation, each parent before its child and one
  // generation older.
  static std::optional<RevTree> fromNodes(std::vector<RevNode> nodes);

  const std::vector<RevNode>& nodes() const { return nodes_; }
  bool empty() const { return nodes_.empty(); }
  size_t size() const { return nodes_.size(); }
  const RevNode& operator[](int i) const { return nodes_[static_cast<size_t>(i)]; }

  // Index of the node (gen, hash), or -1.
  int find(uint64_t gen, std::string_view hash) const;
  int find(std::string_view rev) const;
  bool isLeaf(int index) const;
  // Leaf indices, winner first, then the other leaves in descending (not deleted, gen, hash) order.
  std::vector<int> leavesByPriority() const;
  // The winning leaf, or -1 for an empty tree.
  int winner() const;
  // True when every leaf is a deletion (and the tree is not empty).
  bool deleted() const;

  // Adds a child of `parent` (-1: a root at generation 1) for an interactive edit; returns its index.
  int addChild(int parent, std::string hash, bool deleted);

  struct MergeResult {
    int leaf = -1;       // the node of the path's newest revision
    bool added = false;  // something new entered the tree
  };
  // Merges a revision path: ids newest first, ids[0] at generation `start`. Requires
  // start >= ids.size() and ids non-empty. `deleted` applies to the newest revision when it is new.
  MergeResult merge(uint64_t start, const std::vector<std::string>& ids, bool deleted);

  // Node indices from `index` up to its root, newest first.
  std::vector<int> ancestry(int index) const;
  // Leaves that descend from `index` (itself when it is a leaf).
  std::vector<int> leavesUnder(int index) const;

  // Removes the leaf `index` and the ancestors only it descended from (CouchDB's purge); returns the
  // revisions removed. Does nothing for a non-leaf.
  std::vector<std::string> purgeLeaf(int index);

  // Cuts every path to its newest `limit` revisions; returns the revisions removed.
  std::vector<std::string> stem(uint32_t limit);

  // Records that the body of revision `index` is now stored (a write, or a replicated body arriving
  // for a revision known only by id).
  void markBodyStored(int index);
  // Compaction: every revision that is not a leaf forgets its body; returns those that had one, whose
  // stored bodies the caller deletes.
  std::vector<std::string> forgetInnerBodies();

 private:
  // Re-sorts by generation and remaps parents after nodes were grafted above a root.
  void reorder();
  std::vector<RevNode> nodes_;
};

}  // namespace settee::db
