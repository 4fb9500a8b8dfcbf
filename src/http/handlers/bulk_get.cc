// POST /{db}/_bulk_get: many documents at given revisions (or every leaf), streamed a page at a time.
//
// {"results":[{"id","docs":[{"ok":{...}} | {"error":{"id","rev","error","reason"}}]}]}. As in CouchDB, an
// entry that cannot be answered (no id, a bad id, a bad rev or atts_since) is an error in its own result,
// not a failure of the request; only a body without a `docs` list is a 400.
#include "db/document.h"
#include "db/rev_id.h"
#include "http/handlers/bulk_internal.h"

namespace settee::http::detail {
namespace {

using db::JsonWriter;
using db::writeKey;
using db::writeString;
using simdjson::dom::element;

// Entries answered per page, and the output size after which a page ends early.
constexpr size_t kEntriesPerPage = 100;
constexpr size_t kPageBytes = 512 * 1024;

void writeNullable(JsonWriter& w, const std::optional<std::string>& s) {
  if (s) writeString(w, *s);
  else w.Null();
}

// {"error":{"id","rev","error","reason"}}
void writeError(JsonWriter& w, const std::optional<std::string>& id, const std::optional<std::string>& rev,
                std::string_view error, std::string_view reason) {
  w.StartObject();
  writeKey(w, "error");
  w.StartObject();
  writeKey(w, "id");
  writeNullable(w, id);
  writeKey(w, "rev");
  writeNullable(w, rev);
  writeKey(w, "error");
  writeString(w, error);
  writeKey(w, "reason");
  writeString(w, reason);
  w.EndObject();
  w.EndObject();
}

class BulkGetSource : public PageSource {
 public:
  explicit BulkGetSource(std::shared_ptr<Call> call) : call_(std::move(call)) {}

  Status page(std::string& out, bool& done) override {
    if (!parsed_) {
      if (Status st = parse(); !st) return st;
      parsed_ = true;
      out += "{\"results\":[";
    }
    for (size_t n = 0; next_ != docs_.end() && n < kEntriesPerPage && out.size() < kPageBytes; ++n, ++next_) {
      if (!first_) out += ',';
      first_ = false;
      db::JsonBuffer buf;
      JsonWriter w(buf);
      answer(*next_, w);
      out.append(db::bufferView(buf));
    }
    if (next_ == docs_.end()) {
      out += "]}";
      done = true;
    }
    return Status::ok();
  }

 private:
  Status parse() {
    const Request& req = call_->req;
    for (auto [name, field] : {std::pair{"revs", &read_.revs},
                               {"latest", &read_.latest},
                               {"attachments", &read_.attachments},
                               {"att_encoding_info", &read_.attEncodingInfo}}) {
      auto v = boolParam(req, name, false);
      if (!v) return v.status();
      *field = *v;
    }
    auto body = jsonBody(req, parser_);
    if (!body) return body.status();
    simdjson::dom::object obj;
    if ((*body).get(obj)) return badRequest("Request body must be a JSON object");
    element docs;
    if (obj["docs"].get(docs)) return badRequest("Missing JSON list of 'docs'.");
    if (docs.get(docs_)) return badRequest("`docs` must be a list of objects");
    next_ = docs_.begin();
    return Status::ok();
  }

  // Writes {"id", "docs":[...]} for one entry of the request.
  void answer(element entry, JsonWriter& w) {
    std::optional<std::string> id, rev;
    element v;
    std::string_view s;
    auto fail = [&](std::string_view error, std::string_view reason) {
      writeError(w, id, rev, error, reason);
      w.EndArray();
      w.EndObject();
    };
    w.StartObject();
    if (entry.type() == simdjson::dom::element_type::OBJECT && !entry["id"].get(v) && !v.get(s))
      id.emplace(s);
    writeKey(w, "id");
    writeNullable(w, id);
    writeKey(w, "docs");
    w.StartArray();
    if (entry.type() != simdjson::dom::element_type::OBJECT) return fail("bad_request", "document id missed");
    if (!id)
      return fail("bad_request", entry["id"].error() ? "document id missed" : "Document id must be a string");
    if (Status st = db::validateDocId(*id); !st) return fail(st.error(), st.reason());
    if (!entry["rev"].get(v)) {
      if (v.get(s)) return fail("bad_request", "Invalid rev format");
      rev.emplace(s);
      if (!db::RevId::parse(s)) return fail("bad_request", "Invalid rev format");
    }
    ReadOptions read = read_;
    if (!entry["atts_since"].get(v)) {
      simdjson::dom::array list;
      if (v.get(list)) return fail("bad_request", "att_since value must be array of revs.");
      for (element r : list) {
        if (r.get(s) || !db::RevId::parse(s))
          return fail("bad_request", "att_since value must be array of revs.");
        read.attsSince.emplace_back(s);
      }
      if (!read.attsSince.empty()) read.attachments = true;
    }
    std::vector<std::string> revs;
    if (rev) revs.push_back(*rev);
    auto got = call_->db->getOpenRevs(*id, revs, read);
    // CouchDB reports a document with no revision to give under the rev asked for, or "undefined".
    if (!got && got.status().code() != ErrorCode::NotFound)
      return fail(got.status().error(), got.status().reason());
    if (!got || got->empty()) {
      if (!rev) rev.emplace("undefined");
      return fail("not_found", "missing");
    }
    for (const OpenRev& r : *got) {
      if (r.found) {
        w.StartObject();
        writeKey(w, "ok");
        db::writeRaw(w, r.json);
        w.EndObject();
      } else {
        writeError(w, id, r.rev, "not_found", "missing");
      }
    }
    w.EndArray();
    w.EndObject();
  }

  std::shared_ptr<Call> call_;
  bool parsed_ = false;
  ReadOptions read_;
  simdjson::dom::parser parser_;  // holds the body's DOM for the life of the stream
  simdjson::dom::array docs_;
  simdjson::dom::array::iterator next_;  // the entry the next page starts with
  bool first_ = true;
};

}  // namespace

void bulkGet(std::shared_ptr<Call> call) {
  auto source = std::make_shared<BulkGetSource>(call);
  streamPages(std::move(call), std::move(source));
}

}  // namespace settee::http::detail
