// GET|POST /{db}/_all_docs and /{db}/_design_docs, streamed a page at a time.
//
// {"total_rows","offset","update_seq"?,"rows":[{"id","key","value":{"rev"},"doc"?}]}. Options come from the
// query string (JSON-encoded keys) and, for POST, from the body (`keys` above all, as PouchDB sends it).
// A range is read in pages of at most kRowsPerPage rows, each page one Database::allDocs call that resumes
// after the last id sent; `keys` are answered kRowsPerPage at a time. Pages are not one snapshot: a write
// between two pages shows in the later one, as in CouchDB's clustered reads.
#include <algorithm>

#include "http/handlers/bulk_internal.h"

namespace settee::http::detail {
namespace {

using db::JsonWriter;
using db::writeKey;
using db::writeString;
using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr size_t kRowsPerPage = 500;
constexpr size_t kPageBytes = 512 * 1024;

// One end of a range. Ids are strings; CouchDB orders every other JSON value before every string, so a
// non-string key is a bound below all ids.
struct Bound {
  bool present = false;
  bool belowAll = false;
  std::string id;
};

// A requested key: a document id, or the JSON of a non-string key, which names no document.
struct Key {
  bool isId = true;
  std::string text;
};

struct Query {
  Bound start, end;
  bool hasKey = false;
  bool inclusiveEnd = true;
  bool descending = false;
  bool includeDocs = false;
  bool conflicts = false;
  bool updateSeq = false;
  uint64_t limit = UINT64_MAX;
  uint64_t skip = 0;
  std::optional<std::vector<Key>> keys;
};

Bound toBound(element v) {
  Bound b;
  b.present = true;
  std::string_view s;
  if (v.get(s)) b.belowAll = true;
  else b.id.assign(s);
  return b;
}

Status badBool(std::string_view name) {
  return badRequest("Invalid boolean parameter: \"" + std::string(name) + "\"");
}

// One option given as a JSON value (a body member, or a query parameter's decoded value).
Status applyOption(Query& q, std::string_view name, element v) {
  const std::pair<std::string_view, bool*> bools[] = {{"inclusive_end", &q.inclusiveEnd},
                                                      {"descending", &q.descending},
                                                      {"include_docs", &q.includeDocs},
                                                      {"conflicts", &q.conflicts},
                                                      {"update_seq", &q.updateSeq}};
  for (auto [n, field] : bools) {
    if (name == n) return v.get(*field) ? badBool(name) : Status::ok();
  }
  if (name == "limit" || name == "skip") {
    uint64_t n = 0;
    int64_t i = 0;
    if (v.get(n) && (v.get(i) || i < 0))
      return badRequest("Invalid value for positive integer: \"" + std::string(name) + "\"");
    if (v.get(n)) n = static_cast<uint64_t>(i);
    (name == "limit" ? q.limit : q.skip) = n;
  } else if (name == "startkey" || name == "start_key") {
    q.start = toBound(v);
  } else if (name == "endkey" || name == "end_key") {
    q.end = toBound(v);
  } else if (name == "key") {
    q.start = q.end = toBound(v);
    q.hasKey = true;
  } else if (name == "keys") {
    if (q.keys) return badRequest("`keys` was given twice");
    simdjson::dom::array list;
    if (v.get(list)) return badRequest("`keys` parameter must be an array.");
    q.keys.emplace();
    for (element k : list) {
      std::string_view s;
      if (!k.get(s)) {
        q.keys->push_back({true, std::string(s)});
      } else {
        db::JsonBuffer buf;
        JsonWriter w(buf);
        db::writeElement(w, k);
        q.keys->push_back({false, std::string(db::bufferView(buf))});
      }
    }
  }
  return Status::ok();  // other options (stale, sorted, ...) mean nothing here and are ignored
}

Result<Query> parseQuery(const Request& req, bool post) {
  Query q;
  for (const auto& [name, value] : req.query) {
    static constexpr std::string_view kNames[] = {"inclusive_end", "descending", "include_docs", "conflicts",
                                                  "update_seq",    "limit",      "skip",         "startkey",
                                                  "start_key",     "endkey",     "end_key",      "key",
                                                  "keys"};
    if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames)) continue;
    // Booleans and integers must be written as JSON would write them; a parser per value, since a
    // simdjson parser holds one document at a time and applyOption copies what it keeps.
    simdjson::dom::parser parser;
    element v;
    if (parser.parse(value.data(), value.size()).get(v)) {
      if (name == "limit" || name == "skip")
        return badRequest("Invalid value for positive integer: \"" + name + "\"");
      if (name.find("key") == std::string::npos) return badBool(name);
      return badRequest("Invalid JSON in query parameter " + name);
    }
    if (Status st = applyOption(q, name, v); !st) return st;
  }
  if (post) {
    simdjson::dom::parser parser;
    auto body = jsonBody(req, parser);
    if (!body) return body.status();
    simdjson::dom::object obj;
    if ((*body).get(obj)) return badRequest("Request body must be a JSON object");
    for (auto field : obj) {
      if (Status st = applyOption(q, field.key, field.value); !st) return st;
    }
  }
  if (q.keys && (q.hasKey || q.start.present || q.end.present))
    return badRequest("`keys` is incompatible with `key`, `start_key` and `end_key`");
  return q;
}

