#include "db/rev_tree.h"

#include <algorithm>
#include <numeric>

#include "db/rev_id.h"

namespace settee::db {

std::optional<RevTree> RevTree::fromNodes(std::vector<RevNode> nodes) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    const RevNode& n = nodes[i];
    if (i > 0 && nodes[i - 1].gen > n.gen) return std::nullopt;
    if (n.parent < -1 || n.parent >= static_cast<int64_t>(i)) return std::nullopt;
    if (n.parent >= 0 && nodes[static_cast<size_t>(n.parent)].gen + 1 != n.gen) return std::nullopt;
  }
  RevTree tree;
  tree.nodes_ = std::move(nodes);
  return tree;
}

int RevTree::find(uint64_t gen, std::string_view hash) const {
  // Nodes are sorted by generation: jump to the first node of that generation.
  auto it = std::lower_bound(nodes_.begin(), nodes_.end(), gen,
                             [](const RevNode& n, uint64_t g) { return n.gen < g; });
  for (; it != nodes_.end() && it->gen == gen; ++it) {
    if (it->hash == hash) return static_cast<int>(it - nodes_.begin());
  }
  return -1;
}

int RevTree::find(std::string_view rev) const {
  auto parsed = RevId::parse(rev);
  return parsed ? find(parsed->gen, parsed->hash) : -1;
}

bool RevTree::isLeaf(int index) const {
  for (size_t i = static_cast<size_t>(index) + 1; i < nodes_.size(); ++i) {
    if (nodes_[i].parent == index) return false;
  }
  return true;
}

std::vector<int> RevTree::leavesByPriority() const {
  std::vector<bool> hasChild(nodes_.size(), false);
  for (const auto& n : nodes_) {
    if (n.parent >= 0) hasChild[static_cast<size_t>(n.parent)] = true;
  }
  std::vector<int> leaves;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!hasChild[i]) leaves.push_back(static_cast<int>(i));
  }
  std::sort(leaves.begin(), leaves.end(), [&](int a, int b) {
    const RevNode& x = nodes_[static_cast<size_t>(a)];
    const RevNode& y = nodes_[static_cast<size_t>(b)];
    if (x.deleted != y.deleted) return !x.deleted;  // live first
    return revLess(y.gen, y.hash, x.gen, x.hash);   // then higher (gen, hash) first
  });
  return leaves;
}

int RevTree::winner() const {
  auto leaves = leavesByPriority();
  return leaves.empty() ? -1 : leaves.front();
}

bool RevTree::deleted() const {
  int w = winner();
  return w >= 0 && nodes_[static_cast<size_t>(w)].deleted;
}

int RevTree::addChild(int parent, std::string hash, bool deleted) {
  RevNode node;
  node.gen = parent < 0 ? 1 : nodes_[static_cast<size_t>(parent)].gen + 1;
  node.hash = std::move(hash);
  node.parent = parent;
  node.deleted = deleted;
  node.hasBody = true;
  // Keep the vector sorted by generation: insert after the last node of a generation <= node.gen.
  auto pos = std::upper_bound(nodes_.begin(), nodes_.end(), node.gen,
                              [](uint64_t g, const RevNode& n) { return g < n.gen; });
  size_t at = static_cast<size_t>(pos - nodes_.begin());
  nodes_.insert(pos, std::move(node));
  for (size_t i = at + 1; i < nodes_.size(); ++i) {
    if (nodes_[i].parent >= static_cast<int>(at)) nodes_[i].parent++;
  }
  return static_cast<int>(at);
}

RevTree::MergeResult RevTree::merge(uint64_t start, const std::vector<std::string>& ids, bool deleted) {
  const size_t n = ids.size();
  // The newest revision of the path the tree already knows.
  size_t known = n;
  int anchor = -1;
  for (size_t i = 0; i < n; ++i) {
    anchor = find(start - i, ids[i]);
    if (anchor >= 0) {
      known = i;
      break;
    }
  }
  if (known == 0) return {anchor, false};

  if (known < n) {
    // Walk up the anchor's branch along the path. When the branch's root is reached while the path
    // still has older revisions, the tree was stemmed below them: put them back above the root, as
    // CouchDB's merge does, so the path stays whole.
    int top = anchor;
    size_t j = known;
    while (nodes_[static_cast<size_t>(top)].parent >= 0 && j + 1 < n &&
           nodes_[static_cast<size_t>(nodes_[static_cast<size_t>(top)].parent)].hash == ids[j + 1]) {
      top = nodes_[static_cast<size_t>(top)].parent;
      ++j;
    }
    if (nodes_[static_cast<size_t>(top)].parent < 0 && j + 1 < n) {
      int above = -1;
      for (size_t i = n - 1; i > j; --i) {
        nodes_.push_back(RevNode{start - i, ids[i], above, false, false});
        above = static_cast<int>(nodes_.size()) - 1;
      }
      nodes_[static_cast<size_t>(top)].parent = above;
      std::string anchorHash = nodes_[static_cast<size_t>(anchor)].hash;
      reorder();
      anchor = find(start - known, anchorHash);
    }
  }

  // Chain the newer revisions under the anchor, or start a new root with the whole path.
  int parent = anchor;
  size_t first = known < n ? known : n;  // index of the first id still to insert is first-1
  for (size_t i = first; i-- > 0;) {
    RevNode node{start - i, ids[i], parent, i == 0 && deleted, false};
    nodes_.push_back(std::move(node));
    parent = static_cast<int>(nodes_.size()) - 1;
  }
  std::string leafHash = ids[0];
  reorder();
  return {find(start, leafHash), true};
}

