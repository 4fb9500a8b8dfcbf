// mango_find.cc — running a planned Mango query (see mango_find.h): the index or `_all_docs` scan, the
// match of every document against the whole selector, skip/limit, `fields`, the bookmark, the execution
// statistics and CouchDB's warnings. Parsing is in mango_find_parse.cc, planning in mango_plan.cc,
// `_explain` in mango_explain.cc.
//
// Bookmarks are our own: base64url of the JSON array ["k", <hex of the last row's index key>, <its doc
// id>] for a json index, or ["i", <the last doc id>] for `_all_docs`. A page resumes strictly after the
// row the previous one ended on, so rows written meanwhile before it never shift a page. A bookmark that
// does not decode, or that belongs to the other kind of scan, is invalid_bookmark.
#include "db/mango_find.h"

#include <chrono>

#include "db/crypto.h"
#include "db/mango_find_internal.h"
#include "db/mango_plan.h"
#include "db/store.h"

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Above this many documents read per result CouchDB warns (mango's index_scan_warning_threshold).
constexpr double kScanWarningRatio = 10;

std::string base64Url(std::string_view bytes) {
  std::string s = base64Encode(bytes);
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::optional<std::string> fromBase64Url(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (c == '+' || c == '/' || c == '=')
      return std::nullopt;
  }
  return base64Decode(s);
}

std::optional<std::string> fromHex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// Where the previous page ended.
struct Position {
  std::string key;  // json index only
  std::string docId;
};

std::string encodeBookmark(bool index, const Position& p) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  writeString(w, index ? "k" : "i");
  if (index) writeString(w, hexEncode(p.key));
  writeString(w, p.docId);
  w.EndArray();
  return base64Url(bufferView(buf));
}

Result<Position> decodeBookmark(std::string_view bookmark, bool index) {
  Status invalid = Status(
      ErrorCode::BadRequest,
      "Invalid bookmark value: " +
          [&] {
            JsonBuffer buf;
            JsonWriter w(buf);
            writeString(w, bookmark);
            return std::string(bufferView(buf));
          }(),
      "invalid_bookmark");
  auto json = fromBase64Url(bookmark);
  if (!json) return invalid;
  simdjson::dom::parser parser;
  simdjson::dom::array parts;
  if (parser.parse(json->data(), json->size()).get(parts) != simdjson::SUCCESS) return invalid;
  std::vector<std::string_view> items;
  for (element e : parts) {
    std::string_view s;
    if (e.get(s) != simdjson::SUCCESS) return invalid;
    items.push_back(s);
  }
  Position p;
  if (index) {
    if (items.size() != 3 || items[0] != "k") return invalid;
    auto key = fromHex(items[1]);
    if (!key) return invalid;
    p.key = std::move(*key);
    p.docId.assign(items[2]);
  } else {
    if (items.size() != 2 || items[0] != "i") return invalid;
    p.docId.assign(items[1]);
  }
  return p;
}

// One run of a query: its counters, its reused parser, and what it delivers.
class Run {
 public:
  Run(const FindQuery& q, const FindPlan& plan, const std::function<bool(std::string_view)>& row)
      : q_(q), plan_(plan), row_(row), skip_(q.options.skip) {
    for (const auto& f : q.options.fields) fields_.push_back(splitFieldPath(f));
  }

  // Judges a document (the JSON of a whole document, or one derived from index values). Returns false
  // to stop the scan.
  bool offer(std::string_view json, const Position& at) {
    element doc;
    if (parser_.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
      failure_ = Status(ErrorCode::Internal, "stored document " + at.docId + " is not valid JSON");
      return false;
    }
    if (!q_.selector.matches(doc)) return true;
    last_ = at;
    moved_ = true;
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    ++stats_.resultsReturned;
    bool more = fields_.empty() ? row_(json) : row_(projectFields(doc, fields_));
    return more && stats_.resultsReturned < q_.options.limit;
  }

  // The index row's values pass the selector's conditions on the indexed fields.
  bool passesPrefilter(std::string_view values) {
    if (plan_.prefilter.empty()) return true;
    simdjson::dom::array list;
    if (valuesParser_.parse(values.data(), values.size()).get(list) != simdjson::SUCCESS) {
      return true;  // unreadable values: let the document decide
    }
    for (const auto& [column, conditions] : plan_.prefilter) {
      element v;
      if (list.at(column).get(v) != simdjson::SUCCESS) continue;
      if (!conditions.matches(v)) return false;
    }
    return true;
  }

  // A document made of the index row's values: all a covering index's query needs.
  std::string derivedDoc(const IndexEntry& entry) {
    simdjson::dom::array list;
    if (valuesParser_.parse(entry.values.data(), entry.values.size()).get(list) != simdjson::SUCCESS)
      return {};
    std::vector<std::vector<std::string>> paths;
    std::vector<element> values;
    auto cols = indexColumns(*plan_.index);
    size_t i = 0;
    for (element v : list) {
      if (i >= cols.size()) break;
      paths.push_back(splitFieldPath(cols[i++]));
      values.push_back(v);
    }
    return buildDoc(paths, values, entry.docId);
  }

  FindStats& stats() { return stats_; }
  Status& failure() { return failure_; }
  bool moved() const { return moved_; }
  const Position& last() const { return last_; }

 private:
  const FindQuery& q_;
  const FindPlan& plan_;
  const std::function<bool(std::string_view)>& row_;
  std::vector<std::vector<std::string>> fields_;
  uint64_t skip_;
  simdjson::dom::parser parser_;        // one for every document of the run
  simdjson::dom::parser valuesParser_;  // index values, parsed apart so a document never dangles
  FindStats stats_;
  Status failure_;
  Position last_;
  bool moved_ = false;
};

