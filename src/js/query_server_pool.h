// js/query_server_pool.h — the node's side of JavaScript: a bounded pool of query server processes
// (`settee js`, or CouchDB's couchjs) spoken to with CouchDB's query server protocol.
//
// Contract:
// - Every call is synchronous and thread-safe: call it from libuv's thread pool (never from the event
//   loop: a call may wait up to twice `timeout`). Each call takes one process for itself, waiting up to
//   `timeout` for one to be free when `maxProcesses` are busy.
// - Every answer must come within `timeout` (CouchDB's os_process_timeout). A late one gets the process
//   killed (SIGKILL) and reaped, and the call returns os_process_error "OS process timed out." A process
//   that exits or crashes is likewise reaped and replaced: the next call starts a fresh one. When a process
//   that had already answered is found dead as a call begins, the call is retried once on a fresh one, so
//   a process killed by its previous command costs that command only.
// - Log lines (["log", message]) go to `log`, never into results.
// - Errors are Status values named as CouchDB names them: compilation_error (BadRequest), os_process_error,
//   reduce_overflow_error, a function's own error name (Internal); validate() returns Forbidden or
//   Unauthorized with the function's message.
// - JSON passed in (documents, design documents, request objects) must be valid JSON; it is copied into
//   the command as it is (line breaks, which valid JSON has only as whitespace, become spaces). JSON
//   handed back (emitted keys and values, reductions) is minified text the caller owns.
// - Destroying the pool kills and reaps every process; no call may be running then.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "settee/status.h"

namespace settee::js {

struct PoolOptions {
  // The query server's argv. queryServerCommand() gives CouchDB's choice: the command in
  // COUCHDB_QUERY_SERVER_JAVASCRIPT when set, else this binary's `js` mode.
  std::vector<std::string> command;
  // CouchDB's os_process_timeout: the longest wait for one answer, and for a free process.
  std::chrono::milliseconds timeout{5000};
  // CouchDB's os_process_limit, scaled to an edge node: processes running at once. Each may hold up to
  // its heap cap (64 MiB for `settee js`).
  size_t maxProcesses = 4;
  // The longest answer line accepted; a process writing more is killed (protects the node's memory).
  size_t maxAnswerBytes = 256u << 20;
  // CouchDB's query_server_config reduce_limit: a JS reduce whose output does not shrink is an error.
  bool reduceLimit = true;
  // A process is retired after learning this many design documents, which bounds its memory.
  size_t maxDesignDocsPerProcess = 50;
  // Receives each log message of a function (the string inside ["log", msg]), from the calling thread:
  // several threads may call it at once. Default: a line on stderr.
  std::function<void(std::string_view message)> log;
};

// {COUCHDB_QUERY_SERVER_JAVASCRIPT run by /bin/sh} when the variable is set, else {selfBinary, "js"}.
std::vector<std::string> queryServerCommand(const std::string& selfBinary);

// What a map function emitted: key and value as minified JSON.
struct Emitted {
  std::string key;
  std::string value;
  bool operator==(const Emitted&) const = default;
};
// For one document, what each map function emitted, in the order of the functions.
using DocEmits = std::vector<std::vector<Emitted>>;

// The map functions of a view group: their sources and the design document's views.lib (JSON object
// text, or empty when it has none), which require() in a map function may load from.
struct MapSpec {
  std::vector<std::string> sources;
  std::string lib;
};

// A row given to a JS reduce: key (JSON), the document id, and value (JSON).
struct ReduceRow {
  std::string_view key;
  std::string_view docId;
  std::string_view value;
};

// A design document as the node holds it: its id and its whole JSON body.
struct DesignDoc {
  std::string_view id;
  std::string_view json;
};

// What an update function answered: the document to write (a JSON object) or "null", and the response
// object ({"body"...} / {"json"...} / {"code", "headers"...}), both minified.
struct UpdateAnswer {
  std::string doc;
  std::string response;
};

// One answer of a list function: its chunks (strings; anything else as minified JSON) and, when the
// function gave some since its last answer (start(), or the first answer's own), the response object
// {"code", "headers"} as minified JSON, else empty.
struct ListOutput {
  std::string response;
  std::vector<std::string> chunks;
};
// Everything a list function answered, in order, and how it ended: ok, or the error that stopped it
// (possibly after some outputs, as when it throws on the tenth row).
struct ListAnswer {
  std::vector<ListOutput> outputs;
  Status status;
};

class QueryServerPool {
 public:
  explicit QueryServerPool(PoolOptions options);
  ~QueryServerPool();
  QueryServerPool(const QueryServerPool&) = delete;
  QueryServerPool& operator=(const QueryServerPool&) = delete;

