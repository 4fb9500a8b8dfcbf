/* capi_support.h — what the C API's tests share beyond the harness (capi_test.h): opening databases,
 * writing and reading documents, counting a cursor's rows, time and polling with a deadline, and an
 * embedded node to sync or replicate with, in C11 (with POSIX's clock and nanosleep).
 *
 * Every helper that can fail records the failure with the harness (naming the call) and answers NULL, 0
 * or -1, so a test reads REQUIRE(capi_open_db(...)) and goes on only with what worked. */
#ifndef SETTEE_CAPI_SUPPORT_H
#define SETTEE_CAPI_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "capi_test.h"

/* Opens (creating) database `name` in directory `dir`; NULL on failure. */
settee_db* capi_open_db(const char* dir, const char* name);
/* Writes `json` as document `id`; the new rev is copied into `rev` (capacity 64) when not NULL. 1 on
 * success. */
int capi_put(settee_db* db, const char* id, const char* json, char* rev);
/* 1 when document `id` can be read from `db` (its JSON in *out_json when not NULL, freed by the caller);
 * 0 when it cannot (not recorded as a failure: tests poll for it). */
int capi_has(settee_db* db, const char* id, char** out_json);
/* The number of rows a cursor still yields (read to its end; the cursor is not freed); -1 on an error. */
long capi_count_rows(settee_cursor* cursor);

/* Reads `cursor` to its end, checks it yielded `rows` rows and that its summary is exactly `summary`, and
 * frees it. 1 when both held (a failure is recorded at the caller's line). */
int capi_check_cursor_end(settee_cursor* cursor, long rows, const char* summary, const char* file, int line);
#define CHECK_CURSOR_END(cursor, rows, summary) \
  capi_check_cursor_end((cursor), (rows), (summary), __FILE__, __LINE__)

/* Writes `text` to file `name` in the test's directory and copies its path into `path`; 1 on success. */
int capi_write_file(const char* name, const char* text, char* path, size_t path_size);

/* Starts a node on directory `dir` with `options_json` (NULL for none) and opens (creating) its database
 * `db_name` into *out_db, after the node, so it is made by the node's rules (its config file's limits);
 * the database's URL goes into `url`. NULL on failure. */
settee_node* capi_start_node(const char* dir, const char* options_json, const char* db_name,
                             settee_db** out_db, char* url, size_t url_size);

/* An app's database and its peer, for sync and replication tests: `local` is database "notes" in the
 * test's "app" folder, `node` serves the test's "node" folder (with `node_options`, NULL for none) and
 * `peer` is its database "peer" at `url`. */
typedef struct capi_pair {
  settee_node* node;
  settee_db* peer;
  settee_db* local;
  char url[256];
} capi_pair;
/* 1 when all three are up; otherwise 0 with nothing left open. */
int capi_pair_start(capi_pair* pair, const char* node_options);
/* Closes both databases and stops the node. */
void capi_pair_stop(capi_pair* pair);

uint64_t capi_now_ms(void);
void capi_sleep_ms(unsigned ms);

/* Polls `cond` (an expression) every 20 ms until it holds or `ms` have passed; evaluates to whether it held.
 */
#define WAIT_UNTIL(cond, ms)                                             \
  __extension__({                                                        \
    uint64_t wait_deadline_ = capi_now_ms() + (ms);                      \
    while (!(cond) && capi_now_ms() < wait_deadline_) capi_sleep_ms(20); \
    (cond) ? 1 : 0;                                                      \
  })

#endif /* SETTEE_CAPI_SUPPORT_H */