Status scanIndex(Store& store, const FindQuery& q, const FindPlan& plan, const std::optional<Position>& from,
                 Run& run) {
  IndexScan scan = plan.scan;
  if (from) scan.after = std::make_pair(from->key, from->docId);
  ReadOptions read;
  read.conflicts = q.options.conflicts;
  const bool derive = plan.covering && !q.options.conflicts;
  auto visited = store.scanIndex(*plan.index, scan, read, [&](const IndexEntry& entry, const auto& loadDoc) {
    ++run.stats().totalKeysExamined;
    if (!run.passesPrefilter(entry.values)) return true;
    Position at{std::string(entry.key), std::string(entry.docId)};
    if (derive) {
      std::string doc = run.derivedDoc(entry);
      if (!doc.empty()) return run.offer(doc, at);
    }
    auto doc = loadDoc();
    if (!doc) {
      run.failure() = doc.status();
      return false;
    }
    ++run.stats().totalDocsExamined;
    return run.offer(*doc, at);
  });
  if (!visited) return visited.status();
  return run.failure();
}

Status scanAllDocs(Store& store, const FindQuery& q, const FindPlan& plan,
                   const std::optional<Position>& from, Run& run) {
  AllDocsOptions o;
  o.includeDocs = true;
  o.conflicts = q.options.conflicts;
  o.descending = plan.descending;
  // In iteration order: a descending scan starts at the high end.
  std::optional<std::string> first = plan.descending ? plan.endId : plan.startId;
  bool firstInclusive = plan.descending ? plan.endInclusive : plan.startInclusive;
  o.endKey = plan.descending ? plan.startId : plan.endId;
  o.inclusiveEnd = plan.descending ? plan.startInclusive : plan.endInclusive;
  if (from) {
    first = from->docId;
    firstInclusive = false;
  }
  o.startKey = first;
  auto read = store.allDocs(o, [&](const AllDocsRow& r) {
    if (!firstInclusive && first && r.id == *first) return true;
    ++run.stats().totalKeysExamined;
    // A full scan passes design documents over, as CouchDB's does.
    if (r.id.rfind("_design/", 0) == 0 || r.doc.empty()) return true;
    ++run.stats().totalDocsExamined;
    return run.offer(r.doc, Position{{}, r.id});
  });
  if (!read) return read.status();
  return run.failure();
}

}  // namespace

std::vector<std::string> splitFieldPath(std::string_view field) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 1 < field.size() && field[i + 1] == '.') {
      parts.back() += '.';
      ++i;
    } else if (field[i] == '.') {
      parts.emplace_back();
    } else {
      parts.back() += field[i];
    }
  }
  return parts;
}

namespace {

constexpr std::string_view kScanWarning =
    "The number of documents examined is high in proportion to the number of results returned. Consider "
    "adding "
    "a more specific index to improve this.";

bool manyExamined(const FindStats& stats) {
  double examined = static_cast<double>(stats.totalDocsExamined);
  double ratio =
      stats.resultsReturned == 0 ? examined : examined / static_cast<double>(stats.resultsReturned);
  return ratio > kScanWarningRatio;
}

}  // namespace

std::vector<std::string> findWarnings(const FindPlan& plan, const FindStats& stats) {
  std::vector<std::string> out;
  if (!plan.useIndexWarning.empty()) out.push_back(plan.useIndexWarning);
  if (!plan.index) out.emplace_back("No matching index found, create an index to optimize query time.");
  if (manyExamined(stats)) out.emplace_back(kScanWarning);
  return out;
}

std::string pagedWarning(const FindSummary& lastPage, const FindStats& total) {
  std::string out;
  std::string_view rest = lastPage.warning;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line == kScanWarning) continue;
    if (!out.empty()) out += '\n';
    out += line;
  }
  if (manyExamined(total)) {
    if (!out.empty()) out += '\n';
    out += kScanWarning;
  }
  return out;
}

Result<FindSummary> runFind(Store& store, const FindQuery& query,
                            const std::function<bool(std::string_view doc)>& row) {
  const auto started = std::chrono::steady_clock::now();
  auto indexes = store.indexes();
  if (!indexes) return indexes.status();
  auto planned = planFind(query, *indexes);
  if (!planned) return planned.status();
  const FindPlan& plan = *planned;

  std::optional<Position> from;
  if (!query.options.bookmark.empty()) {
    auto decoded = decodeBookmark(query.options.bookmark, plan.index.has_value());
    if (!decoded) return decoded.status();
    from = std::move(*decoded);
  }
  if (plan.index && query.options.update) {
    if (Status st = store.updateIndex(*plan.index); !st) return st;
  }

  Run run(query, plan, row);
  if (!plan.nothing && query.options.limit > 0) {
    Status st =
        plan.index ? scanIndex(store, query, plan, from, run) : scanAllDocs(store, query, plan, from, run);
    if (!st) return st;
  }

  FindSummary summary;
  summary.stats = run.stats();
  // With no row read, CouchDB gives back the bookmark it was given ("nil" when none).
  if (run.moved()) {
    summary.bookmark = encodeBookmark(plan.index.has_value(), run.last());
  } else {
    summary.bookmark = query.options.bookmark.empty() ? "nil" : query.options.bookmark;
  }
  for (const auto& w : findWarnings(plan, summary.stats)) {
    if (!summary.warning.empty()) summary.warning += '\n';
    summary.warning += w;
  }
  summary.index = plan.index ? plan.index->ddoc + "/" + plan.index->name : "_all_docs";
  summary.stats.executionTimeMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace settee::db
