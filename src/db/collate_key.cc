// collate_key.cc — see collate_key.h. Skeleton: the index work replaces these bodies.
#include "db/collate_key.h"

namespace settee::db {

void appendCollationKey(simdjson::dom::element, std::string&) {}
void appendCollationKey(const MangoValue&, std::string&) {}
int collateStrings(std::string_view a, std::string_view b) { return a.compare(b); }

}  // namespace settee::db
