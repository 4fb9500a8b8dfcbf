// store_index.cc — the Store's json index rows (mango_index.h): registrations, rows kept in the write
// transaction, and building the rows of documents older than their index (scans: store_index_scan.cc).
//
// Tables (store.cc creates them):
//   mango_indexes — one row per index a design document defines now; `def` is its definition as JSON
//     (the listing's shape), so a changed definition is a new registration. Documents whose sequence is
//     at most `build_upto` (the sequence of the design document write that registered the index) and
//     above `built_to` have no rows yet: updateIndex() builds them. Every write after registration keeps
//     its rows inline, so the two sets never overlap and the index is exact once built_to reaches
//     build_upto.
//   mango_rows — (idx, key, doc_id) → vals: the collation key of the indexed values, and those values as
//     a JSON array, so a scan can test them without reading the document.
//   mango_row_keys — (idx, doc_id) → key: where a document's row is, to replace it on the next write.
#include <algorithm>
#include <array>
#include <chrono>
#include <thread>

#include "db/collate_key.h"
#include "db/json.h"
#include "db/rev_tree_codec.h"
#include "db/store.h"
#include "db/store_index_state.h"

namespace settee::db {

namespace {

// Documents built per transaction by updateIndex(): each chunk holds the store's lock, so other calls
// wait at most one chunk (a few milliseconds of ~1 KB documents).
constexpr int kBuildChunk = 2000;
constexpr std::chrono::microseconds kBuildPause{500};

bool isDesignId(std::string_view id) { return id.substr(0, 8) == "_design/"; }

// A field path split on `.`, with `\.` a literal dot (Mango's rule).
std::vector<std::string> splitPath(std::string_view field) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 1 < field.size() && field[i + 1] == '.') {
      out.back().push_back('.');
      ++i;
    } else if (field[i] == '.') {
      out.emplace_back();
    } else {
      out.back().push_back(field[i]);
    }
  }
  return out;
}

// The value at `path` in `doc`, as Mango reads a field: objects by key, arrays by a decimal index.
bool fieldAt(simdjson::dom::element doc, const std::vector<std::string>& path, simdjson::dom::element& out) {
  simdjson::dom::element at = doc;
  for (const std::string& seg : path) {
    if (at.type() == simdjson::dom::element_type::OBJECT) {
      if (at.get_object().value_unsafe().at_key(seg).get(at)) return false;
    } else if (at.type() == simdjson::dom::element_type::ARRAY && !seg.empty() &&
               std::all_of(seg.begin(), seg.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
               seg.size() < 10) {
      if (at.get_array().value_unsafe().at(std::stoul(seg)).get(at)) return false;
    } else {
      return false;
    }
  }
  out = at;
  return true;
}

// The definition as the registry keeps it (and a listing shows it): {"fields":[{"f":"asc"}...],
// "partial_filter_selector":{...}}.
std::string defJson(const IndexSpec& spec) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "fields");
  w.StartArray();
  for (const SortField& f : spec.fields) {
    w.StartObject();
    writeKey(w, f.field);
    writeString(w, f.descending ? "desc" : "asc");
    w.EndObject();
  }
  w.EndArray();
  if (!spec.partialJson.empty()) {
    writeKey(w, "partial_filter_selector");
    writeRaw(w, spec.partialJson);
  }
  w.EndObject();
  return std::string(bufferView(buf));
}

Result<IndexSpec> specFromDef(std::string ddoc, std::string name, std::string_view def) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array fields;
  if (parser.parse(def.data(), def.size()).get(root) || root.at_key("fields").get_array().get(fields))
    return Status(ErrorCode::Internal, "corrupt index definition for " + ddoc + "/" + name);
  IndexSpec spec;
  spec.ddoc = std::move(ddoc);
  spec.name = std::move(name);
  for (simdjson::dom::element f : fields) {
    simdjson::dom::object o;
    if (f.get_object().get(o)) return Status(ErrorCode::Internal, "corrupt index definition");
    for (auto m : o) {
      std::string_view dir;
      if (m.value.get_string().get(dir)) dir = {};
      spec.fields.push_back({std::string(m.key), dir == "desc"});
    }
  }
  simdjson::dom::element partial;
  if (!root.at_key("partial_filter_selector").get(partial)) {
    auto sel = Selector::parse(partial);
    if (!sel) return sel.status();
    spec.partialJson = toJson(partial);
    spec.partial = std::make_shared<const Selector>(std::move(*sel));
  }
  return spec;
}

