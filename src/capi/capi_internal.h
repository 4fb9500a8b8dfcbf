// capi/capi_internal.h — what the files of the C API (include/settee/settee.h) share: the handle types'
// contents and the one way errors cross the boundary.
//
// Every exported function's body runs inside guard(): a Status becomes a settee_error, and any C++
// exception (std::bad_alloc included) becomes an internal_server_error value, so nothing unwinds into C.
// Handles hold shared_ptrs to what they wrap, so a handle freed in any order never leaves another dangling
// inside Settee (the C contract still asks apps to free children first).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "settee/database.h"
#include "settee/settee.h"
#include "settee/status.h"

struct settee_error {
  settee_code code = SETTEE_OK;
  std::string name;
  std::string message;
};

struct settee_db {
  std::shared_ptr<settee::DataDir> dir;  // the directory's one DataDir in this process (capi::dataDir)
  std::shared_ptr<settee::Database> db;
  std::string name;
};

namespace settee::capi {

// A new error (never null: when even that allocation fails, a static out-of-memory error that
// settee_error_free leaves alone).
settee_error* makeError(settee_code code, std::string_view name, std::string_view message);
settee_error* toError(const Status& status);  // null for ok
inline settee_error* badArgument(std::string_view message) { return makeError(SETTEE_BAD_REQUEST, "bad_request", message); }

// Runs `body` (returning settee_error*), turning any exception into an error value.
template <class F>
settee_error* guard(F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return makeError(SETTEE_INTERNAL, "internal_server_error", "out of memory");
  } catch (const std::exception& e) {
    return makeError(SETTEE_INTERNAL, "internal_server_error", e.what());
  } catch (...) {
    return makeError(SETTEE_INTERNAL, "internal_server_error", "unknown error");
  }
}

// For void functions: runs `body`, swallowing any exception (there is no error value to return).
template <class F>
void guardVoid(F&& body) noexcept {
  try {
    body();
  } catch (...) {
  }
}

// A copy of `s` in memory the app frees with settee_free (malloc'd, NUL-terminated); throws bad_alloc.
char* copyOut(std::string_view s);

// The process's one DataDir for `dir` (made on first use, kept while any handle or node uses it), so
// every settee_db and settee_node on one directory shares open databases: SQLite files are opened with
// exclusive locking, once per process.
std::shared_ptr<DataDir> dataDir(const std::string& dir, const DatabaseOptions& defaults);

}  // namespace settee::capi
