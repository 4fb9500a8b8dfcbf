// http/design_functions.h — the JavaScript of design documents as the HTTP layer runs it:
// validate_doc_update on writes and filter functions on the changes feed, through one QueryServerPool.
//
// Contract:
// - One DesignFunctions per node, shared by every loop's Services; thread-safe. Its pool is started on
//   first use, so a node whose databases hold no JavaScript never starts a query server.
// - Every call blocks (it may wait on a query server up to twice the os_process_timeout): call it from
//   libuv's thread pool, never from a loop thread.
// - validators() keeps, per database, the design documents that have a validate_doc_update. It is
//   checked against the ids and revisions of the database's design documents on each call (one index
//   range read, no document bodies), so a database without design documents pays one empty range scan.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "js/query_server_pool.h"
#include "settee/database.h"
#include "settee/status.h"

namespace settee::http {

struct Call;

// A design document's id and whole JSON body. `native`: the rules of `_users/_design/_auth`, checked in
// C++ (users_db.h) instead of running its JavaScript.
struct DesignDocCopy {
  std::string id;
  std::string json;
  bool native = false;
};

class DesignFunctions {
 public:
  // `command` is the query server's argv (js::queryServerCommand); `timeout` CouchDB's os_process_timeout.
  DesignFunctions(std::vector<std::string> command, std::chrono::milliseconds timeout);
  ~DesignFunctions();
  DesignFunctions(const DesignFunctions&) = delete;
  DesignFunctions& operator=(const DesignFunctions&) = delete;

  js::QueryServerPool& pool();
  // The design documents of `db` with a validate_doc_update, in id order (shared, never changed). In
  // `_users` the first is always the native entry for `_design/_auth` (whose own JavaScript, when it is
  // the node's, is then not listed): its rules hold even if the document was deleted or replaced.
  Result<std::shared_ptr<const std::vector<DesignDocCopy>>> validators(Database& db);
  // Runs one validator on a write (the arguments as validate_doc_update gets them, in JSON): natively
  // for the native entry, else through the pool.
  Status validate(const DesignDocCopy& ddoc, std::string_view newDoc, std::string_view oldDoc,
                  std::string_view userCtx, std::string_view secObj);

 private:
  struct Cached {
    std::vector<std::pair<std::string, std::string>> revs;  // (id, rev) of every design document
    std::shared_ptr<const std::vector<DesignDocCopy>> validators;
  };
  std::vector<std::string> command_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::unique_ptr<js::QueryServerPool> pool_;
  std::map<std::string, Cached> cache_;  // by database name
};

// A JavaScript filter of the changes feed: filter=ddoc/name (filters.name) or, with `view`,
// filter=_view&view=ddoc/name (which documents views.name's map emits anything for).
struct JsFilter {
  std::string ddoc;  // without "_design/"
  std::string name;
  bool view = false;
};

// The design document a filter needs, or CouchDB's 404 (not_found "missing" when the design document
// is absent, "missing json filter function" / "missing json view function" when it lacks the function).
Result<DesignDocCopy> filterDesignDoc(Database& db, const JsFilter& filter);
// Which of `docs` (JSON, as the filter sees them) pass `filter`; `req` is the request object (JSON)
// filter functions get as their second argument, unused by a view filter.
Result<std::vector<bool>> runFilter(DesignFunctions& design, const DesignDocCopy& ddoc,
                                    const JsFilter& filter, const std::vector<std::string_view>& docs,
                                    std::string_view req);
// The req object CouchDB gives a filter function (chttpd_external's json_req_obj, the members a filter
// uses): info, id, method, path, raw_path, query, headers, body, peer, form, cookie, userCtx, secObj.
// `userCtx` and `secObj` are JSON; `query` the request's decoded query parameters.
std::string filterRequestJson(std::string_view dbName, std::string_view method, std::string_view rawPath,
                              const std::vector<std::pair<std::string, std::string>>& query,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view body, std::string_view peer, std::string_view userCtx,
                              std::string_view secObj);
// {"db","name","roles"} as CouchDB gives validate and filter functions (a server admin has "_admin").
std::string userCtxJson(std::string_view dbName, std::string_view name, const std::vector<std::string>& roles,
                        bool serverAdmin);

// The path of the running binary (/proc/self/exe), for js::queryServerCommand.
std::string selfBinaryPath();

// Runs every validate_doc_update of the call's database on a write of `newDoc` (JSON, with `_id`) to the
// document `id`: ok, or the first refusal (forbidden / unauthorized with the function's message) or error.
// oldDoc is the current winner (null when there is none or it is deleted). As in CouchDB, design
// documents are not validated by these functions (writing one needs a database admin instead).
Status validateWrite(Call& call, std::string_view id, std::string_view newDoc);
// The same with the validators already fetched (for _bulk_docs, which asks once per request).
Status validateWrite(Call& call, const std::vector<DesignDocCopy>& validators, std::string_view id,
                     std::string_view newDoc);

}  // namespace settee::http
