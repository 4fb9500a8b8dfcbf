// mango_find.h — Mango queries: a `_find` body read into a query, the plan that answers it (which index,
// which key ranges), its execution, and `_explain`. Both doors use it: Database::find and POST /{db}/_find.
//
// Planning follows CouchDB 3.4 (mango_idx_view, mango_cursor_view): an index is usable when every one of
// its fields (sort fields aside) is required to exist by the selector and the sort can be read from it; a
// partial index only when use_index names it; among the usable ones the most selector fields covered by a
// prefix of the index wins, then fewer fields, then the name. No usable index and no sort: every document
// is scanned (the special `_all_docs` index) and the summary carries CouchDB's warning. A sort no index
// serves is no_usable_index. Every document an index yields is still matched against the whole selector;
// an index row whose values fail the selector's conditions on the indexed fields is passed over before its
// document is read, and a query whose `fields` and selector need nothing but the index reads no document.
// (The planner is mango_plan.h; parsing mango_find_parse.cc; `_explain` mango_explain.cc.)
//
// Bookmarks are opaque and our own (not CouchDB's): a page resumes strictly after the last row the
// previous one read, so a write before that row never shifts the next page.
//
// Contract: parse once, run as often as wished; a FindQuery is a value. Errors are bad_request with
// CouchDB's error names (invalid_selector_json, invalid_operator, invalid_non_neg_integer, invalid_sort_json,
// unsupported_mixed_sort, no_usable_index, invalid_bookmark ...), given before any row. runFind calls `row`
// on the calling thread under the store's lock: `row` must not call the Store.
#pragma once

#include <simdjson.h>

#include <functional>
#include <string>
#include <string_view>

#include "db/json.h"
#include "db/mango.h"
#include "db/mango_index.h"
#include "settee/query.h"
#include "settee/status.h"

namespace settee::db {

class Store;

struct FindQuery {
  Selector selector;
  std::string selectorJson;  // as given (for _explain, which shows it normalised)
  FindOptions options;
  bool stale = false;  // "stale": "ok" was given (it also sets update=false and stable=true)
};

// Reads a `_find` / `_explain` body: {"selector": ..., "fields", "sort", "limit", "skip", "bookmark",
// "use_index", "conflicts", "r", "update", "stable", "execution_stats", "allow_fallback"}.
Result<FindQuery> parseFindRequest(std::string_view body);
// Reads a `POST /{db}/_index` body: {"index": {"fields": [...], "partial_filter_selector": ...}, "type",
// "name", "ddoc", "w", "partitioned"}, with CouchDB's errors (mango_opts:validate_idx_create).
Result<IndexDefinition> parseIndexRequest(std::string_view body);
// The same from a selector and options given apart (Database::find).
Result<FindQuery> makeFindQuery(std::string_view selectorJson, const FindOptions& options);

// Runs `query`, calling `row` with each result document (projected to options.fields) until it returns
// false.
Result<FindSummary> runFind(Store& store, const FindQuery& query,
                            const std::function<bool(std::string_view doc)>& row);

// The warning of a query run as several pages (runFind called again with each page's bookmark, skip
// only on the first): what `lastPage` says about the index, and the documents-examined ratio judged on
// `total`, the statistics of every page summed.
std::string pagedWarning(const FindSummary& lastPage, const FindStats& total);

// Writes CouchDB's `_explain` answer for `query` on database `dbName`.
Status writeExplain(Store& store, const FindQuery& query, std::string_view dbName, JsonWriter& out);

// Index management behind Database::createIndex / indexes / deleteIndex and POST/GET/DELETE /_index.
Result<IndexCreated> createIndex(Store& store, const IndexDefinition& index);
Result<std::vector<IndexInfo>> listIndexes(Store& store);
// An index as listings show it; null is the special `_all_docs` index.
IndexInfo indexInfo(const IndexSpec* index);
// One entry of GET /_index's `indexes` (and `_explain`'s index and candidates), in CouchDB's shape: the
// partial filter selector shown normalised ({"status": "open"} as {"status": {"$eq": "open"}}).
void writeIndexInfo(JsonWriter& w, const IndexInfo& index);
Status deleteIndex(Store& store, std::string_view ddoc, std::string_view name);

}  // namespace settee::db
