/* capi_test.h — a small test harness for the C API's tests, in C11 (tests/capi/ *.c).
 *
 * CAPI_TEST(name) { ... } defines a test; it registers itself before main runs. CHECK records a failure
 * and goes on; REQUIRE ends the test; CHECK_OK takes a settee_error* and fails (printing the error's name
 * and message) unless it is NULL, freeing it. main.c runs every test (or those whose name contains argv[1])
 * and prints "N passed, N failed". capi_tmpdir() gives a fresh directory per test, removed after it. */
#ifndef SETTEE_CAPI_TEST_H
#define SETTEE_CAPI_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settee/settee.h"

typedef void (*capi_test_fn)(void);
void capi_register(const char* name, capi_test_fn fn);
void capi_fail(const char* file, int line, const char* what);
/* A fresh directory for the running test (removed with its contents after the test). */
const char* capi_tmpdir(void);
/* A path inside capi_tmpdir(): valid until the next call. */
const char* capi_path(const char* name);
/* Nonzero when `haystack` contains `needle` (both may be NULL: then 0). */
int capi_contains(const char* haystack, const char* needle);
/* Checks `error` is NULL; else records a failure naming it. Frees it. Returns 1 when it was NULL. */
int capi_check_ok(settee_error* error, const char* file, int line, const char* what);
/* Checks `error` has CouchDB error name `name`. Frees it. Returns 1 when it had. */
int capi_check_error(settee_error* error, const char* name, const char* file, int line, const char* what);

#define CAPI_TEST(name)                                                                          \
  static void name(void);                                                                        \
  __attribute__((constructor)) static void name##_register(void) { capi_register(#name, name); } \
  static void name(void)

#define CHECK(cond)                                    \
  do {                                                 \
    if (!(cond)) capi_fail(__FILE__, __LINE__, #cond); \
  } while (0)
#define REQUIRE(cond)                       \
  do {                                      \
    if (!(cond)) {                          \
      capi_fail(__FILE__, __LINE__, #cond); \
      return;                               \
    }                                       \
  } while (0)
#define CHECK_OK(expr) capi_check_ok((expr), __FILE__, __LINE__, #expr)
#define REQUIRE_OK(expr)                                           \
  do {                                                             \
    if (!capi_check_ok((expr), __FILE__, __LINE__, #expr)) return; \
  } while (0)
#define CHECK_ERROR(expr, name) capi_check_error((expr), (name), __FILE__, __LINE__, #expr)

#endif /* SETTEE_CAPI_TEST_H */
