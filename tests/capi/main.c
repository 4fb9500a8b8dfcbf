/* The C API tests' runner (capi_test.h). Usage: settee_capi_tests [NAME-SUBSTRING] */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "capi_test.h"

enum { kMaxTests = 512 };
static struct {
  const char* name;
  capi_test_fn fn;
} tests[kMaxTests];
static int testCount;
static int currentFailures;
static char tmpdir[4096];
static char pathBuf[8192];

void capi_register(const char* name, capi_test_fn fn) {
  if (testCount < kMaxTests) {
    tests[testCount].name = name;
    tests[testCount].fn = fn;
    ++testCount;
  }
}

void capi_fail(const char* file, int line, const char* what) {
  fprintf(stderr, "  %s:%d: failed: %s\n", file, line, what);
  ++currentFailures;
}

const char* capi_tmpdir(void) { return tmpdir; }

const char* capi_path(const char* name) {
  snprintf(pathBuf, sizeof pathBuf, "%s/%s", tmpdir, name);
  return pathBuf;
}

int capi_contains(const char* haystack, const char* needle) {
  return haystack && needle && strstr(haystack, needle) != NULL;
}

int capi_check_ok(settee_error* error, const char* file, int line, const char* what) {
  if (!error) return 1;
  char msg[1024];
  snprintf(msg, sizeof msg, "%s -> %s: %s", what, settee_error_name(error), settee_error_message(error));
  capi_fail(file, line, msg);
  settee_error_free(error);
  return 0;
}

int capi_check_error(settee_error* error, const char* name, const char* file, int line, const char* what) {
  char msg[1024];
  if (!error) {
    snprintf(msg, sizeof msg, "%s -> success, expected %s", what, name);
    capi_fail(file, line, msg);
    return 0;
  }
  const int same = strcmp(settee_error_name(error), name) == 0;
  if (!same) {
    snprintf(msg, sizeof msg, "%s -> %s (%s), expected %s", what, settee_error_name(error),
             settee_error_message(error), name);
    capi_fail(file, line, msg);
  }
  settee_error_free(error);
  return same;
}

static int removeEntry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int main(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : NULL;
  const char* base = getenv("TMPDIR");
  int passed = 0, failed = 0;
  for (int i = 0; i < testCount; ++i) {
    if (only && !strstr(tests[i].name, only)) continue;
    snprintf(tmpdir, sizeof tmpdir, "%s/settee-capi-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      return 2;
    }
    currentFailures = 0;
    fprintf(stderr, "%s\n", tests[i].name);
    tests[i].fn();
    nftw(tmpdir, removeEntry, 16, FTW_DEPTH | FTW_PHYS);
    if (currentFailures) {
      ++failed;
      fprintf(stderr, "FAILED %s\n", tests[i].name);
    } else {
      ++passed;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
