// One view query's answer, a page at a time: map rows (with their documents when asked) or reduced rows,
// for a key range or for each of `keys`, in CouchDB's framing ("rows":[\r\n row,\r\n row \r\n]}).
//
// Paging: each page is one ViewIndex::scan or ::reduce call that stops after kRowsPerPage rows. The next
// page starts the same scan again at the last row sent — startkey = its key, startkey_docid = its id — and
// skips the rows at that same (key, id) already sent (a document may emit one key several times; such
// rows keep their emit order). Reduced rows resume at the last group's key and drop that group when it
// comes again (it is complete on the ascending side and a part on the descending one).
#include <simdjson.h>

#include "db/collate_key.h"
#include "http/handlers/view_internal.h"

namespace settee::http::detail {
namespace {

using db::JsonWriter;
using db::writeKey;
using db::writeString;

constexpr size_t kRowsPerPage = 500;
// A page ends once its rows pass this size, so include_docs of large documents keeps a page to one
// large row beyond it.
constexpr size_t kPageBytes = 512 * 1024;

bool collationEqual(std::string_view a, std::string_view b) {
  if (a == b) return true;
  simdjson::dom::parser pa, pb;
  simdjson::dom::element ea, eb;
  if (pa.parse(a.data(), a.size()).get(ea) || pb.parse(b.data(), b.size()).get(eb)) return false;
  std::string ka, kb;
  db::appendCollationKey(ea, ka);
  db::appendCollationKey(eb, kb);
  return ka == kb;
}

struct MapRow {
  std::string id, key, value;
};
struct RedRow {
  std::string key, value;
};

// Where the next page of a scan starts.
struct Resume {
  std::string key, id;
  uint64_t ties = 0;  // rows at (key, id) already sent
};

}  // namespace

struct ViewAnswer::State {
  std::shared_ptr<ViewTarget> t;
  ViewQuery q;
  bool red = false;
  db::ViewGrouping grouping;
  bool started = false;
  bool headSent = false;
  bool anyRow = false;
  uint64_t remaining = UINT64_MAX;       // rows still to send (limit)
  uint64_t skipLeft = 0;                 // with keys: rows still to skip, across keys
  size_t nextKey = 0;                    // with keys: the key being answered
  std::optional<Resume> resume;          // map rows: where the current range goes on
  std::optional<std::string> lastGroup;  // reduced rows: the last group's key sent in the current range
  bool rangeDone = false;

  // The range of the query, or of one of its keys.
  db::ViewScan baseScan() const {
    db::ViewScan s;
    s.descending = q.descending;
    s.inclusiveEnd = q.inclusiveEnd;
    s.startKeyDocId = q.startKeyDocId;
    s.endKeyDocId = q.endKeyDocId;
    if (q.keys) {
      s.startKey = s.endKey = (*q.keys)[nextKey];
    } else {
      s.startKey = q.startKey;
      s.endKey = q.endKey;
    }
    return s;
  }

  void separator(std::string& out) {
    out += anyRow ? ",\r\n" : "";
    anyRow = true;
  }

  void mapHead(std::string& out, uint64_t total, std::optional<uint64_t> offset) {
    db::JsonBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    writeKey(w, "total_rows");
    w.Uint64(total);
    writeKey(w, "offset");
    if (offset)
      w.Uint64(*offset);
    else
      w.Null();
    if (q.updateSeq) {
      writeKey(w, "update_seq");
      w.Uint64(t->index->updateSeq());
    }
    writeKey(w, "rows");
    w.StartArray();
    // The object and array stay open: rows follow, "\r\n]}" closes them.
    out.append(db::bufferView(buf));
    out += "\r\n";
    headSent = true;
  }

  void redHead(std::string& out) {
    if (headSent) return;
    out += "{";
    if (q.updateSeq) out += "\"update_seq\":" + std::to_string(t->index->updateSeq()) + ",";
    out += "\"rows\":[\r\n";
    headSent = true;
  }

  // The document a row links to: the emitted value's {"_id", "_rev"?} when it has one, else the row's.
  void writeDoc(JsonWriter& w, const MapRow& r) {
    std::string id = r.id;
    ReadOptions read;
    read.conflicts = q.conflicts.value_or(false);
    read.attachments = q.attachments;
    read.attEncodingInfo = q.attEncodingInfo;
    simdjson::dom::parser parser;
    simdjson::dom::object value;
    if (!r.value.empty() && r.value.front() == '{' && !parser.parse(r.value).get(value)) {
      std::string_view linked, rev;
      if (!value["_id"].get(linked)) {
        id.assign(linked);
        if (!value["_rev"].get(rev)) read.rev.assign(rev);
      }
    }
    auto doc = t->db->get(id, read);
    if (doc)
      db::writeRaw(w, *doc);
    else
      w.Null();
  }

  void mapRow(std::string& out, const MapRow& r) {
    separator(out);
    db::JsonBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    writeKey(w, "id");
    writeString(w, r.id);
    writeKey(w, "key");
    db::writeRaw(w, r.key, rapidjson::kNumberType);
    writeKey(w, "value");
    db::writeRaw(w, r.value, rapidjson::kNumberType);
    if (q.includeDocs) {
      writeKey(w, "doc");
      writeDoc(w, r);
    }
    w.EndObject();
    out.append(db::bufferView(buf));
  }

  void redRow(std::string& out, const RedRow& r) {
    redHead(out);
    separator(out);
    db::JsonBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    writeKey(w, "key");
    db::writeRaw(w, r.key, rapidjson::kNumberType);
    writeKey(w, "value");
    db::writeRaw(w, r.value, rapidjson::kNumberType);
    w.EndObject();
    out.append(db::bufferView(buf));
  }

