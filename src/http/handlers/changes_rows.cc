// _changes rows: one batch read off the loop — scan the store, apply the filter, render each row.
#include <exception>

#include "db/database_internal.h"
#include "http/handlers/changes_feed.h"
#include "http/multipart.h"

namespace settee::http::changes {
namespace {

using db::writeKey;
using db::writeString;

// Attachment bytes read together with one document (each body below detail::kLoadWhole) and rendered in
// its row; larger bodies, and small ones past this, are streamed from the store (BatchResult::tail).
constexpr uint64_t kLoadBudget = 1024 * 1024;

// `{"seq":N,"id":"...","changes":[{"rev":"..."}],"deleted":true?,"doc":{...}?}` — CouchDB's member order.
void renderRow(std::string& out, const Change& c, const Result<std::string>* doc) {
  out.append(writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    writeKey(w, "seq");
    w.Uint64(c.seq);
    writeKey(w, "id");
    writeString(w, c.id);
    writeKey(w, "changes");
    w.StartArray();
    for (const auto& rev : c.revs) {
      w.StartObject();
      writeKey(w, "rev");
      writeString(w, rev);
      w.EndObject();
    }
    w.EndArray();
    if (c.deleted) {
      writeKey(w, "deleted");
      w.Bool(true);
    }
    if (doc) {
      writeKey(w, "doc");
      // A revision whose body went away between the scan and the read (compaction, purge) has no doc.
      if (*doc)
        db::writeRaw(w, **doc);
      else
        w.Null();
    }
    w.EndObject();
  }));
}

// Frames one rendered row for the feed kind.
void appendFramed(std::string& chunk, FeedKind feed, const std::string& row, uint64_t seq, bool first) {
  switch (feed) {
    case FeedKind::Normal:
    case FeedKind::Longpoll:
      if (!first) chunk.append(",\n");
      chunk.append(row);
      break;
    case FeedKind::Continuous:
      chunk.append(row);
      chunk.push_back('\n');
      break;
    case FeedKind::EventSource:
      chunk.append("data: ");
      chunk.append(row);
      chunk.append("\nid: ");
      chunk.append(std::to_string(seq));
      chunk.append("\n\n");
      break;
  }
}

// Which scanned rows a JavaScript filter (filter=ddoc/name or _view) lets through: one call to the query
// servers for the whole batch, each document at the revision scanned. The design document is read for
// every batch, so a feed follows its edits as CouchDB's does. Without query servers (the C API) a filter
// that exists is refused rather than ignored, since ignoring it would send what the client filtered out.
Result<std::vector<bool>> runJsFilter(Database& db, const ChangesFilter& filter, const std::vector<Change>& rows) {
  JsFilter js{filter.ddoc, filter.name, filter.kind == ChangesFilter::Kind::View};
  auto ddoc = filterDesignDoc(db, js);
  if (!ddoc) return ddoc.status();
  if (!filter.js || !filter.js->design)
    return badRequest("JavaScript filter functions need the node's query servers");
  std::vector<std::string> docs;
  docs.reserve(rows.size());
  for (const Change& c : rows) {
    ReadOptions ro;
    ro.rev = c.revs.front();
    auto doc = db.get(c.id, ro);
    if (doc) {
      docs.push_back(std::move(*doc));
      continue;
    }
    docs.push_back(writeJson([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "_id");
      db::writeString(w, c.id);
      db::writeKey(w, "_rev");
      db::writeString(w, c.revs.front());
      db::writeKey(w, "_deleted");
      w.Bool(true);
      w.EndObject();
    }));
  }
  std::vector<std::string_view> views(docs.begin(), docs.end());
  std::string req;
  if (!js.view) {
    const ChangesFilter::JsContext& cx = *filter.js;
    std::string secObj = "{}";
    if (auto security = db.security(); security && !security->empty()) secObj = std::move(*security);
    req = filterRequestJson(cx.dbName, cx.method, cx.rawPath, cx.query, cx.headers, cx.body, cx.peer, cx.userCtx,
                            secObj);
  }
  return runFilter(*filter.js->design, *ddoc, js, views, req);
}

// Rows left after `cursor` in the feed's direction, counted up to kPendingCountCap.
Result<uint64_t> countPending(Database& db, const ChangesParams& params, uint64_t cursor) {
  uint64_t n = 0;
  ChangesOptions o;
  if (params.descending) {
    o.descending = true;
    auto scan = db.changes(o, [&](const Change& c) {
      if (c.seq < cursor) ++n;
      return n < kPendingCountCap;
    });
    if (!scan) return scan.status();
    return n;
  }
  o.since = cursor;
  o.limit = kPendingCountCap;
  auto scan = db.changes(o, [&](const Change&) {
    ++n;
    return true;
  });
  if (!scan) return scan.status();
  if (n < kPendingCountCap) return n;
  uint64_t updateSeq = db::storeOf(db).updateSeq();
  return updateSeq > cursor ? std::max(n, updateSeq - cursor) : n;
}

BatchResult failedBatch(Status status) {
  BatchResult out;
  out.status = std::move(status);
  return out;
}