  // map_doc of every document through every function of `spec`: one DocEmits per document. A function
  // that throws for a document emits nothing for it (the error is logged); a function that does not
  // compile fails the whole call with compilation_error.
  Result<std::vector<DocEmits>> mapDocs(const MapSpec& spec, const std::vector<std::string_view>& docs);
  // JS reduce (rereduce=false) of `rows` by every function: one JSON value per function.
  Result<std::vector<std::string>> reduce(const std::vector<std::string>& sources,
                                          const std::vector<ReduceRow>& rows);
  // JS rereduce of earlier reductions (JSON values): one JSON value per function.
  Result<std::vector<std::string>> rereduce(const std::vector<std::string>& sources,
                                            const std::vector<std::string_view>& values);
  // The design document's validate_doc_update on one write: ok, Forbidden or Unauthorized with the
  // function's message, or the error that stopped it. `oldDoc` is "null" for a new document.
  Status validate(const DesignDoc& ddoc, std::string_view newDoc, std::string_view oldDoc,
                  std::string_view userCtx, std::string_view secObj);
  // filters/<name>(doc, req) for each document: which pass.
  Result<std::vector<bool>> filter(const DesignDoc& ddoc, std::string_view name,
                                   const std::vector<std::string_view>& docs, std::string_view req);
  // filter=_view: which documents views/<name>'s map function emits anything for.
  Result<std::vector<bool>> filterView(const DesignDoc& ddoc, std::string_view view,
                                       const std::vector<std::string_view>& docs);

  // shows/<name>(doc, req): the response object, minified. `doc` is "null" for a show without one.
  Result<std::string> show(const DesignDoc& ddoc, std::string_view name, std::string_view doc,
                           std::string_view req);
  // updates/<name>(doc, req): the document to write and the response.
  Result<UpdateAnswer> update(const DesignDoc& ddoc, std::string_view name, std::string_view doc,
                              std::string_view req);
  // lists/<name>(head, req) over `rows` (each a JSON object {"id","key","value"[,"doc"]}), sent one at a
  // time as the function asks for them with getRow(); rows it never asks for are not sent.
  ListAnswer list(const DesignDoc& ddoc, std::string_view name, std::string_view head, std::string_view req,
                  const std::vector<std::string_view>& rows);
  // The design document's rewrites function on `req`: the rewrite object it answered (minified), or an
  // empty string when it answered nothing (no_dispatch_rule); Forbidden or Unauthorized when it answered
  // {"forbidden": message} or {"unauthorized": message}.
  Result<std::string> rewrite(const DesignDoc& ddoc, std::string_view req);

  // Processes running now (idle or busy), and how many were ever started: for tests and metrics.
  std::vector<pid_t> pids() const;
  uint64_t processesStarted() const;

 private:
  struct Worker;
  struct Call;

  Result<std::unique_ptr<Worker>> acquire();
  void release(std::unique_ptr<Worker> worker, bool keep);
  // Runs `op` on a process; retries once on a fresh one when the process was found dead at the start.
  Status run(const std::function<Status(Call&)>& op);
  // The key under which `call`'s process knows `ddoc`, sending it with "ddoc new" first if need be.
  Result<std::string> ensureDesignDoc(Call& call, const DesignDoc& ddoc);

  PoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Worker>> idle_;
  std::vector<Worker*> busy_;
  size_t live_ = 0;  // idle + busy + being started
  uint64_t started_ = 0;
};

}  // namespace settee::js
