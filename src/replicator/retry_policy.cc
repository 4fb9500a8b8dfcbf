#include "replicator/retry_policy.h"

namespace settee::repl {

// A refusal (401/403), a bad request, a missing database, a conflict (the caller re-reads) or a body too
// large will not change by asking again; everything else (the network, timeouts, 5xx) may.
bool isTransient(const Status& st) {
  switch (st.code()) {
    case ErrorCode::Conflict:
    case ErrorCode::TooLarge:
    case ErrorCode::BadContentType:
    case ErrorCode::Unauthorized:
    case ErrorCode::Forbidden:
    case ErrorCode::BadRequest:
    case ErrorCode::NotFound:
    case ErrorCode::IllegalDatabaseName:
      return false;
    default:
      return true;
  }
}

}  // namespace settee::repl
