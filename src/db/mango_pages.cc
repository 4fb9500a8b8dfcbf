// A `_find` query run as pages (db/mango_pages.h).
#include "db/mango_pages.h"

#include <algorithm>

namespace settee::db {

FindPages::FindPages(FindQuery query)
    : query_(std::move(query)), remaining_(query_.options.limit), bookmark_(query_.options.bookmark) {}

FindQuery FindPages::next(uint64_t rows) const {
  FindQuery q = query_;
  q.options.limit = std::min(remaining_, rows);
  q.options.skip = firstPage_ ? query_.options.skip : 0;
  q.options.bookmark = bookmark_;
  return q;
}

bool FindPages::record(const FindSummary& ran, uint64_t sent, uint64_t asked) {
  firstPage_ = false;
  remaining_ -= std::min(remaining_, sent);
  bookmark_ = ran.bookmark;
  total_.totalKeysExamined += ran.stats.totalKeysExamined;
  total_.totalDocsExamined += ran.stats.totalDocsExamined;
  total_.resultsReturned += ran.stats.resultsReturned;
  total_.executionTimeMs += ran.stats.executionTimeMs;
  last_ = ran;
  return remaining_ > 0 && sent == asked;
}

void FindPages::writeExecutionStats(JsonWriter& w) const {
  w.StartObject();
  writeKey(w, "total_keys_examined");
  w.Uint64(total_.totalKeysExamined);
  writeKey(w, "total_docs_examined");
  w.Uint64(total_.totalDocsExamined);
  writeKey(w, "total_quorum_docs_examined");
  w.Uint64(0);
  writeKey(w, "results_returned");
  w.Uint64(total_.resultsReturned);
  writeKey(w, "execution_time_ms");
  w.Double(total_.executionTimeMs);
  w.EndObject();
}

}  // namespace settee::db
