// capi/cursor.h — settee_cursor (settee.h, "Iterating"): a stream of JSON rows read one at a time, a page
// at a time, from a RowSource.
//
// A RowSource is what a kind of result implements (all_docs and changes in cursor_sources.cc, _find in the
// Mango part): it hands out the rows a page at a time — each page a bounded batch read from the database
// with the C++ API's limit/startkey/since — so memory stays flat whatever the size of the result. The
// source keeps what it reads from alive itself (a shared_ptr to the Database), so a cursor never dangles.
// Contract: one thread at a time per cursor (settee.h); a source is called only from settee_cursor_next /
// settee_cursor_summary, never concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "capi/capi_internal.h"

namespace settee::capi {

class RowSource {
 public:
  virtual ~RowSource() = default;
  // Appends the next rows (each a JSON text, CouchDB's row shape) to `rows`, which the caller passes in
  // empty. Sets `more` to false once no row follows the ones appended (a page may be empty only then).
  // An error ends the stream: rows before it were delivered.
  virtual Status nextPage(std::vector<std::string>& rows, bool& more) = 0;
  // What the result answers besides its rows (settee_cursor_summary), as JSON. Called only after
  // nextPage reported more=false.
  virtual Result<std::string> summary() = 0;
};

// Wraps `source` in a new cursor the app frees with settee_cursor_free. Throws only bad_alloc.
settee_cursor* newCursor(std::unique_ptr<RowSource> source);

}  // namespace settee::capi

struct settee_cursor {
  std::unique_ptr<settee::capi::RowSource> source;
  std::vector<std::string> page;  // the rows read and not yet all handed out
  size_t next = 0;                // index in `page` of the next row to hand out
  bool more = true;               // the source may have rows after `page`
  bool failed = false;            // the source returned an error: the stream has ended
};
