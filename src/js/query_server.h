// js/query_server.h — CouchDB's JavaScript query server protocol, answered in process on Duktape.
//
// Contract: a QueryServer owns one Duktape heap. handle() takes one protocol line (a JSON array such as
// ["map_doc", {...}], without its newline) and returns the one answer line (without newline). Lines the
// functions write while it runs — log lines (["log", "message"]) and a list function's answers before
// its last (["start", ...], ["chunks", ...]) — are passed to the LogSink first, in order, before handle()
// returns. A list function reads the commands that follow its own (list_row, list_end) from the
// LineSource, as couchjs reads them from stdin. Errors are answers, never exceptions: ["error", name,
// reason] as CouchDB's couchjs writes them.
//
// Limits: every allocation of the heap is counted, and one that would pass `maxMemory` fails (Duktape
// then throws RangeError inside the function). A command during which that happened is answered with
// ["error", "os_process_error", "out of memory: ..."] and broken() turns true: the process must then
// exit (`settee js` does), as couchjs exits after a fatal error, so that the parent starts a fresh one.
// A function that never returns is NOT bounded here (Debian's Duktape has no execution timeout): that is
// why the query server runs in a child process the parent kills (query_server_pool.h).
//
// Not thread-safe: one thread uses a QueryServer. Nothing of Duktape appears in this header.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace settee::js {

struct QueryServerOptions {
  // Bytes the JavaScript heap may hold (all of Duktape's allocations, including the prelude's).
  // Default 64 MiB: far above what a map function over one document needs, small enough that a
  // handful of processes cannot starve an edge device.
  size_t maxMemory = 64u << 20;
};

class QueryServer {
 public:
  // Receives one complete line written before the answer (a log line or a list's answer so far), without
  // newline.
  using LogSink = std::function<void(std::string_view line)>;
  // Reads the next command line (without newline) into `line`; false at the end of the input.
  using LineSource = std::function<bool(std::string& line)>;

  QueryServer(QueryServerOptions options, LogSink log);
  ~QueryServer();
  QueryServer(const QueryServer&) = delete;
  QueryServer& operator=(const QueryServer&) = delete;

  // Where a list function's getRow() reads from; without one, getRow() sees the end of the input.
  void setLineSource(LineSource source);

  // Answers one protocol line. The answer is valid UTF-8 JSON, whatever the line (toValidUtf8).
  std::string handle(std::string_view line);

  // True once the heap ran out of its budget or a function asked for a fatal error: the caller should
  // write the last answer and exit.
  bool broken() const;

  // Bytes the heap holds now.
  size_t heapBytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Makes `text` valid UTF-8 in place: CESU-8 surrogate pairs (how Duktape writes characters beyond U+FFFF
// that came in as \u escapes) become 4-byte UTF-8; lone surrogates and invalid bytes (a string built
// from bytes that were not UTF-8) become U+FFFD. Exposed for the tests.
void toValidUtf8(std::string& text);

}  // namespace settee::js
