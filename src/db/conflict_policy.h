// conflict_policy.h — the conflict policies of settee/conflict.h as pure decisions.
//
// decide() looks at a conflict (its live leaves and their common ancestor) and says what to write; it
// reads and writes nothing, so it is tested on values alone and is deterministic: the same input gives the
// same decision (and the same merged bytes) on every device, which is what makes resolutions converge.
// Database::resolveConflict (conflict_policy.cc) reads the input, decides, and writes the decision with
// Store::resolveConflicts guarded by the leaves it decided on.
#pragma once

#include "settee/conflict.h"

namespace settee::db {

Result<ConflictDecision> decide(const ConflictPolicy& policy, const ConflictInput& input);

}  // namespace settee::db
