// js/pool_internal.h — the parts of QueryServerPool its two .cc files share: a process with what it
// has been told (Worker), and one call's exchanges on it (Call). Internal to src/js.
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <unordered_set>

#include "js/child_process.h"
#include "js/query_server_pool.h"

namespace settee::js {

namespace detail {
// A stable C string for an error name a query server chose (Status keeps the pointer).
const char* internErrorName(std::string_view name);
Status processError(std::string reason);
// ["reset", {"reduce_limit": ...}]: what every process hears first, as CouchDB's query_server_config.
std::string resetCommand(bool reduceLimit);
}  // namespace detail

struct QueryServerPool::Worker {
  std::unique_ptr<ChildProcess> proc;
  bool answered = false;    // it has answered at least once
  bool broken = false;      // killed, dead or out of step: never reused
  bool retire = false;      // healthy but has learnt too much: not reused
  bool configured = false;  // it has been sent the query server config (reset)
  // The map functions loaded with reset/add_fun, by hash of their MapSpec.
  bool mapLoaded = false;
  uint64_t mapKey = 0;
  // The keys of the design documents sent with "ddoc new".
  std::unordered_set<std::string> ddocs;
  simdjson::dom::parser parser;  // the last answer's DOM lives here until the next exchange
  std::string line;
};

struct QueryServerPool::Call {
  Call(QueryServerPool& p, Worker& w) : pool(p), worker(w) {}
  // Sends one command line and waits for its answer, passing log lines on. An ["error", name, reason]
  // answer becomes a Status; `answer` is valid until the next ask on this worker.
  Status ask(std::string_view command, simdjson::dom::element& answer);

  QueryServerPool& pool;
  Worker& worker;
  bool exchanged = false;      // an answer has come during this call
  bool deadOnArrival = false;  // the process was found dead before this call's first answer
};

}  // namespace settee::js
