// http/handlers/all_docs_internal.h — internal to the _all_docs family (all_docs*.cc): the options of one
// listing, how a request's query string, body or `queries` entries become them, and the listing itself,
// produced a page at a time.
//
// A listing reads the Database only from its page() calls (thread pool); the parsing functions are pure
// and run wherever they are called. A parsed query copies what it keeps: no simdjson value outlives the
// document it came from.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/api.h"
#include "http/handlers/document_internal.h"
#include "settee/database.h"

namespace settee::http::detail {

// One end of a range. Ids are strings; CouchDB orders every other JSON value before every string, so a
// non-string key is a bound below all ids.
struct IdBound {
  bool present = false;
  bool belowAll = false;
  std::string id;
};

// A requested key: a document id, or the JSON of a non-string key, which names no document.
struct IdKey {
  bool isId = true;
  std::string text;
};

// The options of one _all_docs / _design_docs listing, as CouchDB's parameters name them.
struct AllDocsQuery {
  IdBound start, end;
  bool hasKey = false;
  bool inclusiveEnd = true;
  bool descending = false;
  bool includeDocs = false;
  bool conflicts = false;
  bool attachments = false;      // with include_docs: bodies inline as base64
  bool attEncodingInfo = false;  // with include_docs: encoding / encoded_length
  bool updateSeq = false;
  uint64_t limit = UINT64_MAX;
  uint64_t skip = 0;
  std::optional<std::vector<IdKey>> keys;
};

// Where options come from; CouchDB words some errors after it (a `keys` that is not an array is "`keys`
// parameter must be an array." in a query string, "`keys` body member must be an array." in a body, and
// a query_parse_error in an entry of `queries`).
enum class OptionSource { QueryString, Body, QueriesEntry };

// GET (query string) or POST (query string, then the body's members) /{db}/_all_docs.
Result<AllDocsQuery> parseAllDocsRequest(const Request& req, bool post);

// POST /{db}/_all_docs/queries: {"queries":[{...}, ...]}, each entry's members over the query string's
// options, as CouchDB's multi_all_docs_view does. Every entry is checked before anything is answered.
Result<std::vector<AllDocsQuery>> parseAllDocsQueries(const Request& req);

// Which documents a listing shows, as CouchDB's `namespace`: every document (_all_docs), the design
// documents (_design_docs), or the _local ones (_local_docs).
enum class DocNamespace { All, Design, Local };

// One listing's JSON object — {"total_rows","offset","update_seq"?,"rows":[...]} — a page at a time.
// A range is read in pages of at most kRowsPerPage rows, each one Database::allDocs call that resumes
// after the last id sent; `keys` are answered the same way. Pages are not one snapshot: a write between
// two pages shows in the later one, as in CouchDB's clustered reads. With include_docs&attachments=true
// each document is read on its own after its page's ids, its large bodies streamed from the store over
// the next pages (inlineBodies), so a listing of large attachments costs a page of memory, not their
// base64. Used by one thread at a time, never the loop's.
class AllDocsListing {
 public:
  // Design: the range is clipped to design ids and total_rows counts only them. Local: the _local
  // documents, with CouchDB's `"total_rows":null,"offset":null` (it keeps no count of them).
  AllDocsListing(std::shared_ptr<Database> db, AllDocsQuery query, DocNamespace ns);

  // Appends the next piece of the object to `out`; sets `done` once it is closed. A failure leaves the
  // object unfinished.
  Status page(std::string& out, bool& done);

 private:
  Status head(std::string& out);
  void resolveRange();
  void row(std::string& out, const AllDocsRow& r);
  bool readsBodies() const { return q_.includeDocs && q_.attachments; }
  // A found row with its document and attachment bodies; stored bodies left in pending_.
  Status rowWithBodies(std::string& out, const AllDocsRow& r);
  // Reads pending_ into `out` until the page is full or it is all out.
  Status drain(std::string& out);
  void missingKeyRow(std::string& out, const std::string& json);
  Result<bool> rangePage(std::string& out);
  Result<bool> keysPage(std::string& out);
  // Database::allDocs, or localDocs for the _local namespace.
  Result<uint64_t> list(const AllDocsOptions& o, const std::function<bool(const AllDocsRow&)>& row);

  std::shared_ptr<Database> db_;
  AllDocsQuery q_;
  DocNamespace ns_;
  bool started_ = false;
  AllDocsOptions opts_;  // the range, for every page
  bool empty_ = false;   // the bounds leave no id
  uint64_t remaining_ = 0;
  std::optional<std::string> cursor_;  // the last id sent; the next page resumes after it
  size_t nextKey_ = 0;
  bool firstRow_ = true;
  bool finished_ = false;                 // every row is out, but maybe not pending_
  std::unique_ptr<PieceReader> pending_;  // the stored bodies of the last row, not all read yet
};

}  // namespace settee::http::detail