class AllDocsSource : public PageSource {
 public:
  AllDocsSource(std::shared_ptr<Call> call, bool designOnly)
      : call_(std::move(call)), designOnly_(designOnly) {}

  Status page(std::string& out, bool& done) override {
    if (!started_) {
      auto q = parseQuery(call_->req, call_->req.method == "POST");
      if (!q) return q.status();
      q_ = std::move(*q);
      if (Status st = head(out); !st) return st;
      started_ = true;
    }
    auto finished = q_.keys ? keysPage(out) : rangePage(out);
    if (!finished) return finished.status();
    if (*finished) {
      out += "]}";
      done = true;
    }
    return Status::ok();
  }

 private:
  // Turns the query's bounds into the Database's, in iteration order (descending starts high).
  void resolveRange() {
    const bool desc = q_.descending;
    opts_.descending = desc;
    opts_.inclusiveEnd = q_.inclusiveEnd;
    opts_.includeDocs = q_.includeDocs;
    opts_.conflicts = q_.conflicts;
    // A non-string bound lies below every id: as the low end it bounds nothing, as the high end it
    // leaves nothing.
    if (q_.start.present) {
      if (!q_.start.belowAll) opts_.startKey = q_.start.id;
      else if (desc) empty_ = true;
    }
    if (q_.end.present) {
      if (!q_.end.belowAll) opts_.endKey = q_.end.id;
      else if (!desc) empty_ = true;
    }
    if (!designOnly_) return;
    // _design/ ids lie in ["_design/", "_design/\xff"): no UTF-8 id holds a 0xFF byte, so the upper
    // bound is never an id and inclusive_end cannot matter for it.
    const std::string lo = "_design/", hi = "_design/\xff";
    auto& low = desc ? opts_.endKey : opts_.startKey;
    auto& high = desc ? opts_.startKey : opts_.endKey;
    if (!low || *low < lo) low = lo;
    if (!high || *high > hi) high = hi;
  }

  Status head(std::string& out) {
    auto read = call_->db->info();
    if (!read) return read.status();
    const DatabaseInfo& info = *read;
    std::optional<uint64_t> offset;
    if (!q_.keys) {
      resolveRange();
      remaining_ = q_.limit;
      uint64_t before = 0;
      if (opts_.startKey) {
        // The rows that precede the range in iteration order. A count over the ids, since the
        // Database offers no cheaper one.
        AllDocsOptions count;
        count.descending = opts_.descending;
        count.endKey = opts_.startKey;
        count.inclusiveEnd = false;
        auto counted = call_->db->allDocs(count, [&](const AllDocsRow&) {
          ++before;
          return true;
        });
        if (!counted) return counted.status();
      }
      offset = std::min<uint64_t>(before + std::min<uint64_t>(q_.skip, info.docCount), info.docCount);
    } else {
      // Skip and limit count keys; descending answers them in reverse, as CouchDB does.
      auto& keys = *q_.keys;
      if (q_.descending) std::reverse(keys.begin(), keys.end());
      size_t from = static_cast<size_t>(std::min<uint64_t>(q_.skip, keys.size()));
      size_t to = static_cast<size_t>(
          std::min<uint64_t>(from + std::min<uint64_t>(q_.limit, keys.size()), keys.size()));
      keys = std::vector<Key>(keys.begin() + static_cast<long>(from), keys.begin() + static_cast<long>(to));
    }
    db::JsonBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    writeKey(w, "total_rows");
    w.Uint64(info.docCount);
    writeKey(w, "offset");
    if (offset) w.Uint64(*offset);
    else w.Null();  // CouchDB has no offset for `keys`
    if (q_.updateSeq) {
      writeKey(w, "update_seq");
      w.Uint64(info.updateSeq);
    }
    writeKey(w, "rows");
    w.StartArray();
    // The object and array stay open: the rows follow in later pages and "]}" closes them.
    out.append(db::bufferView(buf));
    return Status::ok();
  }

