// settee/status.h — the error values every Settee call returns.
//
// Contract: expected failures (a missing document, a conflicting edit, bad input) are values, never
// exceptions and never crashes. Each ErrorCode carries CouchDB's error name (`errorName`), so a caller
// can show the same `{"error": ..., "reason": ...}` CouchDB would. Only the HTTP layer knows which HTTP
// status a code maps to. Status and Result are plain values: copy them, keep them, compare them.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace settee {

enum class ErrorCode {
  Ok = 0,
  BadRequest,          // bad_request: malformed input (JSON, UTF-8, revision strings, parameter types)
  NotFound,            // not_found: no such document, revision, attachment or database
  Conflict,            // conflict: the edit does not extend a current leaf
  Forbidden,           // forbidden: the caller may not do this
  Unauthorized,        // unauthorized: credentials missing or wrong
  FileExists,          // file_exists: the database already exists
  MissingStub,         // missing_stub: an attachment stub names nothing an ancestor has
  TooLarge,            // too_large: a document or request over the configured limit
  BadContentType,      // bad_content_type
  IllegalDocId,        // illegal_docid: ids starting with `_` other than _design/ and _local/
  DocValidation,       // doc_validation: an unknown top-level `_` member
  IllegalDatabaseName, // illegal_database_name
  PreconditionFailed,  // precondition_failed
  Internal,            // internal_server_error: storage failure; nothing was changed
};

// CouchDB's name for an error code, e.g. "not_found".
const char* errorName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string reason) : code_(code), reason_(std::move(reason)) {}
  // The same with a more precise CouchDB error name than the code's own (Mango's "invalid_operator",
  // "no_usable_index", ...); `name` must be a string literal (it is kept, not copied). The HTTP status
  // still follows `code`.
  Status(ErrorCode code, std::string reason, const char* name)
      : code_(code), reason_(std::move(reason)), name_(name) {}

  static Status ok() { return {}; }
  bool isOk() const { return code_ == ErrorCode::Ok; }
  explicit operator bool() const { return isOk(); }
  ErrorCode code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const char* error() const { return name_ ? name_ : errorName(code_); }

 private:
  ErrorCode code_ = ErrorCode::Ok;
  std::string reason_;
  const char* name_ = nullptr;
};

inline Status notFound(std::string reason = "missing") { return {ErrorCode::NotFound, std::move(reason)}; }
inline Status badRequest(std::string reason) { return {ErrorCode::BadRequest, std::move(reason)}; }
inline Status conflict() { return {ErrorCode::Conflict, "Document update conflict."}; }

// A value or the Status that explains why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}            // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}    // NOLINT: implicit on purpose

  bool isOk() const { return status_.isOk(); }
  explicit operator bool() const { return isOk(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace settee
