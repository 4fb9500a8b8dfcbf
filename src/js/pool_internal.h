// js/pool_internal.h — the parts of QueryServerPool its two .cc files share: a process with what it
// has been told (Worker), and one call's exchanges on it (Call). Internal to src/js.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <algorithm>
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
// os_process_error "unexpected answer to <command>: <the answer's start>".
inline Status unexpected(const char* command, simdjson::dom::element answer) {
  return processError(std::string("unexpected answer to ") + command + ": " +
                      simdjson::minify(answer).substr(0, 200));
}

// Builds one command line. Raw JSON from the caller may hold line breaks, but only as whitespace
// (inside strings they are escaped), so turning every raw CR or LF into a space keeps it one line.
class Command {
 public:
  using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
  Command() : w_(buf_) { w_.StartArray(); }
  Writer& w() { return w_; }
  void str(std::string_view s) { w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  void raw(std::string_view json, rapidjson::Type type = rapidjson::kObjectType) {
    w_.RawValue(json.data(), json.size(), type);
  }
  std::string line() {
    w_.EndArray();
    std::string s(buf_.GetString(), buf_.GetSize());
    std::replace_if(
        s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return s;
  }

 private:
  rapidjson::StringBuffer buf_;
  Writer w_;
};
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