// A finished row of one document for one index.
struct Row {
  std::string key;
  std::string vals;
};

}  // namespace

namespace {

// The document as Mango sees it: the stored body with `_id` and `_rev` in front, so `_id` (and `_rev`)
// can be indexed and a partial filter selector can name them.
void fullDoc(std::string_view id, std::string_view rev, std::string_view body, std::string& out) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "_id");
  writeString(w, id);
  writeKey(w, "_rev");
  writeString(w, rev);
  w.EndObject();
  out.assign(bufferView(buf));
  if (body.size() > 2) {
    out.pop_back();
    out.push_back(',');
    out.append(body.substr(1));
  }
}

// The row of `doc` in `index`, or false when the document has none: a field is missing, or the partial
// filter selector does not match.
bool rowOf(const IndexSpec& spec, const std::vector<std::vector<std::string>>& paths,
           simdjson::dom::element doc, Row& row) {
  if (spec.partial && !spec.partial->matches(doc)) return false;
  row.key.clear();
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  for (const auto& path : paths) {
    simdjson::dom::element value;
    if (!fieldAt(doc, path, value)) return false;
    appendCollationKey(value, row.key);
    writeElement(w, value);
  }
  w.EndArray();
  row.vals.assign(bufferView(buf));
  return true;
}

}  // namespace

Status Store::initIndexes() {
  if (!index_) index_ = std::make_shared<IndexState>();
  // A rollback may undo a registration the cache already holds: read the registry again after one
  // (rolledBack() marks this cache and the sync peers' stale).
  sqlite3_rollback_hook(conn_.handle(), &Store::rolledBack, this);
  // A file from before indexes existed has design documents but no registrations: register them now
  // (their rows are built by updateIndex). In a file that has registrations this already happened.
  {
    Statement any(conn_.prepare("SELECT 1 FROM mango_indexes LIMIT 1"));
    if (any.step()) return Status::ok();
    if (any.failed()) return conn_.error("read indexes");
  }
  std::vector<std::pair<std::string, RevTree>> ddocs;
  {
    Statement scan(conn_.prepare("SELECT id, tree FROM docs WHERE id >= '_design/' AND id < '_design0'"));
    while (scan.step()) {
      auto tree = decodeRevTree(scan.blob(1));
      if (!tree) return {ErrorCode::Internal, "corrupt revision tree for " + std::string(scan.text(0))};
      ddocs.emplace_back(std::string(scan.text(0)), std::move(*tree));
    }
    if (scan.failed()) return conn_.error("read design documents");
  }
  for (auto& [id, tree] : ddocs) {
    if (Status st = keepIndexes(id, &tree, true); !st) return st;
  }
  return Status::ok();
}

Result<Store::IndexState*> Store::indexState() {
  IndexState& state = *index_;
  if (state.loaded) return &state;
  state.entries.clear();
  Statement get(conn_.prepare(
      "SELECT id, ddoc, name, def, build_upto, built_to FROM mango_indexes ORDER BY ddoc, name"));
  while (get.step()) {
    IndexState::Entry e;
    e.id = get.int64(0);
    auto spec = specFromDef(std::string(get.text(1)), std::string(get.text(2)), get.text(3));
    if (!spec) return spec.status();
    e.spec = std::move(*spec);
    e.def.assign(get.text(3));
    for (const SortField& f : e.spec.fields) e.paths.push_back(splitPath(f.field));
    e.buildUpto = static_cast<uint64_t>(get.int64(4));
    e.builtTo = static_cast<uint64_t>(get.int64(5));
    state.entries.push_back(std::move(e));
  }
  if (get.failed()) return conn_.error("read indexes");
  state.loaded = true;
  return &state;
}

