/* capi_bench — the C API's throughput (include/settee/settee.h), linked to libsettee.so.
 *
 *   build/capi_bench [N=100000] [DIR=a new temp dir]
 *
 * Its twin tools/bench/capi_bench_cpp.cc does the same work through settee::Database, so the C API's
 * cost is a ratio of two runs on one machine (tools/bench/capi_bench.sh runs both, alternating).
 * The work: N documents of about 1 KB written one by one (settee_db_put), N more in bulk batches of 500
 * (settee_db_bulk_docs), the first N read one by one (settee_db_get), all 2N read through an _all_docs
 * cursor with include_docs and through a _changes cursor; then one 64 MB attachment written in 64 KB
 * pieces (settee_attachment_write, then commit) and read back in 64 KB pieces. One line per operation:
 * "<operation> <rate> <unit>" (docs/s, MB/s for the attachment). The documents are the twin's byte for
 * byte (same generator). Exits non-zero on any error, and when a count or the attachment's bytes differ
 * from what was written. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "settee/settee.h"

enum { kBatch = 500, kPiece = 64 * 1024 };
static const size_t kAttachmentBytes = (size_t)64 * 1024 * 1024;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints the error and exits: a benchmark that failed must not print a rate. */
static void check(settee_error* error, const char* what) {
  if (!error) return;
  fprintf(stderr, "capi_bench: %s: %s: %s\n", what, settee_error_name(error), settee_error_message(error));
  settee_error_free(error);
  exit(1);
}

static void fail(const char* what) {
  fprintf(stderr, "capi_bench: %s\n", what);
  exit(1);
}

/* The note text of every document: a pool made once (as in the twin), so making a document is cheap. */
static char pool[4200];
static size_t pool_length;

static void make_pool(void) {
  uint32_t x = 2654435761u;
  while (pool_length < 4096) {
    x = x * 1103515245u + 12345u;
    pool[pool_length++] = (char)('a' + (x >> 16) % 26);
    if ((x >> 8) % 7 == 0) pool[pool_length++] = ' ';
  }
}

/* About 1 KB of JSON for document `i` with id prefix `prefix` ("p" or "b"); returns its length. */
static int make_doc(char* out, size_t capacity, const char* prefix, int i) {
  return snprintf(out, capacity,
                  "{\"_id\":\"%s-%08d\",\"type\":\"reading\",\"sensor\":\"%d\",\"value\":%d.25,\"ok\":true,"
                  "\"tags\":[\"a\",\"b\",\"c\"],\"note\":\"%.820s\"}",
                  prefix, i, i % 97, (i * 37) % 1000, pool + (size_t)(i * 7) % 3000);
}

static void report(const char* operation, double count, double seconds, const char* unit) {
  printf("%s %.1f %s\n", operation, count / seconds, unit);
  fflush(stdout);
}

static unsigned char pattern_byte(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

/* Reads a cursor to its end; returns its rows. */
static size_t drain(settee_cursor* cursor, size_t* bytes) {
  size_t rows = 0;
  for (;;) {
    const char* row = NULL;
    size_t length = 0;
    check(settee_cursor_next(cursor, &row, &length), "cursor_next");
    if (!row) break;
    ++rows;
    *bytes += length;
  }
  return rows;
}

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 100000;
  char dir_buffer[] = "/tmp/capi_bench_XXXXXX";
  const char* dir = argc > 2 ? argv[2] : mkdtemp(dir_buffer);
  if (n <= 0 || !dir) fail("usage: capi_bench [N>0] [DIR]");
  make_pool();

  settee_db* db = NULL;
  check(settee_db_open(dir, "bench", NULL, &db), "open");
  char doc[1200];

  double t0 = now();
  for (int i = 0; i < n; ++i) {
    make_doc(doc, sizeof doc, "p", i);
    check(settee_db_put(db, NULL, doc, NULL, NULL), "put");
  }
  report("put", n, now() - t0, "docs/s");

  /* A batch's body {"docs":[...]} is made by the app: part of what the C API asks of it. */
  char* body = malloc((size_t)kBatch * sizeof doc + 16);
  if (!body) fail("out of memory");
  t0 = now();
  for (int first = 0; first < n; first += kBatch) {
    size_t at = (size_t)sprintf(body, "{\"docs\":[");
    for (int i = first; i < first + kBatch && i < n; ++i) {
      if (i > first) body[at++] = ',';
      at += (size_t)make_doc(body + at, sizeof doc, "b", i);
    }
    memcpy(body + at, "]}", 3);
    char* answer = NULL;
    check(settee_db_bulk_docs(db, body, &answer), "bulk_docs");
    if (strstr(answer, "\"error\"")) fail("a bulk write was refused");
    settee_free(answer);
  }
  report("bulk", n, now() - t0, "docs/s");
  free(body);

  t0 = now();
  for (int i = 0; i < n; ++i) {
    char id[32];
    snprintf(id, sizeof id, "p-%08d", i);
    char* json = NULL;
    check(settee_db_get(db, id, NULL, &json), "get");
    settee_free(json);
  }
  report("get", n, now() - t0, "docs/s");

  size_t bytes = 0;
  t0 = now();
  settee_cursor* cursor = NULL;
  check(settee_db_all_docs(db, "{\"include_docs\":true}", &cursor), "all_docs");
  size_t rows = drain(cursor, &bytes);
  settee_cursor_free(cursor);
  report("all_docs", (double)rows, now() - t0, "docs/s");
  if (rows != (size_t)n * 2) fail("all_docs did not answer every document");

  t0 = now();
  check(settee_db_changes(db, NULL, &cursor), "changes");
  rows = drain(cursor, &bytes);
  settee_cursor_free(cursor);
  report("changes", (double)rows, now() - t0, "docs/s");
  if (rows != (size_t)n * 2) fail("changes did not answer every document");

  unsigned char* piece = malloc(kPiece);
  if (!piece) fail("out of memory");
  t0 = now();
  settee_attachment_writer* writer = NULL;
  check(settee_db_begin_attachment(db, "blob", "data.bin", NULL, "application/octet-stream", &writer),
        "begin_attachment");
  for (size_t at = 0; at < kAttachmentBytes; at += kPiece) {
    for (size_t i = 0; i < kPiece; ++i) piece[i] = pattern_byte(at + i);
    check(settee_attachment_write(writer, piece, kPiece), "attachment_write");
  }
  check(settee_attachment_commit(writer, NULL), "attachment_commit");
  settee_attachment_writer_free(writer);
  report("attachment_write", kAttachmentBytes / 1048576.0, now() - t0, "MB/s");

  t0 = now();
  settee_attachment_reader* reader = NULL;
  check(settee_db_open_attachment(db, "blob", "data.bin", NULL, &reader), "open_attachment");
  size_t total = 0;
  for (;;) {
    size_t got = 0;
    check(settee_attachment_read(reader, piece, kPiece, &got), "attachment_read");
    if (got == 0) break;
    /* One byte per piece is checked: enough to catch a misplaced piece, cheap next to the read. */
    if (piece[got - 1] != pattern_byte(total + got - 1)) fail("the attachment's bytes differ");
    total += got;
  }
  settee_attachment_reader_free(reader);
  report("attachment_read", kAttachmentBytes / 1048576.0, now() - t0, "MB/s");
  if (total != kAttachmentBytes) fail("the attachment's length differs");
  free(piece);

  settee_db_close(db);
  return 0;
}
