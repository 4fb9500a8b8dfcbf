// view_index_reduce.cc — ViewIndex::reduce: a range of a view's rows reduced whole, by key, or by
// key prefix (group_level), with built-in reduces in C++ and JavaScript ones through the Reducer.
#include <simdjson.h>

#include "db/collate_key.h"
#include "db/json.h"
#include "db/view_index_internal.h"
#include "db/view_reduce.h"

namespace settee::db {
namespace {

// Rows handed to a JavaScript reduce at once, and partial results rereduced at once: memory stays
// bounded by two chunks whatever the size of a group, and each call's JSON stays far below the query
// server's limits.
constexpr size_t kReduceChunk = 1000;

// The collation key type byte of an array, and the end of one (collate_key.cc's encoding).
constexpr char kArrayByte = 6;
constexpr char kEndByte = 0;

enum class GroupMode { All, Exact, Level };

// Reduces one group with a JavaScript function: rows in chunks, each chunk reduced, the partial
// results rereduced whenever a chunk of them is full and at the end.
class JsGroup {
 public:
  JsGroup(std::string_view source, const Reducer& reducer) : source_(source), reducer_(reducer) {}

  void reset() {
    used_ = 0;
    partials_.clear();
  }
  Status add(std::string_view id, std::string_view key, std::string_view value) {
    if (used_ == rows_.size()) rows_.emplace_back();
    Stored& r = rows_[used_++];
    r.id.assign(id);
    r.key.assign(key);
    r.value.assign(value);
    if (used_ == kReduceChunk) return flush();
    return Status::ok();
  }
  Result<std::string> finish() {
    if (partials_.empty()) return reduceRows();
    if (used_ > 0)
      if (Status st = flush(); !st) return st;
    if (partials_.size() == 1) return std::move(partials_.front());
    return rereduce();
  }

 private:
  struct Stored {
    std::string id, key, value;
  };
  Result<std::string> reduceRows() {
    ReduceInput input;
    input.rows.reserve(used_);
    for (size_t i = 0; i < used_; ++i)
      input.rows.push_back(ViewRow{rows_[i].id, rows_[i].key, rows_[i].value});
    used_ = 0;
    return reducer_(source_, input);
  }
  Result<std::string> rereduce() {
    ReduceInput input;
    input.rereduce = true;
    input.values.assign(partials_.begin(), partials_.end());
    auto out = reducer_(source_, input);
    partials_.clear();
    return out;
  }
  Status flush() {
    auto partial = reduceRows();
    if (!partial) return partial.status();
    partials_.push_back(std::move(*partial));
    if (partials_.size() == kReduceChunk) {
      auto merged = rereduce();
      if (!merged) return merged.status();
      partials_.push_back(std::move(*merged));
    }
    return Status::ok();
  }

