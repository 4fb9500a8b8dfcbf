// capi/policy.h — settee_conflict_policy (settee.h, "Conflicts"): a settee::ConflictPolicy behind a handle.
//
// The policy is a plain value: a Sync (or anything else) that keeps a policy copies `policy`. A custom
// resolver's std::function holds a shared_ptr to the app's context, so free_context runs once, when the
// last copy is destroyed — whichever of the handle and the copies goes last (conflicts.cc).
#pragma once

#include "settee/conflict.h"
#include "settee/settee.h"

struct settee_conflict_policy {
  settee::ConflictPolicy policy;
};
