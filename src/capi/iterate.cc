// settee_db_all_docs and settee_db_changes (settee.h, "Iterating"): RowSources (capi/cursor.h) over the
// HTTP layer's own readers of _all_docs and _changes, so rows come out exactly as CouchDB's answers
// hold them, a bounded page at a time.
//
// _all_docs: an AllDocsListing writes the answer object as text a page at a time (its pages resume after
// the last id sent, so memory stays flat). RowSplitter cuts that text into its rows as it comes: the text
// is a RapidJSON writer's, so the only structure to follow is nesting and strings.
// _changes: readBatch reads one batch of at most changes::kBatchRows rows after a cursor, framed one row
// per line (the continuous feed's framing); the source stops at the update_seq the first batch saw, as
// the normal feed does, so a steady stream of writes cannot keep a cursor going.
#include <simdjson.h>

#include "capi/cursor.h"
#include "capi/options.h"
#include "http/handlers/all_docs_internal.h"
#include "http/handlers/changes_feed.h"

using settee::capi::badArgument;
using settee::capi::guard;
using settee::capi::toError;

namespace settee::capi {
namespace {

// Cuts the text of {"total_rows":N,"offset":M,"rows":[{...},{...}]} into its rows as it arrives.
class RowSplitter {
 public:
  // Takes the next piece of the text; moves every row completed so far to `rows`.
  void feed(std::string_view text, std::vector<std::string>& rows) {
    buf_.append(text);
    size_t consumed = 0;
    for (; pos_ < buf_.size(); ++pos_) {
      const char c = buf_[pos_];
      if (!inRows_) {
        // The head holds numbers and plain keys only: its first '[' opens the rows.
        if (c == '[') {
          head_ = buf_.substr(0, pos_);
          inRows_ = true;
          consumed = pos_ + 1;
        }
        continue;
      }
      if (inString_) {
        if (escaped_)
          escaped_ = false;
        else if (c == '\\')
          escaped_ = true;
        else if (c == '"')
          inString_ = false;
        continue;
      }
      if (c == '"') {
        inString_ = true;
      } else if (c == '{' || c == '[') {
        if (depth_++ == 0) rowStart_ = pos_;
      } else if (c == '}' || c == ']') {
        if (depth_ == 0) continue;  // the rows' own ']' and the object's '}'
        if (--depth_ == 0) {
          rows.push_back(buf_.substr(rowStart_, pos_ + 1 - rowStart_));
          consumed = pos_ + 1;
        }
      } else if (depth_ == 0) {
        consumed = pos_ + 1;  // a ',' between rows
      }
    }
    // What was handed out goes; a row begun stays for the next piece.
    if (consumed > 0) {
      buf_.erase(0, consumed);
      pos_ -= consumed;
      if (rowStart_ >= consumed) rowStart_ -= consumed;
    }
  }
  // The head, "{"total_rows":N,"offset":M,"rows":", once the rows began.
  const std::string& head() const { return head_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  size_t rowStart_ = 0;
  int depth_ = 0;  // nesting inside the rows array: 0 between rows
  bool inRows_ = false;
  bool inString_ = false;
  bool escaped_ = false;
  std::string head_;
};

class AllDocsSource : public RowSource {
 public:
  AllDocsSource(std::shared_ptr<Database> db, http::detail::AllDocsQuery query)
      : listing_(std::move(db), std::move(query), http::detail::DocNamespace::All) {}

  Status nextPage(std::vector<std::string>& rows, bool& more) override {
    // A page of the listing may end inside a row (one with large inline attachment bodies): pages are
    // read until a row is whole or the listing ends.
    bool done = false;
    while (rows.empty() && !done) {
      std::string text;
      if (Status st = listing_.page(text, done); !st) return st;
      splitter_.feed(text, rows);
    }
    more = !done;
    return Status::ok();
  }

  Result<std::string> summary() override {
    // The head with an empty row list closes into the listing's object; its members but the rows.
    std::string text = splitter_.head() + "[]}";
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (parser.parse(text).get(obj)) return Status(ErrorCode::Internal, "unreadable _all_docs head");
    db::JsonBuffer buf;
    db::JsonWriter w(buf);
    w.StartObject();
    for (auto field : obj) {
      if (field.key == "rows") continue;
      db::writeKey(w, field.key);
      db::writeElement(w, field.value);
    }
    w.EndObject();
    return std::string(db::bufferView(buf));
  }

