// mango_explain.cc — `_explain` in CouchDB 3.4's shape (mango_cursor:explain, mango_cursor_view:explain):
// the chosen index, the normalised selector, the options, every other index with why it lost, the
// selector's indexable fields, and the view arguments CouchDB would read the index with. The view
// arguments are CouchDB's (start_key/end_key as JSON arrays, "<MAX>" for its high sentinel), computed from
// the same ranges our key range comes from.
#include <algorithm>
#include <set>

#include "db/mango_find.h"
#include "db/mango_find_internal.h"
#include "db/mango_plan.h"
#include "db/store.h"

namespace settee::db {
namespace {

void writeIndex(JsonWriter& w, const std::optional<IndexSpec>& index) {
  writeIndexInfo(w, indexInfo(index ? &*index : nullptr));
}

void writeStrings(JsonWriter& w, const std::vector<std::string>& list) {
  w.StartArray();
  for (const auto& s : list) writeString(w, s);
  w.EndArray();
}

void writeOpts(JsonWriter& w, const FindQuery& q) {
  const FindOptions& o = q.options;
  w.StartObject();
  writeKey(w, "use_index");
  writeStrings(w, o.useIndex);
  writeKey(w, "bookmark");
  writeString(w, o.bookmark.empty() ? "nil" : o.bookmark);
  writeKey(w, "limit");
  w.Uint64(o.limit);
  writeKey(w, "skip");
  w.Uint64(o.skip);
  writeKey(w, "sort");
  w.StartObject();
  for (const auto& s : o.sort) {
    writeKey(w, s.field);
    writeString(w, s.descending ? "desc" : "asc");
  }
  w.EndObject();
  writeKey(w, "fields");
  writeStrings(w, o.fields);
  writeKey(w, "partition");
  writeString(w, "");
  writeKey(w, "r");
  w.Uint(o.r);
  writeKey(w, "conflicts");
  w.Bool(o.conflicts);
  writeKey(w, "stale");
  if (q.stale)
    writeString(w, "ok");
  else
    w.Bool(false);
  writeKey(w, "update");
  w.Bool(o.update);
  writeKey(w, "stable");
  w.Bool(o.stable);
  writeKey(w, "execution_stats");
  w.Bool(o.executionStats);
  writeKey(w, "allow_fallback");
  w.Bool(o.allowFallback);
  w.EndObject();
}

// CouchDB's start_key for a json index: a field's low value while there is one (mango_idx_view:start_key).
void writeStartKey(JsonWriter& w, const std::vector<FieldRange>& prefix) {
  w.StartArray();
  for (const auto& r : prefix) {
    if (!r.low) break;
    writeMangoValue(w, *r.low);
  }
  w.EndArray();
}

// Its end_key: the high values while there are some, then "<MAX>" (mango_idx_view:end_key).
void writeEndKey(JsonWriter& w, const std::vector<FieldRange>& prefix) {
  w.StartArray();
  bool capped = false;
  for (const auto& r : prefix) {
    if (!r.high) {
      writeString(w, "<MAX>");
      capped = true;
      break;
    }
    writeMangoValue(w, *r.high);
  }
  if (!capped) writeString(w, "<MAX>");
  w.EndArray();
}

void writeMrArgs(JsonWriter& w, const FindQuery& q, const FindPlan& plan) {
  w.StartObject();
  writeKey(w, "include_docs");
  w.Bool(!plan.covering);
  writeKey(w, "view_type");
  writeString(w, "map");
  writeKey(w, "reduce");
  w.Bool(false);
  writeKey(w, "partition");
  w.Null();
  // Keys in reading order: a descending read starts at the high end.
  auto low = [&] {
    if (plan.nothing) {
      w.Null();
    } else if (plan.index) {
      writeStartKey(w, plan.prefix);
    } else if (plan.startId) {
      writeString(w, *plan.startId);
    } else {
      w.Null();
    }
  };
  auto high = [&] {
    if (plan.nothing) {
      w.Null();
    } else if (plan.index) {
      writeEndKey(w, plan.prefix);
    } else if (plan.endId) {
      writeString(w, *plan.endId);
    } else {
      writeString(w, "<MAX>");
    }
  };
  writeKey(w, "start_key");
  plan.descending ? high() : low();
  writeKey(w, "end_key");
  plan.descending ? low() : high();
  writeKey(w, "direction");
  writeString(w, plan.descending ? "rev" : "fwd");
  writeKey(w, "stable");
  w.Bool(q.options.stable);
  writeKey(w, "update");
  w.Bool(q.options.update);
  writeKey(w, "conflicts");
  if (q.options.conflicts)
    w.Bool(true);
  else
    writeString(w, "undefined");
  w.EndObject();
}

void writeCandidates(JsonWriter& w, const FindPlan& plan) {
  w.StartArray();
  for (const auto& c : plan.candidates) {
    w.StartObject();
    writeKey(w, "index");
    writeIndex(w, c.index);
    writeKey(w, "analysis");
    w.StartObject();
    writeKey(w, "usable");
    w.Bool(c.usable);
    writeKey(w, "reasons");
    w.StartArray();
    w.StartObject();
    writeKey(w, "name");
    writeString(w, c.reason);
    w.EndObject();
    w.EndArray();
    writeKey(w, "ranking");
    w.Int(c.ranking);
    writeKey(w, "covering");
    if (c.index)
      w.Bool(c.covering);
    else
      w.Null();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
}

void writeSelectorHints(JsonWriter& w, const Selector& selector) {
  std::set<std::string> indexable;
  for (const auto& c : selector.topConditions()) {
    if (c.op != Selector::Condition::Op::Other) indexable.insert(c.field);
  }
  std::vector<std::string> unindexable;
  for (const auto& f : selector.fields()) {
    if (!indexable.count(f)) unindexable.push_back(f);
  }
  w.StartArray();
  w.StartObject();
  writeKey(w, "type");
  writeString(w, "json");
  writeKey(w, "indexable_fields");
  writeStrings(w, {indexable.begin(), indexable.end()});
  writeKey(w, "unindexable_fields");
  writeStrings(w, unindexable);
  w.EndObject();
  w.EndArray();
}

}  // namespace

Status writeExplain(Store& store, const FindQuery& query, std::string_view dbName, JsonWriter& w) {
  auto indexes = store.indexes();
  if (!indexes) return indexes.status();
  auto planned = planFind(query, *indexes);
  if (!planned) return planned.status();
  const FindPlan& plan = *planned;
  w.StartObject();
  writeKey(w, "dbname");
  writeString(w, dbName);
  writeKey(w, "index");
  writeIndex(w, plan.index);
  writeKey(w, "partitioned");
  w.Bool(false);
  writeKey(w, "selector");
  query.selector.writeNormalized(w);
  writeKey(w, "opts");
  writeOpts(w, query);
  writeKey(w, "limit");
  w.Uint64(query.options.limit);
  writeKey(w, "skip");
  w.Uint64(query.options.skip);
  writeKey(w, "fields");
  writeStrings(w, query.options.fields);
  writeKey(w, "index_candidates");
  writeCandidates(w, plan);
  writeKey(w, "selector_hints");
  writeSelectorHints(w, query.selector);
  writeKey(w, "mrargs");
  writeMrArgs(w, query, plan);
  writeKey(w, "covering");
  w.Bool(plan.covering);
  w.EndObject();
  return Status::ok();
}

}  // namespace settee::db
