// settee/conflict.h — how conflicts are resolved: CouchDB's rule, or a policy the app chose.
//
// A conflict is a document with more than one live leaf. CouchDB keeps them all and picks a winner
// deterministically; a policy goes further and writes the resolution as ordinary revisions (the chosen
// body on one branch, deletions of the others), so it replicates like any edit. Revision ids are derived
// from the content, so two devices that resolve the same conflict with the same policy write the same
// revisions and converge without a new conflict.
// Policies (ConflictPolicy::parse takes the text forms in brackets):
// - Keep ["keep"]: CouchDB's behaviour; nothing is written, losers stay for the app.
// - LastWriteWins ["lww:FIELD"]: the live leaf whose top-level `FIELD` is greatest wins (numbers compare
//   as numbers, strings as strings — ISO 8601 times order correctly — a number beats a string; null,
//   booleans, objects and arrays count as a missing field); ties and leaves without the field fall back
//   to CouchDB's order (its winner when no leaf has the field). The other leaves are deleted by new
//   revisions; the winning body is not rewritten.
// - Merge ["merge", "merge:lww:FIELD"]: a three-way merge of top-level fields against the leaves' common
//   ancestor: a field changed on one side only is taken; one changed on several sides falls back to
//   `bothChanged` (LWW by `field` for that field, or Keep the conflict for the user). The merged body is
//   written as a child of CouchDB's winner, the other leaves deleted. Without the ancestor's body every
//   differing field counts as changed on both sides. Values compare as whole JSON values (no deep merge
//   of objects); `_attachments` merge by name by the same rule (the same attachment where the digest
//   is the same); members are written in a fixed order (the winner's, then the others' in leaf order),
//   so every device writes the same bytes and so the same revision id. A merge equal to the winner's
//   body only deletes the losers. More than two leaves: a field changed by several leaves to different
//   values is changed on several sides (the n-way form of folding pairwise; order does not matter).
// - Custom: the app's resolver gets the leaves and the ancestor and returns the body to keep (or asks to
//   keep the conflict). It must be deterministic for devices to converge.
// Convergence needs the same input on every device: the same live leaves (a sync round apart) and the
// ancestor's body on all or none of them (Settee keeps it through compaction for documents with
// unconfirmed edits). Devices that decided on different inputs write different resolutions, which meet
// as a new, smaller conflict that the next round resolves the same way everywhere.
// Contract: plain values; a resolver may be called from any of the library's threads, one call at a time
// per document.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "settee/status.h"

namespace settee {

struct ConflictLeaf {
  std::string rev;
  std::string json;  // the leaf's document (with _id, _rev)
};

struct ConflictInput {
  std::string id;
  std::vector<ConflictLeaf> leaves;  // live leaves, CouchDB's winner first
  std::string ancestorRev;           // the deepest revision every leaf descends from; empty when none
  std::optional<std::string> ancestorJson;  // its body when still stored
};

struct ConflictDecision {
  bool keep = true;        // true: leave the conflict as it is
  std::string winnerRev;   // the leaf to extend; empty: CouchDB's winner
  // The body to write on top of the winner (without _id/_rev); empty: keep the winner's body as it is.
  std::optional<std::string> mergedJson;
  static ConflictDecision keepConflict() { return {}; }
  static ConflictDecision choose(std::string rev) { return {false, std::move(rev), std::nullopt}; }
  static ConflictDecision merged(std::string json, std::string onRev = {}) {
    return {false, std::move(onRev), std::move(json)};
  }
};

// What Database::resolveConflict did.
struct ConflictResolution {
  bool resolved = false;  // false: no conflict, or the policy kept it
  std::string rev;        // the winner after the resolution
  // The losing leaves deleted: their new tombstone revisions, in CouchDB's order of the leaves they close.
  std::vector<std::string> deleted;
};

struct ConflictPolicy {
  enum class Kind { Keep, LastWriteWins, Merge, Custom };
  Kind kind = Kind::Keep;
  std::string field;  // LastWriteWins; Merge with bothChanged = LastWriteWins
  enum class BothChanged { Keep, LastWriteWins };
  BothChanged bothChanged = BothChanged::Keep;
  std::function<ConflictDecision(const ConflictInput&)> resolver;  // Custom

  static ConflictPolicy keep() { return {}; }
  static ConflictPolicy lastWriteWins(std::string field) {
    ConflictPolicy p;
    p.kind = Kind::LastWriteWins;
    p.field = std::move(field);
    return p;
  }
  static ConflictPolicy merge(BothChanged both = BothChanged::Keep, std::string field = {}) {
    ConflictPolicy p;
    p.kind = Kind::Merge;
    p.bothChanged = both;
    p.field = std::move(field);
    return p;
  }
  static ConflictPolicy custom(std::function<ConflictDecision(const ConflictInput&)> fn) {
    ConflictPolicy p;
    p.kind = Kind::Custom;
    p.resolver = std::move(fn);
    return p;
  }
  // "keep", "lww:FIELD", "merge", "merge:lww:FIELD"; bad_request otherwise.
  static Result<ConflictPolicy> parse(std::string_view text);
  // The text form parse() takes ("custom" for a resolver).
  std::string describe() const;
};

}  // namespace settee
