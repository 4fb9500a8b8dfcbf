/* sync_support.h — what the C API's query, replication, sync and node tests share: time, polling with a
 * deadline, and writing documents, in C11 (with POSIX's clock and nanosleep). */
#ifndef SETTEE_CAPI_SYNC_SUPPORT_H
#define SETTEE_CAPI_SYNC_SUPPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "capi_test.h"

static inline uint64_t support_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void support_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Polls `cond` (an expression) every 20 ms until it holds or `ms` have passed; evaluates to whether it held.
 */
#define WAIT_UNTIL(cond, ms)                                                   \
  __extension__({                                                              \
    uint64_t wait_deadline_ = support_now_ms() + (ms);                         \
    while (!(cond) && support_now_ms() < wait_deadline_) support_sleep_ms(20); \
    (cond) ? 1 : 0;                                                            \
  })

/* Writes `json` as document `id`; returns 1 on success (failure recorded by the harness). */
static inline int support_put(settee_db* db, const char* id, const char* json) {
  return capi_check_ok(settee_db_put(db, id, json, NULL, NULL), __FILE__, __LINE__, id);
}

/* 1 when document `id` can be read from `db` (its JSON in *out_json when not NULL, freed by the caller). */
static inline int support_has(settee_db* db, const char* id, char** out_json) {
  char* json = NULL;
  settee_error* e = settee_db_get(db, id, NULL, &json);
  if (e) {
    settee_error_free(e);
    return 0;
  }
  if (out_json)
    *out_json = json;
  else
    settee_free(json);
  return 1;
}

/* The number of rows a cursor still yields; frees the cursor. -1 on an error. */
static inline int support_count_rows(settee_cursor* cursor) {
  int n = 0;
  for (;;) {
    const char* row = NULL;
    settee_error* e = settee_cursor_next(cursor, &row, NULL);
    if (e) {
      settee_error_free(e);
      n = -1;
      break;
    }
    if (!row) break;
    ++n;
  }
  settee_cursor_free(cursor);
  return n;
}

#endif /* SETTEE_CAPI_SYNC_SUPPORT_H */
