/* db_fixture.h — what the database tests of the C API share: a fresh database in the test's directory,
 * and small readers of the JSON the API answers (C has no JSON parser; the checks look for exact
 * members, which the API writes minified, in CouchDB's order). */
#ifndef SETTEE_CAPI_DB_FIXTURE_H
#define SETTEE_CAPI_DB_FIXTURE_H

#include "capi_test.h"

/* Opens (creating) the database `name` in the test's directory; NULL (a recorded failure) if it cannot. */
static inline settee_db* fixture_open(const char* name) {
  settee_db* db = NULL;
  if (!capi_check_ok(settee_db_open(capi_tmpdir(), name, NULL, &db), __FILE__, __LINE__, "settee_db_open"))
    return NULL;
  return db;
}

/* Writes `json` as document `id`; the new rev is copied into `rev` (capacity 64) when not NULL. */
static inline int fixture_put(settee_db* db, const char* id, const char* json, char* rev) {
  char* out = NULL;
  settee_error* e = settee_db_put(db, id, json, NULL, &out);
  if (!capi_check_ok(e, __FILE__, __LINE__, json)) return 0;
  if (rev) snprintf(rev, 64, "%s", out);
  settee_free(out);
  return 1;
}

/* The number of rows a cursor has left (reads it to its end); -1 on an error. */
static inline long fixture_count_rows(settee_cursor* cursor) {
  long n = 0;
  for (;;) {
    const char* row = NULL;
    settee_error* e = settee_cursor_next(cursor, &row, NULL);
    if (e) {
      capi_check_ok(e, __FILE__, __LINE__, "settee_cursor_next");
      return -1;
    }
    if (!row) return n;
    ++n;
  }
}

#endif /* SETTEE_CAPI_DB_FIXTURE_H */
