// mango_find.cc — see mango_find.h. Skeleton: the find work replaces these bodies.
#include "db/mango_find.h"

#include "db/store.h"

namespace settee::db {

namespace {
Status notYet() { return Status(ErrorCode::Internal, "Mango queries are not built yet"); }
}  // namespace

Result<FindQuery> parseFindRequest(std::string_view) { return notYet(); }
Result<FindQuery> makeFindQuery(std::string_view, const FindOptions&) { return notYet(); }
Result<FindSummary> runFind(Store&, const FindQuery&, const std::function<bool(std::string_view)>&) {
  return notYet();
}
Status writeExplain(Store&, const FindQuery&, std::string_view, JsonWriter&) { return notYet(); }

}  // namespace settee::db
