// http/handlers/bulk_internal.h — what the files of the bulk family (_bulk_docs, _bulk_get, _all_docs,
// _revs_diff, _missing_revs) share: a paged JSON stream and the handlers registerBulkRoutes wires up.
//
// A PageSource produces one response body in pieces, each on libuv's thread pool (SQLite is allowed
// there); streamPages() sends them as a chunked response from the loop thread, one page in flight at a
// time, and stops producing while more than a high-water mark of output waits for a slow client. So a
// large _all_docs neither builds its whole body in memory nor holds the database's lock for the whole
// scan: each page is one short Database call.
#pragma once

#include <memory>
#include <string>

#include "http/api.h"

namespace settee::http::detail {

class PageSource {
 public:
  virtual ~PageSource() = default;
  // Thread pool; never two calls at once. Appends the next piece of the body to `out` and sets `done` when
  // it was the last. A failure on the first call is the whole answer (errorResponse); a failure on a later
  // call cuts the stream short (the status line is already out), so the client cannot take a truncated
  // body for a complete one.
  virtual Status page(std::string& out, bool& done) = 0;
};

// Loop thread (an async handler). Answers `call` with `status` and the pages of `source`.
void streamPages(std::shared_ptr<Call> call, std::shared_ptr<PageSource> source, int status = 200);

// Async handlers (loop thread).
void bulkGet(std::shared_ptr<Call> call);
void allDocs(std::shared_ptr<Call> call);      // GET and POST /{db}/_all_docs
void designDocs(std::shared_ptr<Call> call);   // GET and POST /{db}/_design_docs
void allDocsQueries(std::shared_ptr<Call> call);     // POST /{db}/_all_docs/queries
void designDocsQueries(std::shared_ptr<Call> call);  // POST /{db}/_design_docs/queries
void localDocs(std::shared_ptr<Call> call);          // GET and POST /{db}/_local_docs
void localDocsQueries(std::shared_ptr<Call> call);   // POST /{db}/_local_docs/queries

}  // namespace settee::http::detail