  // One page of map rows from the current range; sets rangeDone when it is exhausted.
  Status mapPage(std::string& out) {
    db::ViewScan s = baseScan();
    const bool first = !resume;
    if (resume) {
      s.startKey = resume->key;
      s.startKeyDocId = resume->id;
      s.skip = resume->ties;
    } else if (!q.keys) {
      s.skip = q.skip;
    }
    // With keys, skip and limit count across keys, so they are applied here, not by the scan.
    const uint64_t want = q.keys ? UINT64_MAX : remaining;
    s.limit = want;
    std::vector<MapRow> rows;
    uint64_t offset = 0;
    auto total = t->index->scan(
        t->view, s,
        [&](const db::ViewRow& r) {
          rows.push_back({std::string(r.id), std::string(r.key), std::string(r.value)});
          return rows.size() < kRowsPerPage;
        },
        first && !headSent ? &offset : nullptr);
    if (!total) return total.status();
    if (!headSent) mapHead(out, *total, offset);
    for (const MapRow& r : rows) {
      if (resume && resume->id == r.id && collationEqual(resume->key, r.key)) {
        ++resume->ties;
      } else {
        resume = Resume{r.key, r.id, 1};
      }
      if (skipLeft > 0) {
        --skipLeft;
        continue;
      }
      if (remaining == 0) break;
      mapRow(out, r);
      --remaining;
    }
    rangeDone = rows.size() < kRowsPerPage || remaining == 0;
    return Status::ok();
  }

  // One page of reduced rows from the current range; sets rangeDone when it is exhausted.
  Status redPage(std::string& out, const db::Reducer& reducer) {
    db::ViewScan s = baseScan();
    const bool resuming = lastGroup.has_value();
    if (resuming) {
      s.startKey = *lastGroup;
      s.startKeyDocId.reset();
    } else if (!q.keys) {
      s.skip = q.skip;
    }
    if (!q.keys && remaining != UINT64_MAX) s.limit = remaining + (resuming ? 1 : 0);
    std::vector<RedRow> rows;
    const size_t cap = kRowsPerPage + (resuming ? 1 : 0);
    Status st = t->index->reduce(t->view, s, grouping, reducer, [&](const db::ReducedRow& r) {
      rows.push_back({std::string(r.key), std::string(r.value)});
      return rows.size() < cap;
    });
    if (!st) return st;
    size_t from = 0;
    if (resuming && !rows.empty() && collationEqual(rows.front().key, *lastGroup)) from = 1;
    for (size_t i = from; i < rows.size(); ++i) {
      lastGroup = rows[i].key;
      if (skipLeft > 0) {
        --skipLeft;
        continue;
      }
      if (remaining == 0) break;
      redRow(out, rows[i]);
      --remaining;
    }
    // Without grouping a range reduces to one row: there is nothing to resume.
    const bool grouped = grouping.group || grouping.groupLevel;
    rangeDone = !grouped || rows.size() < cap || remaining == 0;
    return Status::ok();
  }
};

ViewAnswer::ViewAnswer(std::shared_ptr<ViewTarget> target, ViewQuery query) : s_(std::make_unique<State>()) {
  s_->t = std::move(target);
  s_->q = std::move(query);
  const ViewQuery& q = s_->q;
  s_->red = !s_->t->spec.views[s_->t->view].reduce.empty() && q.reduce != std::optional<bool>(false);
  if (q.group == std::optional<bool>(true) && !q.groupLevel) {
    s_->grouping.group = true;
  } else if (q.groupLevel && *q.groupLevel > 0) {
    s_->grouping.groupLevel = static_cast<uint32_t>(std::min<uint64_t>(*q.groupLevel, UINT32_MAX));
  }
  s_->remaining = q.limit;
  if (q.keys) s_->skipLeft = q.skip;
}

ViewAnswer::~ViewAnswer() = default;

Status ViewAnswer::page(std::string& out, bool& done) {
  State& s = *s_;
  ViewTarget& t = *s.t;
  if (!s.started) {
    if (s.q.update == ViewUpdate::Now) {
      auto updated = t.registry->update(*t.db, *t.index);
      if (!updated) return updated.status();
    }
    s.started = true;
  }
  const db::Reducer reducer = s.red ? makeReducer(t.design) : db::Reducer();
  const size_t start = out.size();
  bool finished = false;
  while (!finished && out.size() - start < kPageBytes) {
    if (s.q.keys && s.nextKey >= s.q.keys->size()) {
      finished = true;
      break;
    }
    if (s.remaining == 0 && s.headSent) {
      finished = true;
      break;
    }
    Status st = s.red ? s.redPage(out, reducer) : s.mapPage(out);
    if (!st) return st;
    if (!s.rangeDone) break;  // a full page: the next call goes on where this one stopped
    s.resume.reset();
    s.lastGroup.reset();
    if (!s.q.keys) {
      finished = true;
    } else {
      ++s.nextKey;
    }
  }
  if (!finished) return Status::ok();
  if (!s.headSent) {
    if (s.red) {
      // No row, and no meta: CouchDB answers {"rows":[]} whole.
      out += s.q.updateSeq ? "{\"update_seq\":" + std::to_string(t.index->updateSeq()) + ",\"rows\":[]}"
                           : std::string("{\"rows\":[]}");
      done = true;
      return Status::ok();
    }
    // keys=[]: the view's total with no rows.
    db::ViewScan none;
    none.limit = 0;
    auto total = t.index->scan(t.view, none, [](const db::ViewRow&) { return false; });
    if (!total) return total.status();
    s.mapHead(out, *total, std::nullopt);
  }
  out += "\r\n]}";
  done = true;
  if (s.q.update == ViewUpdate::After) t.registry->updateLater(t.db, t.index);
  return Status::ok();
}

}  // namespace settee::http::detail