Status Store::keepIndexes(std::string_view id, const RevTree* tree, bool existed, const WrittenRev* written) {
  auto state = indexState();
  if (!state) return state.status();
  const bool design = isDesignId(id);
  if (!design && (*state)->entries.empty()) return Status::ok();

  // The winner's body, when there is a live winner.
  thread_local std::string body, atts, doc;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool live = tree && !tree->empty() && !tree->deleted();
  if (live) {
    const RevNode& winner = (*tree)[tree->winner()];
    const std::string rev = winner.rev();
    Status readError;
    if (written && written->rev == rev) {
      fullDoc(id, rev, written->body, doc);  // the write's own revision won: no read back
    } else if (!winner.hasBody || !loadRev(id, rev, body, atts, &readError)) {
      if (!readError) return readError;
      live = false;  // a winner without a body (never sent by a replicator) has nothing to index
    } else {
      fullDoc(id, rev, body, doc);
    }
    if (live) {
      if (parser.parse(doc.data(), doc.size()).get(root))
        return {ErrorCode::Internal, "unreadable body of " + std::string(id)};
    }
  }

  if (design) {
    // The design document's definitions now, against those registered for it.
    std::vector<IndexSpec> now;
    if (live) now = indexesOfDesignDoc(id, root);
    std::vector<const IndexSpec*> added;
    for (const IndexSpec& spec : now) added.push_back(&spec);
    std::vector<int64_t> dropped;
    for (const auto& e : (*state)->entries) {
      if (e.spec.ddoc != id) continue;
      auto same = std::find_if(added.begin(), added.end(), [&](const IndexSpec* s) {
        return s->name == e.spec.name && defJson(*s) == e.def;
      });
      if (same != added.end())
        added.erase(same);
      else
        dropped.push_back(e.id);
    }
    if (added.empty() && dropped.empty()) return Status::ok();
    for (int64_t idx : dropped) {
      for (const char* sql :
           {"DELETE FROM mango_rows WHERE idx = ?", "DELETE FROM mango_row_keys WHERE idx = ?",
            "DELETE FROM mango_indexes WHERE id = ?"}) {
        Statement del(conn_.prepare(sql));
        del.bind(1, idx);
        if (!del.exec()) return conn_.error("drop index");
      }
    }
    // Every document written from now on keeps its rows inline; older ones are built by updateIndex().
    Statement put(conn_.prepare(
        "INSERT INTO mango_indexes(ddoc, name, def, build_upto, built_to) VALUES(?, ?, ?, ?, 0)"));
    for (const IndexSpec* spec : added) {
      std::string def = defJson(*spec);
      put.bind(1, id)
          .bind(2, std::string_view(spec->name))
          .bind(3, std::string_view(def))
          .bind(4, updateSeq_);
      if (!put.exec()) return conn_.error("register index");
      put.reset();
    }
    if (!added.empty()) indexRegistered_ = true;
    (*state)->loaded = false;
    return Status::ok();
  }

  Row row;
  // The document's row now, key and values: a write that keeps both (an edit of a field no index holds,
  // the common case) leaves the index untouched, so its transaction dirties no index page.
  Statement getOld(conn_.prepare(
      "SELECT k.key, r.vals FROM mango_row_keys k JOIN mango_rows r"
      " ON r.idx = k.idx AND r.key = k.key AND r.doc_id = k.doc_id WHERE k.idx = ? AND k.doc_id = ?"));
  Statement delOld(conn_.prepare("DELETE FROM mango_rows WHERE idx = ? AND key = ? AND doc_id = ?"));
  Statement delKey(conn_.prepare("DELETE FROM mango_row_keys WHERE idx = ? AND doc_id = ?"));
  Statement update(conn_.prepare("UPDATE mango_rows SET vals = ? WHERE idx = ? AND key = ? AND doc_id = ?"));
  Statement insert(conn_.prepare("INSERT INTO mango_rows(idx, key, doc_id, vals) VALUES(?, ?, ?, ?)"));
  Statement putKey(conn_.prepare("INSERT OR REPLACE INTO mango_row_keys(idx, doc_id, key) VALUES(?, ?, ?)"));
  thread_local std::string oldKey, oldVals;
  for (const auto& e : (*state)->entries) {
    const bool has = live && rowOf(e.spec, e.paths, root, row);
    bool hadOld = false;
    if (existed) {
      getOld.bind(1, e.id).bind(2, id);
      if (getOld.step()) {
        hadOld = true;
        oldKey.assign(getOld.blob(0));
        oldVals.assign(getOld.text(1));
      } else if (getOld.failed()) {
        return conn_.error("read index row");
      }
      getOld.reset();
    }
    if (hadOld && has && oldKey == row.key) {
      if (oldVals == row.vals) continue;
      update.bind(1, std::string_view(row.vals)).bind(2, e.id).bindBlob(3, row.key).bind(4, id);
      if (!update.exec()) return conn_.error("update index row");
      update.reset();
      continue;
    }
    if (hadOld) {
      delOld.bind(1, e.id).bindBlob(2, oldKey).bind(3, id);
      if (!delOld.exec()) return conn_.error("delete index row");
      delOld.reset();
    }
    if (has) {
      insert.bind(1, e.id).bindBlob(2, row.key).bind(3, id).bind(4, std::string_view(row.vals));
      if (!insert.exec()) return conn_.error("insert index row");
      insert.reset();
      putKey.bind(1, e.id).bind(2, id).bindBlob(3, row.key);
      if (!putKey.exec()) return conn_.error("insert index row");
      putKey.reset();
    } else if (hadOld) {
      delKey.bind(1, e.id).bind(2, id);
      if (!delKey.exec()) return conn_.error("delete index row");
      delKey.reset();
    }
  }
  return Status::ok();
}

