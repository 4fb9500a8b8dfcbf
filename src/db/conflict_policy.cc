// Conflict policies (settee/conflict.h). Placeholder bodies: the policy part of issue 12 replaces them.
#include "db/conflict_policy.h"

#include "db/store.h"
#include "settee/database.h"

namespace settee {

namespace {
Status notBuilt() { return {ErrorCode::Internal, "conflict policies not built yet"}; }
}  // namespace

Result<ConflictPolicy> ConflictPolicy::parse(std::string_view text) {
  if (text == "keep") return ConflictPolicy::keep();
  return notBuilt();
}

std::string ConflictPolicy::describe() const { return "keep"; }

Result<ConflictResolution> Database::resolveConflict(std::string_view, const ConflictPolicy&) {
  return notBuilt();
}

namespace db {

Result<ConflictDecision> decide(const ConflictPolicy&, const ConflictInput&) { return notBuilt(); }

Result<ConflictInput> Store::conflictInput(std::string_view) { return notBuilt(); }

}  // namespace db
}  // namespace settee
