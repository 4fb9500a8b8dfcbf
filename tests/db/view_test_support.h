// view_test_support.h — helpers of the view index tests (view_index_test.cc, view_reduce_test.cc): a C++
// map in place of JavaScript, a design document with views "kv" (emit(doc.k, doc.v)) and "tags", and
// scans collected as strings.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "db/json.h"
#include "db/view_index.h"
#include "settee/database.h"
#include "test_util.h"

namespace settee::test::views {

using namespace settee;
using settee::db::Mapper;
using settee::db::parseViewGroup;
using settee::db::ReducedRow;
using settee::db::Reducer;
using settee::db::ViewEmit;
using settee::db::ViewGrouping;
using settee::db::ViewGroupSpec;
using settee::db::ViewIndex;
using settee::db::ViewRow;
using settee::db::ViewScan;
using settee::test::TempDir;

// What one view's map emits for one parsed document.
using ViewFn = std::function<void(simdjson::dom::element doc, std::vector<ViewEmit>& out)>;

inline std::string json(simdjson::dom::element e) { return db::toJson(e); }

// emit(doc.k, doc.v) when the document has `k` (v defaults to null).
inline void emitKV(simdjson::dom::element doc, std::vector<ViewEmit>& out) {
  simdjson::dom::element k, v;
  if (doc["k"].get(k)) return;
  out.push_back({json(k), doc["v"].get(v) ? std::string("null") : json(v)});
}
// for each t of doc.tags: emit(t, null).
inline void emitTags(simdjson::dom::element doc, std::vector<ViewEmit>& out) {
  simdjson::dom::array tags;
  if (doc["tags"].get(tags)) return;
  for (auto t : tags) out.push_back({json(t), "null"});
}

// A Mapper running C++ map functions, counting the documents it maps.
inline Mapper mapperOf(std::vector<ViewFn> views, size_t* mapped = nullptr) {
  return [views = std::move(views), mapped](const std::vector<std::string_view>& docs)
             -> Result<std::vector<std::vector<std::vector<ViewEmit>>>> {
    std::vector<std::vector<std::vector<ViewEmit>>> out;
    simdjson::dom::parser parser;
    for (std::string_view text : docs) {
      simdjson::dom::element doc = parser.parse(text.data(), text.size(), true).value();
      auto& perView = out.emplace_back(views.size());
      for (size_t v = 0; v < views.size(); ++v) views[v](doc, perView[v]);
      if (mapped) ++*mapped;
    }
    return out;
  };
}

inline ViewGroupSpec specOf(const std::string& ddoc) {
  auto spec = parseViewGroup("_design/app", ddoc);
  REQUIRE(spec);
  return *spec;
}

// A design document with views "kv" (map emits k → v, reduce `reduce`) and "tags".
inline ViewGroupSpec kvSpec(const std::string& reduce = "_sum") {
  return specOf(
      R"({"views":{"kv":{"map":"function(doc){ if (doc.k !== undefined) emit(doc.k, doc.v); }","reduce":")" +
      reduce +
      R"("},"tags":{"map":"function(doc){ (doc.tags||[]).forEach(function(t){ emit(t, null); }); }"}}})");
}
inline Mapper kvMapper(size_t* mapped = nullptr) { return mapperOf({emitKV, emitTags}, mapped); }

inline std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto db = Database::open(dir.file("db.settee"), "db");
  REQUIRE(db);
  return std::move(*db);
}

inline std::unique_ptr<ViewIndex> openIndex(const TempDir& dir, const ViewGroupSpec& spec) {
  auto index = ViewIndex::open(db::viewFileFor(dir.file("views"), spec.signature), spec);
  INFO((index ? "" : index.status().reason()));
  REQUIRE(index);
  return std::move(*index);
}

inline std::string put(Database& db, const std::string& doc) {
  auto r = db.put(doc);
  INFO(doc << ": " << (r ? "" : r.status().reason()));
  REQUIRE(r);
  return r->rev;
}

struct Scanned {
  uint64_t totalRows = 0;
  uint64_t offset = 0;
  std::vector<std::string> rows;  // "id key value"
};

inline Scanned scanOf(ViewIndex& index, size_t view, const ViewScan& scan = {}) {
  Scanned out;
  auto total = index.scan(
      view, scan,
      [&](const ViewRow& r) {
        out.rows.push_back(std::string(r.id) + " " + std::string(r.key) + " " + std::string(r.value));
        return true;
      },
      &out.offset);
  INFO((total ? "" : total.status().reason()));
  REQUIRE(total);
  out.totalRows = *total;
  return out;
}

inline std::vector<std::string> keysOf(const Scanned& s) {
  std::vector<std::string> keys;
  for (const std::string& r : s.rows) {
    auto a = r.find(' ');
    auto b = r.rfind(' ');
    keys.push_back(r.substr(a + 1, b - a - 1));
  }
  return keys;
}

// "key value" of each reduced row.
inline std::vector<std::string> reduceOf(ViewIndex& index, size_t view, const ViewGrouping& grouping,
                                         const ViewScan& scan = {}, const Reducer& reducer = {}) {
  std::vector<std::string> out;
  Status st = index.reduce(view, scan, grouping, reducer, [&](const ReducedRow& r) {
    out.push_back(std::string(r.key) + " " + std::string(r.value));
    return true;
  });
  INFO(st.reason());
  REQUIRE(st);
  return out;
}

}  // namespace settee::test::views