Result<std::vector<IndexSpec>> Store::indexes() {
  std::lock_guard lock(mu_);
  auto state = indexState();
  if (!state) return state.status();
  std::vector<IndexSpec> out;
  for (const auto& e : (*state)->entries) out.push_back(e.spec);
  return out;
}

Result<uint64_t> Store::indexBacklog() {
  std::lock_guard lock(mu_);
  auto state = indexState();
  if (!state) return state.status();
  uint64_t backlog = 0;
  for (const auto& e : (*state)->entries)
    if (e.builtTo < e.buildUpto) backlog += e.buildUpto - e.builtTo;
  return backlog;
}

Status Store::updateIndex(const IndexSpec& index, const std::function<bool()>& stop) {
  for (bool first = true;; first = false) {
    if (stop && stop()) return Status::ok();
    // std::mutex is not fair: re-locking at once after a chunk would win against every call waiting for
    // the lock, so a long build would starve reads and writes. A pause between chunks lets them in.
    if (!first) std::this_thread::sleep_for(kBuildPause);
    std::lock_guard lock(mu_);
    auto state = indexState();
    if (!state) return state.status();
    IndexState::Entry* e = (*state)->find(index.ddoc, index.name);
    if (!e) return notFound("missing");
    if (e->builtTo >= e->buildUpto) return Status::ok();
    const int64_t idx = e->id;
    const uint64_t upto = e->buildUpto;
    uint64_t done = upto;
    {
      Transaction txn(conn_);
      if (Status st = txn.begun(); !st) return st;
      Statement scan(conn_.prepare(
          "SELECT seq, id, tree FROM docs WHERE seq > ? AND seq <= ? AND deleted = 0 ORDER BY seq LIMIT ?"));
      Statement insert(
          conn_.prepare("INSERT OR REPLACE INTO mango_rows(idx, key, doc_id, vals) VALUES(?, ?, ?, ?)"));
      Statement putKey(
          conn_.prepare("INSERT OR REPLACE INTO mango_row_keys(idx, doc_id, key) VALUES(?, ?, ?)"));
      scan.bind(1, e->builtTo).bind(2, upto).bind(3, kBuildChunk);
      std::string body, atts, doc;
      simdjson::dom::parser parser;
      Row row;
      int n = 0;
      while (scan.step()) {
        ++n;
        const uint64_t seq = static_cast<uint64_t>(scan.int64(0));
        std::string_view id = scan.text(1);
        if (n == kBuildChunk) done = seq;
        if (isDesignId(id)) continue;
        auto tree = decodeRevTree(scan.blob(2));
        if (!tree) return {ErrorCode::Internal, "corrupt revision tree for " + std::string(id)};
        const RevNode& winner = (*tree)[tree->winner()];
        Status readError;
        if (!winner.hasBody || !loadRev(id, winner.rev(), body, atts, &readError)) {
          if (!readError) return readError;
          continue;
        }
        fullDoc(id, winner.rev(), body, doc);
        simdjson::dom::element root;
        if (parser.parse(doc.data(), doc.size()).get(root))
          return {ErrorCode::Internal, "unreadable body of " + std::string(id)};
        if (!rowOf(e->spec, e->paths, root, row)) continue;
        insert.bind(1, idx).bindBlob(2, row.key).bind(3, id).bind(4, std::string_view(row.vals));
        if (!insert.exec()) return conn_.error("build index");
        insert.reset();
        putKey.bind(1, idx).bind(2, id).bindBlob(3, row.key);
        if (!putKey.exec()) return conn_.error("build index");
        putKey.reset();
      }
      if (scan.failed()) return conn_.error("build index");
      scan.reset();
      Statement save(conn_.prepare("UPDATE mango_indexes SET built_to = ? WHERE id = ?"));
      save.bind(1, done).bind(2, idx);
      if (!save.exec()) return conn_.error("build index");
      if (Status st = txn.commit(); !st) return st;
    }
    e->builtTo = done;  // the commit kept the cache (a rollback would have marked it stale)
  }
}

}  // namespace settee::db