  void row(std::string& out, const AllDocsRow& r) {
    if (!firstRow_) out += ',';
    firstRow_ = false;
    db::JsonBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    if (r.found) {
      writeKey(w, "id");
      writeString(w, r.id);
    }
    writeKey(w, "key");
    writeString(w, r.id);
    if (!r.found) {
      writeKey(w, "error");
      writeString(w, "not_found");
    } else {
      writeKey(w, "value");
      w.StartObject();
      writeKey(w, "rev");
      writeString(w, r.rev);
      if (r.deleted) {
        writeKey(w, "deleted");
        w.Bool(true);
      }
      w.EndObject();
      if (q_.includeDocs) {
        writeKey(w, "doc");
        if (r.doc.empty()) w.Null();
        else db::writeRaw(w, r.doc);
      }
    }
    w.EndObject();
    out.append(db::bufferView(buf));
  }

  // A non-string key names no document: {"key":<the key>,"error":"not_found"}.
  void missingKeyRow(std::string& out, const std::string& json) {
    if (!firstRow_) out += ',';
    firstRow_ = false;
    db::JsonBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    writeKey(w, "key");
    db::writeRaw(w, json, rapidjson::kNumberType);
    writeKey(w, "error");
    writeString(w, "not_found");
    w.EndObject();
    out.append(db::bufferView(buf));
  }

  // Returns true when the range is exhausted.
  // Whether the listing is finished, or why the page could not be read.
  Result<bool> rangePage(std::string& out) {
    if (empty_ || remaining_ == 0) return true;
    AllDocsOptions o = opts_;
    if (cursor_) {
      o.startKey = cursor_;  // inclusive: the row at the cursor was sent and is passed over below
    } else {
      o.skip = q_.skip;
    }
    bool more = false;
    size_t n = 0;
    auto read = call_->db->allDocs(o, [&](const AllDocsRow& r) {
      if (cursor_ && r.id == *cursor_) return true;
      row(out, r);
      lastId_ = r.id;
      --remaining_;
      ++n;
      if (remaining_ == 0) return false;
      if (n >= kRowsPerPage || out.size() >= kPageBytes) {
        more = true;
        return false;
      }
      return true;
    });
    if (!read) return read.status();
    if (n > 0) cursor_ = lastId_;
    return !more;
  }

  Result<bool> keysPage(std::string& out) {
    const auto& keys = *q_.keys;
    size_t end = std::min(nextKey_ + kRowsPerPage, keys.size());
    AllDocsOptions o;
    o.includeDocs = q_.includeDocs;
    o.conflicts = q_.conflicts;
    o.keys.emplace();
    for (size_t i = nextKey_; i < end; ++i) {
      if (keys[i].isId) o.keys->push_back(keys[i].text);
    }
    std::vector<AllDocsRow> rows;
    rows.reserve(o.keys->size());
    if (!o.keys->empty()) {
      auto read = call_->db->allDocs(o, [&](const AllDocsRow& r) {
        rows.push_back(r);
        return true;
      });
      if (!read) return read.status();
    }
    size_t next = 0;
    for (size_t i = nextKey_; i < end; ++i) {
      if (!keys[i].isId) missingKeyRow(out, keys[i].text);
      else if (next < rows.size()) row(out, rows[next++]);
    }
    nextKey_ = end;
    return nextKey_ >= keys.size();
  }

  std::shared_ptr<Call> call_;
  bool designOnly_;
  bool started_ = false;
  Query q_;
  AllDocsOptions opts_;  // the range, for every page
  bool empty_ = false;   // the bounds leave no id
  uint64_t remaining_ = 0;
  std::optional<std::string> cursor_;  // the last id sent; the next page resumes after it
  std::string lastId_;
  size_t nextKey_ = 0;
  bool firstRow_ = true;
};

}  // namespace

void allDocs(std::shared_ptr<Call> call) {
  auto source = std::make_shared<AllDocsSource>(call, false);
  streamPages(std::move(call), std::move(source));
}

void designDocs(std::shared_ptr<Call> call) {
  auto source = std::make_shared<AllDocsSource>(call, true);
  streamPages(std::move(call), std::move(source));
}

}  // namespace settee::http::detail
