// GET|POST /{db}/_all_docs, /{db}/_design_docs and /{db}/_local_docs, and POST .../queries, streamed a
// page at a time.
//
// A listing is {"total_rows","offset","update_seq"?,"rows":[{"id","key","value":{"rev"},"doc"?}]}; a
// .../queries answer is {"results":[listing, ...]}, one listing per entry, as CouchDB 3.4 answers it.
// With include_docs=true&attachments=true each doc carries its attachment bodies as base64 `data`.
#include <algorithm>

#include "db/database_internal.h"
#include "http/handlers/all_docs_internal.h"
#include "http/handlers/bulk_internal.h"

namespace settee::http::detail {
namespace {

using db::JsonWriter;
using db::writeKey;
using db::writeString;

constexpr size_t kRowsPerPage = 500;
// A page ends once its rows pass this size, so include_docs (and inline attachment bodies) of large
// documents keep a page to one large row beyond it.
constexpr size_t kPageBytes = 512 * 1024;
// Attachment bytes read together with one document (each body below kLoadWhole) and sent in its text;
// larger bodies, and small ones past this, are streamed from the store.
constexpr uint64_t kLoadBudget = 1024 * 1024;

// _design/ ids lie in ["_design/", "_design/\xff"): no UTF-8 id holds a 0xFF byte, so the upper bound is
// never an id and inclusive_end cannot matter for it.
const std::string kDesignLow = "_design/";
const std::string kDesignHigh = "_design/\xff";

}  // namespace

AllDocsListing::AllDocsListing(std::shared_ptr<Database> db, AllDocsQuery query, DocNamespace ns)
    : db_(std::move(db)), q_(std::move(query)), ns_(ns) {
  // _local documents have no attachments to inline and no conflicts.
  if (ns_ == DocNamespace::Local) q_.attachments = q_.conflicts = false;
}

Result<uint64_t> AllDocsListing::list(const AllDocsOptions& o, const std::function<bool(const AllDocsRow&)>& row) {
  return ns_ == DocNamespace::Local ? db_->localDocs(o, row) : db_->allDocs(o, row);
}

Status AllDocsListing::page(std::string& out, bool& done) {
  if (!started_) {
    if (Status st = head(out); !st) return st;
    started_ = true;
  }
  if (pending_) {
    if (Status st = drain(out); !st) return st;
    if (pending_) return Status::ok();  // the page is full of that row's bodies
  }
  if (!finished_) {
    auto finished = q_.keys ? keysPage(out) : rangePage(out);
    if (!finished) return finished.status();
    finished_ = *finished;
  }
  if (finished_ && !pending_) {
    out += "]}";
    done = true;
  }
  return Status::ok();
}

Status AllDocsListing::drain(std::string& out) {
  db::Store& store = db::storeOf(*db_);
  while (!pending_->done() && out.size() < kPageBytes) {
    if (Status st = pending_->step(store, out); !st) return st;
  }
  if (pending_->done()) pending_.reset();
  return Status::ok();
}

// Turns the query's bounds into the Database's, in iteration order (descending starts high).
void AllDocsListing::resolveRange() {
  const bool desc = q_.descending;
  opts_.descending = desc;
  opts_.inclusiveEnd = q_.inclusiveEnd;
  // A non-string bound lies below every id: as the low end it bounds nothing, as the high end it
  // leaves nothing.
  if (q_.start.present) {
    if (!q_.start.belowAll)
      opts_.startKey = q_.start.id;
    else if (desc)
      empty_ = true;
  }
  if (q_.end.present) {
    if (!q_.end.belowAll)
      opts_.endKey = q_.end.id;
    else if (!desc)
      empty_ = true;
  }
  if (ns_ != DocNamespace::Design) return;
  auto& low = desc ? opts_.endKey : opts_.startKey;
  auto& high = desc ? opts_.startKey : opts_.endKey;
  if (!low || *low < kDesignLow) low = kDesignLow;
  if (!high || *high > kDesignHigh) high = kDesignHigh;
}

Status AllDocsListing::head(std::string& out) {
  auto read = db_->info();
  if (!read) return read.status();
  const DatabaseInfo& info = *read;
  opts_.includeDocs = q_.includeDocs;
  opts_.conflicts = q_.conflicts;
  opts_.attachments = q_.attachments;
  opts_.attEncodingInfo = q_.attEncodingInfo;
  // CouchDB counts only design documents in _design_docs' total_rows. A count over their ids: there are
  // few, and the Database keeps no counter of them.
  uint64_t total = info.docCount;
  if (ns_ == DocNamespace::Design) {
    AllDocsOptions count;
    count.startKey = kDesignLow;
    count.endKey = kDesignHigh;
    total = 0;
    auto counted = db_->allDocs(count, [&](const AllDocsRow&) {
      ++total;
      return true;
    });
    if (!counted) return counted.status();
  }
  std::optional<uint64_t> offset;
  if (!q_.keys) {
    resolveRange();
    remaining_ = q_.limit;
    uint64_t before = 0;
    if (opts_.startKey && ns_ != DocNamespace::Local) {
      // The rows that precede the range in iteration order, in the whole database (CouchDB's offset is
      // a position among all documents, for _design_docs too). A count over the ids, since the
      // Database offers no cheaper one.
      AllDocsOptions count;
      count.descending = opts_.descending;
      count.endKey = opts_.startKey;
      count.inclusiveEnd = false;
      auto counted = db_->allDocs(count, [&](const AllDocsRow&) {
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
    keys = std::vector<IdKey>(keys.begin() + static_cast<long>(from), keys.begin() + static_cast<long>(to));
  }
  db::JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "total_rows");
  if (ns_ == DocNamespace::Local)
    w.Null();
  else
    w.Uint64(total);
  writeKey(w, "offset");
  if (offset && ns_ != DocNamespace::Local)
    w.Uint64(*offset);
  else
    w.Null();  // CouchDB has no offset for `keys`
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

namespace {

// A row's members up to its document: {"id","key","value":{"rev","deleted"?}, or {"key","error"} for an
// id that names no document. The object is left open.
void rowHead(JsonWriter& w, const AllDocsRow& r) {
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
    return;
  }
  writeKey(w, "value");
  w.StartObject();
  writeKey(w, "rev");
  writeString(w, r.rev);
  if (r.deleted) {
    writeKey(w, "deleted");
    w.Bool(true);
  }
  w.EndObject();
}

}  // namespace

void AllDocsListing::row(std::string& out, const AllDocsRow& r) {
  if (!firstRow_) out += ',';
  firstRow_ = false;
  db::JsonBuffer buf;
  JsonWriter w(buf);
  rowHead(w, r);
  if (r.found && q_.includeDocs) {
    writeKey(w, "doc");
    if (r.doc.empty())
      w.Null();
    else
      db::writeRaw(w, r.doc);
  }
  w.EndObject();
  out.append(db::bufferView(buf));
}

Status AllDocsListing::rowWithBodies(std::string& out, const AllDocsRow& r) {
  if (!r.found || r.deleted) {
    row(out, r);
    return Status::ok();
  }
  // The revision listed, so the row and its doc agree even if the document moved on since.
  ReadOptions read;
  read.rev = r.rev;
  read.conflicts = q_.conflicts;
  read.attachments = true;
  read.attEncodingInfo = q_.attEncodingInfo;
  std::vector<Attachment> atts;
  db::Store& store = db::storeOf(*db_);
  auto doc = store.get(r.id, read, &atts, db::Store::FollowMode::Reference);
  if (!doc && doc.status().code() != ErrorCode::NotFound) return doc.status();
  if (!firstRow_) out += ',';
  firstRow_ = false;
  db::JsonBuffer buf;
  JsonWriter w(buf);
  rowHead(w, r);
  writeKey(w, "doc");
  if (!doc || atts.empty()) {
    // No bodies to inline: the document as read, or none when its body is gone (compacted away since
    // the ids were read), as for a winner without one.
    if (doc)
      db::writeRaw(w, *doc);
    else
      w.Null();
    w.EndObject();
    out.append(db::bufferView(buf));
    return Status::ok();
  }
  // The writer puts the ':' before a value; the value is the pieces that follow.
  out.append(db::bufferView(buf));
  out += ':';
  auto pieces = inlineBodies(store, *doc, atts, kLoadBudget, q_.attEncodingInfo);
  if (!pieces) return pieces.status();
  textOf(*pieces) += '}';
  if (!readsStore(*pieces)) {
    out += joinText(std::move(*pieces));
    return Status::ok();
  }
  pending_ = std::make_unique<PieceReader>(std::move(*pieces));
  return drain(out);
}

// A non-string key names no document: {"key":<the key>,"error":"not_found"}.
void AllDocsListing::missingKeyRow(std::string& out, const std::string& json) {
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

// Whether the range is exhausted, or why the page could not be read.
Result<bool> AllDocsListing::rangePage(std::string& out) {
  if (empty_ || remaining_ == 0) return true;
  AllDocsOptions o = opts_;
  if (cursor_) {
    o.startKey = cursor_;  // inclusive: the row at the cursor was sent and is passed over below
  } else {
    o.skip = q_.skip;
  }
  if (readsBodies()) {
    // The ids first; each document is read after the call, since a row callback must not call the
    // Database.
    o.includeDocs = false;
    const uint64_t want = std::min<uint64_t>(remaining_, kRowsPerPage);
    std::vector<AllDocsRow> rows;
    auto read = list(o, [&](const AllDocsRow& r) {
      if (cursor_ && r.id == *cursor_) return true;
      rows.push_back(r);
      return rows.size() < want;
    });
    if (!read) return read.status();
    for (const AllDocsRow& r : rows) {
      if (Status st = rowWithBodies(out, r); !st) return st;
      cursor_ = r.id;
      if (--remaining_ == 0) return true;
      if (pending_ || out.size() >= kPageBytes) return false;
    }
    return rows.size() < want;
  }
  bool more = false;
  size_t n = 0;
  std::string last;
  auto read = list(o, [&](const AllDocsRow& r) {
    if (cursor_ && r.id == *cursor_) return true;
    row(out, r);
    last = r.id;
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
  if (n > 0) cursor_ = std::move(last);
  return !more;
}

// Whether every key is answered, or why the page could not be read. The ids of up to kRowsPerPage keys
// go to the Database in one call; their rows are written as they come, with the rows of non-string keys
// between them, and the page ends early (at a key) once it passes kPageBytes.
Result<bool> AllDocsListing::keysPage(std::string& out) {
  const auto& keys = *q_.keys;
  const size_t end = std::min(nextKey_ + kRowsPerPage, keys.size());
  AllDocsOptions o;
  o.includeDocs = q_.includeDocs && !readsBodies();  // with bodies, each document is read on its own
  o.conflicts = q_.conflicts;
  o.attEncodingInfo = q_.attEncodingInfo;
  o.keys.emplace();
  for (size_t i = nextKey_; i < end; ++i) {
    if (keys[i].isId) o.keys->push_back(keys[i].text);
  }
  size_t next = nextKey_;  // the next key to answer
  auto missingBefore = [&](size_t stop) {
    for (; next < stop && !keys[next].isId; ++next) missingKeyRow(out, keys[next].text);
  };
  if (readsBodies()) {
    std::vector<AllDocsRow> rows;
    if (!o.keys->empty()) {
      auto read = list(o, [&](const AllDocsRow& r) {
        rows.push_back(r);
        return true;
      });
      if (!read) return read.status();
    }
    for (const AllDocsRow& r : rows) {
      missingBefore(end);
      if (Status st = rowWithBodies(out, r); !st) return st;
      ++next;
      if (pending_ || out.size() >= kPageBytes) break;
    }
  } else if (!o.keys->empty()) {
    auto read = list(o, [&](const AllDocsRow& r) {
      missingBefore(end);
      row(out, r);
      ++next;
      return out.size() < kPageBytes;
    });
    if (!read) return read.status();
  }
  // Non-string keys after the last id, unless the page ended early (the next page starts with them).
  if (out.size() < kPageBytes && !pending_) missingBefore(end);
  nextKey_ = next;
  return nextKey_ >= keys.size();
}

namespace {

// GET|POST /{db}/_all_docs or _design_docs: one listing.
class ListingSource : public PageSource {
 public:
  ListingSource(std::shared_ptr<Call> call, DocNamespace ns) : call_(std::move(call)), ns_(ns) {}

  Status page(std::string& out, bool& done) override {
    if (!listing_) {
      auto q = parseAllDocsRequest(call_->req, call_->req.method == "POST");
      if (!q) return q.status();
      listing_.emplace(call_->db, std::move(*q), ns_);
    }
    return listing_->page(out, done);
  }

 private:
  std::shared_ptr<Call> call_;
  DocNamespace ns_;
  std::optional<AllDocsListing> listing_;
};

// POST /{db}/_all_docs/queries or _design_docs/queries: {"results":[...]}, the listings one after the
// other. Every entry is parsed before the first byte goes out, so a bad entry is the whole answer.
class QueriesSource : public PageSource {
 public:
  QueriesSource(std::shared_ptr<Call> call, DocNamespace ns) : call_(std::move(call)), ns_(ns) {}

  Status page(std::string& out, bool& done) override {
    if (!parsed_) {
      auto queries = parseAllDocsQueries(call_->req);
      if (!queries) return queries.status();
      queries_ = std::move(*queries);
      parsed_ = true;
      out += "{\"results\":[";
    }
    // Small listings share a page; a large one spreads over several.
    while (next_ < queries_.size() && out.size() < kPageBytes) {
      if (!current_) {
        if (next_ > 0) out += ',';
        current_.emplace(call_->db, std::move(queries_[next_]), ns_);
      }
      bool finished = false;
      if (Status st = current_->page(out, finished); !st) return st;
      if (!finished) return Status::ok();
      current_.reset();
      ++next_;
    }
    if (next_ == queries_.size()) {
      out += "]}";
      done = true;
    }
    return Status::ok();
  }

 private:
  std::shared_ptr<Call> call_;
  DocNamespace ns_;
  bool parsed_ = false;
  std::vector<AllDocsQuery> queries_;
  size_t next_ = 0;                        // the entry being answered
  std::optional<AllDocsListing> current_;  // its listing, once started
};

}  // namespace

void allDocs(std::shared_ptr<Call> call) {
  auto source = std::make_shared<ListingSource>(call, DocNamespace::All);
  streamPages(std::move(call), std::move(source));
}

void designDocs(std::shared_ptr<Call> call) {
  auto source = std::make_shared<ListingSource>(call, DocNamespace::Design);
  streamPages(std::move(call), std::move(source));
}

void allDocsQueries(std::shared_ptr<Call> call) {
  auto source = std::make_shared<QueriesSource>(call, DocNamespace::All);
  streamPages(std::move(call), std::move(source));
}

void designDocsQueries(std::shared_ptr<Call> call) {
  auto source = std::make_shared<QueriesSource>(call, DocNamespace::Design);
  streamPages(std::move(call), std::move(source));
}

void localDocs(std::shared_ptr<Call> call) {
  auto source = std::make_shared<ListingSource>(call, DocNamespace::Local);
  streamPages(std::move(call), std::move(source));
}

void localDocsQueries(std::shared_ptr<Call> call) {
  auto source = std::make_shared<QueriesSource>(call, DocNamespace::Local);
  streamPages(std::move(call), std::move(source));
}

}  // namespace settee::http::detail
