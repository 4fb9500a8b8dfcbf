// mango_pages.h — a `_find` query run as pages, the way both doors that page one do it: POST /{db}/_find's
// streamed answer (http/handlers/find_handlers.cc) and the C API's find cursor (capi/query.cc).
//
// Each page runs the query again from the previous page's bookmark, which resumes strictly after the last
// row read (mango_find.h), so pages neither repeat nor skip a row; `skip` applies to the first page only,
// the query's limit is spread over the pages, and the statistics of every page are summed. The summary
// members after the documents (the bookmark, execution_stats, the warning) are judged on the whole run.
// Contract: a value, used by one thread.
#pragma once

#include <cstdint>
#include <string>

#include "db/json.h"
#include "db/mango_find.h"

namespace settee::db {

class FindPages {
 public:
  explicit FindPages(FindQuery query);

  const FindQuery& query() const { return query_; }
  // The query of the next page, of at most `rows` rows.
  FindQuery next(uint64_t rows) const;
  // Takes in a page that ran `asked` (the limit of next()'s query) and sent `sent` rows. Returns whether
  // more may follow: the limit allows more and the page was full.
  bool record(const FindSummary& ran, uint64_t sent, uint64_t asked);
  // Rows the limit still allows.
  uint64_t remaining() const { return remaining_; }

  // CouchDB's "bookmark" value: where the next page starts, "nil" before any row.
  std::string bookmark() const { return bookmark_.empty() ? "nil" : bookmark_; }
  // CouchDB's "execution_stats" object, summed over the pages.
  void writeExecutionStats(JsonWriter& w) const;
  // The warning of the whole run (pagedWarning); empty for none.
  std::string warning() const { return pagedWarning(last_, total_); }

 private:
  FindQuery query_;
  uint64_t remaining_;
  std::string bookmark_;
  bool firstPage_ = true;
  FindStats total_;
  FindSummary last_;
};

}  // namespace settee::db