BatchResult read(Database& db, const ChangesParams& params, const BatchRequest& req, bool firstRow) {
  BatchResult out;
  const bool jsFilter =
      params.filter.kind == ChangesFilter::Kind::Custom || params.filter.kind == ChangesFilter::Kind::View;
  if (req.checkFilter && jsFilter) {
    // The first batch answers a missing filter with CouchDB's 404 before the feed's headers go out.
    auto none = runJsFilter(db, params.filter, {});
    if (!none) return failedBatch(none.status());
  }
  uint64_t cursor = req.resolveSinceNow ? db::storeOf(db).updateSeq() : req.cursor;
  out.cursor = cursor;

  // The scan: Change values only, copied out, since the store's row callback runs under its lock and
  // must not call back into it (documents are read afterwards).
  std::vector<Change> scanned;
  scanned.reserve(kBatchRows);
  ChangesOptions o;
  o.allLeaves = params.allLeaves;
  if (params.descending) {
    // The store reads descending from the newest row; rows at or above the cursor were sent already.
    o.descending = true;
    auto scan = db.changes(o, [&](const Change& c) {
      if (c.seq < cursor) scanned.push_back(c);
      return scanned.size() < kBatchRows;
    });
    if (!scan) return failedBatch(scan.status());
    out.caughtUp = scanned.size() < kBatchRows;
  } else {
    // The horizon is read before the scan: every row at or below it exists by now, so once the scan
    // passes them all the cursor may move up to it even when the last rows were filtered out.
    out.horizon = req.horizon ? *req.horizon : db::storeOf(db).updateSeq();
    o.since = cursor;
    o.limit = kBatchRows;
    bool pastHorizon = false;
    auto scan = db.changes(o, [&](const Change& c) {
      if (c.seq > out.horizon) {
        pastHorizon = true;
        return false;
      }
      scanned.push_back(c);
      return true;
    });
    if (!scan) return failedBatch(scan.status());
    out.caughtUp = pastHorizon || scanned.size() < kBatchRows;
  }

  simdjson::dom::parser parser;
  std::string row;
  std::string placeholder;
  const ChangesFilter& filter = params.filter;
  bool wantDoc = params.includeDocs || filter.kind == ChangesFilter::Kind::Selector;
  const bool streamBodies = params.includeDocs && params.docOptions.attachments;
  db::Store& store = db::storeOf(db);
  std::vector<bool> passes;
  if (jsFilter) {
    auto ran = runJsFilter(db, filter, scanned);
    if (!ran) return failedBatch(ran.status());
    passes = std::move(*ran);
  }
  for (const Change& c : scanned) {
    if (out.chunk.size() >= kBatchBytes) {
      out.caughtUp = false;  // the rest of this scan is read again by the next batch
      break;
    }
    out.cursor = c.seq;
    if (!filter.passesId(c.id)) continue;
    if (jsFilter && !passes[static_cast<size_t>(&c - scanned.data())]) continue;
    std::optional<Result<std::string>> doc;
    std::vector<Attachment> atts;
    if (wantDoc) {
      // The winner as scanned, so the row and its doc agree even if the document moved on since.
      ReadOptions ro = params.includeDocs ? params.docOptions : ReadOptions{};
      ro.rev = c.revs.front();
      // With bodies wanted they come by reference, to be inlined below without holding them all.
      if (streamBodies)
        doc.emplace(store.get(c.id, ro, &atts, db::Store::FollowMode::Reference));
      else
        doc.emplace(db.get(c.id, ro));
    }
    if (filter.kind == ChangesFilter::Kind::Selector) {
      simdjson::dom::element body;
      if (!*doc || parser.parse(**doc).get(body) || !filter.selector->matches(body)) continue;
    }
    std::optional<detail::Pieces> pieces;
    if (streamBodies && *doc && !atts.empty()) {
      auto inlined = detail::inlineBodies(store, **doc, atts, kLoadBudget, params.docOptions.attEncodingInfo);
      if (!inlined) return failedBatch(inlined.status());
      if (detail::readsStore(*inlined)) {
        // The row is rendered around a placeholder doc, then cut there: the bodies go in between.
        placeholder = "\"" + randomBoundary() + "\"";
        **doc = placeholder;
        pieces = std::move(*inlined);
      } else {
        **doc = detail::joinText(std::move(*inlined));
      }
    }
    row.clear();
    renderRow(row, c, params.includeDocs ? &*doc : nullptr);
    const bool first = firstRow && out.rows == 0;
    if (pieces) {
      std::string framed;
      appendFramed(framed, params.feed, row, c.seq, first);
      const size_t at = framed.find(placeholder);
      out.chunk.append(framed, 0, at);
      detail::textOf(*pieces).append(framed, at + placeholder.size(), std::string::npos);
      out.tail = std::make_shared<detail::PieceReader>(std::move(*pieces));
    } else {
      appendFramed(out.chunk, params.feed, row, c.seq, first);
    }
    if (++out.rows == req.remaining) {
      out.limitReached = true;
      out.caughtUp = false;
      break;
    }
    if (out.tail) {
      out.caughtUp = false;  // the rest of this scan is read again by the next batch
      break;
    }
  }
  if (req.finalBatch && !out.caughtUp && !out.limitReached) out.limitReached = true;
  if (out.caughtUp && !params.descending) out.cursor = std::max(out.cursor, out.horizon);
  if (out.limitReached) {
    auto pending = countPending(db, params, out.cursor);
    if (!pending) return failedBatch(pending.status());
    out.pending = *pending;
  }
  return out;
}

}  // namespace

bool ChangesFilter::passesId(std::string_view id) const {
  switch (kind) {
    case Kind::DocIds:
      return docIds.count(std::string(id)) > 0;
    case Kind::Design:
      return id.substr(0, 8) == "_design/";
    default:
      return true;
  }
}

BatchResult readBatch(Database& db, const ChangesParams& params, const BatchRequest& request, bool firstRow) {
  try {
    return read(db, params, request, firstRow);
  } catch (const std::exception& e) {
    BatchResult out;
    out.status = Status(ErrorCode::Internal, e.what());
    return out;
  }
}

}  // namespace settee::http::changes
