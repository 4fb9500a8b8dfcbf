// conflict_policy.h — the conflict policies of settee/conflict.h as pure decisions.
//
// decide() looks at a conflict (its live leaves and their common ancestor) and says what to write; it
// reads and writes nothing, so it is tested on values alone and is deterministic: the same input gives the
// same decision (and the same merged bytes) on every device, which is what makes resolutions converge.
// Database::resolveConflict (conflict_resolve.cc) reads the input, decides, and writes the decision with
// Store::resolveConflicts guarded by the leaves it decided on.
//
// The rules in detail (settee/conflict.h gives the summary):
// - Last-write-wins order of a top-level field's value: a leaf without the field, or whose value is
//   neither a number nor a string (null, a boolean, an object, an array), ranks lowest; then strings,
//   compared byte by byte (UTF-8 code point order, so ISO 8601 times in one format order as times); then
//   numbers, compared as numbers (1 and 1.0 tie). Equal ranks tie, and a tie goes to the leaf earlier in
//   CouchDB's order (its winner first), so the result never depends on which device decides.
// - Merge compares whole JSON values: objects by their members whatever their order, arrays element by
//   element, numbers as numbers. A member counts as changed on a leaf when its value there (or its
//   absence) differs from the ancestor's. Members changed by no leaf keep the common value; members that
//   every changing leaf set to the same value take it (a deletion included); others are "changed on
//   several sides" and go to bothChanged. This is the n-way form of folding pairwise from the winner: the
//   result does not depend on the order leaves are folded in. Without the ancestor's body a member on
//   which the leaves disagree is changed on several sides.
// - Merge leaves `_id`, `_rev` and the read-only members (`_revisions`, `_conflicts`, ...) out, and takes
//   `_attachments` from CouchDB's winner, the leaf the merged body extends: a new revision can only refer
//   to attachments its own ancestry stored, and a loser's attachments are not in the winner's.
// - The merged body's members are written in a fixed order: the winner's members in its order, then
//   members only later leaves have, in leaf order and each leaf's order. A merge equal to the winner's
//   body writes nothing new for it (choose(winner)); only the losers are deleted.
#pragma once

#include "settee/conflict.h"

namespace settee::db {

Result<ConflictDecision> decide(const ConflictPolicy& policy, const ConflictInput& input);

}  // namespace settee::db