  std::string_view source_;
  const Reducer& reducer_;
  std::vector<Stored> rows_;  // reused across chunks and groups: the strings keep their capacity
  size_t used_ = 0;
  std::vector<std::string> partials_;
};

}  // namespace

Status ViewIndex::reduce(size_t view, const ViewScan& scan, const ViewGrouping& grouping,
                         const Reducer& reducer, const std::function<bool(const ReducedRow&)>& row) {
  if (view >= impl_->spec.views.size()) return notFound("missing_named_view");
  const std::string& source = impl_->spec.views[view].reduce;
  if (source.empty())
    return Status(ErrorCode::BadRequest, "Reduce is invalid for map-only views.", "query_parse_error");
  const bool builtin = isBuiltinReduce(source);
  if (!builtin && !reducer) return Status(ErrorCode::Internal, "no reducer for a JavaScript reduce");
  auto range = rangeOf(scan);
  if (!range) return range.status();

  GroupMode mode = GroupMode::All;
  uint32_t level = 0;
  if (grouping.groupLevel) {
    level = *grouping.groupLevel;
    mode = level == 0 ? GroupMode::All : GroupMode::Level;
  } else if (grouping.group) {
    mode = GroupMode::Exact;
  }

  ReadScope scope(*impl_);
  if (!scope.status()) return scope.status();
  Connection& conn = scope.conn();
  Statement rows(conn.prepare(
      scan.descending
          ? "SELECT ckey, id, key, value FROM rows WHERE view = ?1 AND (ckey, id, n) >= (?2, ?3, ?4)"
            " AND (ckey, id, n) <= (?5, ?6, ?7) ORDER BY ckey DESC, id DESC, n DESC"
          : "SELECT ckey, id, key, value FROM rows WHERE view = ?1 AND (ckey, id, n) >= (?2, ?3, ?4)"
            " AND (ckey, id, n) <= (?5, ?6, ?7) ORDER BY ckey, id, n"));
  rows.bind(1, static_cast<int64_t>(view));
  bindBound(rows, 2, range->lower);
  bindBound(rows, 5, range->upper);

  std::unique_ptr<BuiltinReduce> acc;
  JsGroup js(source, reducer);
  bool inGroup = false, skipping = false, stopped = false;
  uint64_t groups = 0, emitted = 0;
  std::string groupCkey, groupKey, nextCkey, nextKey;
  simdjson::dom::parser parser;

  // Ends the current group: its reduction goes to `row` unless skip passes over it.
  auto finishGroup = [&]() -> Status {
    if (!inGroup || skipping) return Status::ok();
    Result<std::string> value = builtin ? acc->final() : js.finish();
    if (!value) return value.status();
    ++emitted;
    if (!row(ReducedRow{mode == GroupMode::All ? std::string_view("null") : std::string_view(groupKey),
                        *value}))
      stopped = true;
    return Status::ok();
  };

  while (!stopped && emitted < scan.limit && rows.step()) {
    std::string_view ckey = rows.blob(0), key = rows.text(2);
    // The group this row belongs to: its collation key, and the key the reduced row shows.
    std::string_view rowGroup;
    if (mode == GroupMode::Exact) {
      rowGroup = ckey;
    } else if (mode == GroupMode::Level && !ckey.empty() && ckey[0] == kArrayByte) {
      simdjson::dom::element parsed;
      simdjson::dom::array items;
      if (parser.parse(key.data(), key.size(), true).get(parsed) || parsed.get_array().get(items))
        return Status(ErrorCode::Internal, "view row key is not the JSON array its collation key says");
      nextCkey.assign(1, kArrayByte);
      JsonBuffer buf;
      JsonWriter w(buf);
      w.StartArray();
      uint32_t taken = 0;
      for (simdjson::dom::element item : items) {
        if (taken++ == level) break;
        appendCollationKey(item, nextCkey);
        writeElement(w, item);
      }
      w.EndArray();
      nextCkey.push_back(kEndByte);
      nextKey.assign(bufferView(buf));
      rowGroup = nextCkey;
    } else if (mode == GroupMode::Level) {
      rowGroup = ckey;  // a key that is not an array groups as itself
    }
    if (!inGroup || rowGroup != groupCkey) {
      if (Status st = finishGroup(); !st) return st;
      if (stopped || emitted >= scan.limit) break;
      inGroup = true;
      groupCkey.assign(rowGroup);
      if (mode == GroupMode::Level && !ckey.empty() && ckey[0] == kArrayByte)
        groupKey = nextKey;
      else
        groupKey.assign(key);
      skipping = groups++ < scan.skip;
      if (!skipping) {
        if (builtin)
          acc = BuiltinReduce::make(source);
        else
          js.reset();
      }
    }
    if (skipping) continue;
    Status st = builtin ? acc->add(key, rows.text(3)) : js.add(rows.text(1), key, rows.text(3));
    if (!st) return st;
  }
  if (rows.failed()) return conn.error("read view rows");
  if (!stopped && emitted < scan.limit)
    if (Status st = finishGroup(); !st) return st;
  return Status::ok();
}

}  // namespace settee::db