std::vector<int> RevTree::ancestry(int index) const {
  std::vector<int> out;
  for (int i = index; i >= 0; i = nodes_[static_cast<size_t>(i)].parent) out.push_back(i);
  return out;
}

std::vector<int> RevTree::leavesUnder(int index) const {
  std::vector<bool> under(nodes_.size(), false);
  std::vector<bool> hasChild(nodes_.size(), false);
  under[static_cast<size_t>(index)] = true;
  for (size_t i = static_cast<size_t>(index) + 1; i < nodes_.size(); ++i) {
    int p = nodes_[i].parent;
    if (p >= 0) {
      hasChild[static_cast<size_t>(p)] = true;
      if (under[static_cast<size_t>(p)]) under[i] = true;
    }
  }
  std::vector<int> out;
  for (size_t i = static_cast<size_t>(index); i < nodes_.size(); ++i) {
    if (under[i] && !hasChild[i]) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<std::string> RevTree::stem(uint32_t limit) {
  if (limit == 0) limit = 1;
  // Distance from each node to its nearest descendant leaf, computed children-first.
  const size_t n = nodes_.size();
  std::vector<uint64_t> toLeaf(n, UINT64_MAX);
  std::vector<bool> hasChild(n, false);
  for (const auto& node : nodes_) {
    if (node.parent >= 0) hasChild[static_cast<size_t>(node.parent)] = true;
  }
  for (size_t i = n; i-- > 0;) {
    if (!hasChild[i]) toLeaf[i] = 0;
    int p = nodes_[i].parent;
    if (p >= 0 && toLeaf[i] != UINT64_MAX) {
      toLeaf[static_cast<size_t>(p)] = std::min(toLeaf[static_cast<size_t>(p)], toLeaf[i] + 1);
    }
  }
  std::vector<std::string> removed;
  std::vector<int> remap(n, -1);
  std::vector<RevNode> kept;
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (toLeaf[i] >= limit) {
      removed.push_back(nodes_[i].rev());
      continue;
    }
    RevNode node = std::move(nodes_[i]);
    node.parent = node.parent >= 0 ? remap[static_cast<size_t>(node.parent)] : -1;
    remap[i] = static_cast<int>(kept.size());
    kept.push_back(std::move(node));
  }
  nodes_ = std::move(kept);
  return removed;
}

std::vector<std::string> RevTree::purgeLeaf(int index) {
  std::vector<std::string> removed;
  if (index < 0 || !isLeaf(index)) return removed;
  const size_t n = nodes_.size();
  std::vector<int> children(n, 0);
  for (const auto& node : nodes_) {
    if (node.parent >= 0) children[static_cast<size_t>(node.parent)]++;
  }
  std::vector<bool> gone(n, false);
  for (int i = index; i >= 0;) {
    gone[static_cast<size_t>(i)] = true;
    removed.push_back(nodes_[static_cast<size_t>(i)].rev());
    int p = nodes_[static_cast<size_t>(i)].parent;
    if (p < 0 || --children[static_cast<size_t>(p)] > 0) break;
    i = p;
  }
  std::vector<int> remap(n, -1);
  std::vector<RevNode> kept;
  for (size_t i = 0; i < n; ++i) {
    if (gone[i]) continue;
    RevNode node = std::move(nodes_[i]);
    node.parent = node.parent >= 0 ? remap[static_cast<size_t>(node.parent)] : -1;
    remap[i] = static_cast<int>(kept.size());
    kept.push_back(std::move(node));
  }
  nodes_ = std::move(kept);
  return removed;
}

void RevTree::markBodyStored(int index) { nodes_[static_cast<size_t>(index)].hasBody = true; }

std::vector<std::string> RevTree::forgetInnerBodies() {
  std::vector<bool> hasChild(nodes_.size(), false);
  for (const auto& n : nodes_) {
    if (n.parent >= 0) hasChild[static_cast<size_t>(n.parent)] = true;
  }
  std::vector<std::string> forgotten;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (hasChild[i] && nodes_[i].hasBody) {
      nodes_[i].hasBody = false;
      forgotten.push_back(nodes_[i].rev());
    }
  }
  return forgotten;
}

void RevTree::reorder() {
  const size_t n = nodes_.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return nodes_[a].gen < nodes_[b].gen; });
  std::vector<int> newIndex(n);
  for (size_t i = 0; i < n; ++i) newIndex[order[i]] = static_cast<int>(i);
  std::vector<RevNode> sorted;
  sorted.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    RevNode node = std::move(nodes_[order[i]]);
    if (node.parent >= 0) node.parent = newIndex[static_cast<size_t>(node.parent)];
    sorted.push_back(std::move(node));
  }
  nodes_ = std::move(sorted);
}

}  // namespace settee::db
