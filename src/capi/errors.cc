// The C API's errors, memory and version (settee.h, "Errors and memory", "Version").
#include <cstdlib>
#include <cstring>
#include <new>

#include "capi/capi_internal.h"
#include "settee/version.h"

namespace {

// Returned when the error itself cannot be allocated; settee_error_free knows it and leaves it alone.
settee_error outOfMemory{SETTEE_INTERNAL, "internal_server_error", "out of memory"};

static_assert(SETTEE_INTERNAL == static_cast<int>(settee::ErrorCode::Internal),
              "settee_code follows ErrorCode");
static_assert(SETTEE_PRECONDITION_FAILED == static_cast<int>(settee::ErrorCode::PreconditionFailed));
static_assert(SETTEE_NOT_FOUND == static_cast<int>(settee::ErrorCode::NotFound));

}  // namespace

namespace settee::capi {

settee_error* makeError(settee_code code, std::string_view name, std::string_view message) {
  try {
    auto* e = new settee_error;
    e->code = code;
    e->name.assign(name);
    e->message.assign(message);
    return e;
  } catch (...) {
    return &outOfMemory;
  }
}

settee_error* toError(const Status& status) {
  if (status.isOk()) return nullptr;
  return makeError(static_cast<settee_code>(status.code()), status.error(), status.reason());
}

char* copyOut(std::string_view s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) throw std::bad_alloc();
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

}  // namespace settee::capi

extern "C" {

const char* settee_version(void) { return SETTEE_VERSION_STRING; }
int settee_version_number(void) { return SETTEE_VERSION_NUMBER; }

settee_code settee_error_code(const settee_error* error) { return error ? error->code : SETTEE_OK; }
const char* settee_error_name(const settee_error* error) { return error ? error->name.c_str() : ""; }
const char* settee_error_message(const settee_error* error) { return error ? error->message.c_str() : ""; }
void settee_error_free(settee_error* error) {
  if (error != &outOfMemory) delete error;
}

void settee_free(void* memory) { std::free(memory); }

}  // extern "C"
