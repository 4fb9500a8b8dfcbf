/* Change listeners across threads (settee.h, "Change listeners"): once settee_listener_free returns, the
 * function is not running and is never called again, even while another thread keeps writing. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "capi_support.h"

typedef struct {
  settee_db* db;
  atomic_int stop;
  atomic_int writes;
  atomic_int failures;
} Writer;

static void* keep_writing(void* arg) {
  Writer* w = arg;
  while (!atomic_load(&w->stop)) {
    char* id = NULL;
    settee_error* e = settee_db_put(w->db, NULL, "{}", &id, NULL);
    if (e) atomic_fetch_add(&w->failures, 1);
    settee_error_free(e);
    settee_free(id);
    atomic_fetch_add(&w->writes, 1);
  }
  return NULL;
}

typedef struct {
  atomic_int calls;
  atomic_int freed;      /* set by the test once settee_listener_free returned */
  atomic_int after_free; /* calls that were still running, or began, after that */
} Slow;

static void slow_listener(void* context, uint64_t seq) {
  (void)seq;
  Slow* s = context;
  atomic_fetch_add(&s->calls, 1);
  /* Long enough that a free racing with this call would return while it still runs. */
  struct timespec pause = {0, 2 * 1000 * 1000};
  nanosleep(&pause, NULL);
  if (atomic_load(&s->freed)) atomic_fetch_add(&s->after_free, 1);
}

CAPI_TEST(listener_freed_while_another_thread_writes_is_never_running_after_free_returns) {
  settee_db* db = capi_open_db(capi_tmpdir(), "racing");
  REQUIRE(db);
  Slow slow;
  atomic_init(&slow.calls, 0);
  atomic_init(&slow.freed, 0);
  atomic_init(&slow.after_free, 0);
  Writer writer;
  writer.db = db;
  atomic_init(&writer.stop, 0);
  atomic_init(&writer.writes, 0);
  atomic_init(&writer.failures, 0);
  settee_listener* listener = NULL;
  REQUIRE_OK(settee_db_add_change_listener(db, slow_listener, &slow, &listener));
  pthread_t thread;
  REQUIRE(pthread_create(&thread, NULL, keep_writing, &writer) == 0);
  struct timespec tick = {0, 1000 * 1000};
  for (int i = 0; i < 5; ++i) {
    /* Free in the middle of a stream of calls, five times over. */
    while (atomic_load(&slow.calls) < 3 * (i + 1)) nanosleep(&tick, NULL);
    settee_listener_free(listener);
    atomic_store(&slow.freed, 1);
    int writes = atomic_load(&writer.writes);
    while (atomic_load(&writer.writes) < writes + 5) nanosleep(&tick, NULL);
    CHECK(atomic_load(&slow.after_free) == 0);
    atomic_store(&slow.freed, 0);
    REQUIRE_OK(settee_db_add_change_listener(db, slow_listener, &slow, &listener));
  }
  settee_listener_free(listener);
  atomic_store(&writer.stop, 1);
  pthread_join(thread, NULL);
  CHECK(atomic_load(&writer.failures) == 0);
  settee_db_close(db);
}