 private:
  http::detail::AllDocsListing listing_;
  RowSplitter splitter_;
};

class ChangesSource : public RowSource {
 public:
  ChangesSource(std::shared_ptr<Database> db, http::changes::ChangesParams params)
      : db_(std::move(db)), p_(std::move(params)) {
    cursor_ = p_.descending ? UINT64_MAX : p_.since;
  }

  Status nextPage(std::vector<std::string>& rows, bool& more) override {
    http::changes::BatchRequest req;
    req.cursor = cursor_;
    req.remaining = p_.limit - emitted_;
    req.resolveSinceNow = first_ && p_.sinceNow;
    req.horizon = horizon_;
    http::changes::BatchResult batch = http::changes::readBatch(*db_, p_, req, emitted_ == 0);
    if (!batch.status) return batch.status;
    first_ = false;
    if (!p_.descending) horizon_ = batch.horizon;
    cursor_ = batch.cursor;
    emitted_ += batch.rows;
    // One row per line: rows are minified JSON, which holds no raw newline.
    for (size_t at = 0; at < batch.chunk.size();) {
      size_t end = batch.chunk.find('\n', at);
      if (end == std::string::npos) end = batch.chunk.size();
      if (end > at) rows.push_back(batch.chunk.substr(at, end - at));
      at = end + 1;
    }
    pending_ = batch.pending;
    more = !batch.limitReached && !batch.caughtUp;
    return Status::ok();
  }

  Result<std::string> summary() override {
    db::JsonBuffer buf;
    db::JsonWriter w(buf);
    w.StartObject();
    db::writeKey(w, "last_seq");
    w.Uint64(p_.descending && cursor_ == UINT64_MAX ? 0 : cursor_);
    db::writeKey(w, "pending");
    w.Uint64(pending_);
    w.EndObject();
    return std::string(db::bufferView(buf));
  }

 private:
  std::shared_ptr<Database> db_;
  http::changes::ChangesParams p_;
  uint64_t cursor_ = 0;  // the last seq consumed (descending: UINT64_MAX before the first row)
  std::optional<uint64_t> horizon_;
  uint64_t emitted_ = 0;
  uint64_t pending_ = 0;
  bool first_ = true;
};

}  // namespace
}  // namespace settee::capi

extern "C" {

settee_error* settee_db_all_docs(settee_db* db, const char* options_json, settee_cursor** out_cursor) {
  return guard([&]() -> settee_error* {
    if (out_cursor) *out_cursor = nullptr;
    if (!db || !out_cursor) return badArgument("settee_db_all_docs needs db and out_cursor");
    auto req = settee::capi::optionsRequest(
        options_json,
        {"startkey", "start_key", "endkey", "end_key", "key", "inclusive_end", "keys", "limit", "skip",
         "descending", "include_docs", "conflicts", "attachments", "att_encoding_info"});
    if (!req) return toError(req.status());
    auto query = settee::http::detail::parseAllDocsRequest(*req, false);
    if (!query) return toError(query.status());
    auto source = std::make_unique<settee::capi::AllDocsSource>(db->db, std::move(*query));
    *out_cursor = settee::capi::newCursor(std::move(source));
    return nullptr;
  });
}

settee_error* settee_db_changes(settee_db* db, const char* options_json, settee_cursor** out_cursor) {
  return guard([&]() -> settee_error* {
    if (out_cursor) *out_cursor = nullptr;
    if (!db || !out_cursor) return badArgument("settee_db_changes needs db and out_cursor");
    auto req = settee::capi::optionsRequest(
        options_json, {"since", "limit", "descending", "style", "include_docs", "conflicts"},
        {"since", "style"});
    if (!req) return toError(req.status());
    auto params = settee::http::changes::parseChangesRequest(*req);
    if (!params) return toError(params.status());
    params->feed = settee::http::changes::FeedKind::Continuous;  // the framing: one row per line
    auto source = std::make_unique<settee::capi::ChangesSource>(db->db, std::move(*params));
    *out_cursor = settee::capi::newCursor(std::move(source));
    return nullptr;
  });
}

}  // extern "C"
