/* The C API tests' shared helpers (capi_support.h). */
#define _POSIX_C_SOURCE 200809L
#include "capi_support.h"

#include <time.h>

settee_db* capi_open_db(const char* dir, const char* name) {
  settee_db* db = NULL;
  if (!capi_check_ok(settee_db_open(dir, name, NULL, &db), __FILE__, __LINE__, name)) return NULL;
  return db;
}

int capi_put(settee_db* db, const char* id, const char* json, char* rev) {
  char* out = NULL;
  if (!capi_check_ok(settee_db_put(db, id, json, NULL, rev ? &out : NULL), __FILE__, __LINE__, json))
    return 0;
  if (rev) snprintf(rev, 64, "%s", out);
  settee_free(out);
  return 1;
}

int capi_has(settee_db* db, const char* id, char** out_json) {
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

long capi_count_rows(settee_cursor* cursor) {
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

int capi_check_cursor_end(settee_cursor* cursor, long rows, const char* summary, const char* file, int line) {
  const long n = capi_count_rows(cursor);
  char* got = NULL;
  int ok = n == rows &&
           capi_check_ok(settee_cursor_summary(cursor, &got), file, line, "settee_cursor_summary") && got &&
           strcmp(got, summary) == 0;
  if (!ok) {
    char what[512];
    snprintf(what, sizeof what, "%ld rows and summary %s (wanted %ld rows and %s)", n, got ? got : "(none)",
             rows, summary);
    capi_fail(file, line, what);
  }
  settee_free(got);
  settee_cursor_free(cursor);
  return ok;
}

int capi_write_file(const char* name, const char* text, char* path, size_t path_size) {
  snprintf(path, path_size, "%s", capi_path(name));
  FILE* f = fopen(path, "w");
  if (!f) {
    capi_fail(__FILE__, __LINE__, path);
    return 0;
  }
  int ok = fputs(text, f) >= 0;
  ok = fclose(f) == 0 && ok;
  if (!ok) capi_fail(__FILE__, __LINE__, path);
  return ok;
}

settee_node* capi_start_node(const char* dir, const char* options_json, const char* db_name,
                             settee_db** out_db, char* url, size_t url_size) {
  settee_node* node = NULL;
  *out_db = NULL;
  if (!capi_check_ok(settee_node_start(dir, options_json, &node), __FILE__, __LINE__, "settee_node_start"))
    return NULL;
  snprintf(url, url_size, "http://127.0.0.1:%d/%s", settee_node_port(node), db_name);
  *out_db = capi_open_db(dir, db_name);
  if (!*out_db) {
    settee_node_stop(node);
    return NULL;
  }
  return node;
}

int capi_pair_start(capi_pair* pair, const char* node_options) {
  memset(pair, 0, sizeof *pair);
  pair->node =
      capi_start_node(capi_path("node"), node_options, "peer", &pair->peer, pair->url, sizeof pair->url);
  if (!pair->node) return 0;
  pair->local = capi_open_db(capi_path("app"), "notes");
  if (!pair->local) {
    capi_pair_stop(pair);
    return 0;
  }
  return 1;
}

void capi_pair_stop(capi_pair* pair) {
  settee_db_close(pair->local);
  settee_db_close(pair->peer);
  settee_node_stop(pair->node);
  memset(pair, 0, sizeof *pair);
}

uint64_t capi_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void capi_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}
