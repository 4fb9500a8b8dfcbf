// store_index.cc — the Store's json index rows (mango_index.h). Skeleton: the index work replaces these.
#include "db/store.h"

namespace settee::db {

Result<std::vector<IndexSpec>> Store::indexes() { return std::vector<IndexSpec>{}; }
Status Store::updateIndex(const IndexSpec&) { return Status::ok(); }
Result<uint64_t> Store::scanIndex(const IndexSpec&, const IndexScan&, const ReadOptions&, const IndexRowFn&) {
  return Status(ErrorCode::Internal, "index scans are not built yet");
}

}  // namespace settee::db
