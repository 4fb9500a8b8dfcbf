// settee_cursor (capi/cursor.h): rows handed out one at a time from the pages of a RowSource.
#include "capi/cursor.h"

using settee::capi::badArgument;
using settee::capi::copyOut;
using settee::capi::guard;
using settee::capi::toError;

namespace settee::capi {

settee_cursor* newCursor(std::unique_ptr<RowSource> source) {
  auto* cursor = new settee_cursor;
  cursor->source = std::move(source);
  return cursor;
}

}  // namespace settee::capi

extern "C" {

settee_error* settee_cursor_next(settee_cursor* cursor, const char** out_row, size_t* out_length) {
  return guard([&]() -> settee_error* {
    if (out_row) *out_row = nullptr;
    if (out_length) *out_length = 0;
    if (!cursor || !out_row) return badArgument("settee_cursor_next needs cursor and out_row");
    while (cursor->next >= cursor->page.size()) {
      if (!cursor->more) return nullptr;  // the end (or an error reported before): no row
      cursor->page.clear();
      cursor->next = 0;
      if (settee::Status st = cursor->source->nextPage(cursor->page, cursor->more); !st) {
        cursor->page.clear();
        cursor->more = false;
        cursor->failed = true;
        return toError(st);
      }
    }
    const std::string& row = cursor->page[cursor->next++];
    *out_row = row.c_str();
    if (out_length) *out_length = row.size();
    return nullptr;
  });
}

settee_error* settee_cursor_summary(settee_cursor* cursor, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!cursor || !out_json) return badArgument("settee_cursor_summary needs cursor and out_json");
    if (cursor->failed) return badArgument("the cursor ended with an error: it has no summary");
    if (cursor->more || cursor->next < cursor->page.size())
      return badArgument("the cursor has not reached its end: read its rows first");
    auto summary = cursor->source->summary();
    if (!summary) return toError(summary.status());
    *out_json = copyOut(*summary);
    return nullptr;
  });
}

void settee_cursor_free(settee_cursor* cursor) {
  settee::capi::guardVoid([&] { delete cursor; });
}

}  // extern "C"
