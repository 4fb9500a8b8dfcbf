/* The conventions settee.h states for every function, checked call by call: a NULL where a pointer is
 * required is bad_request (never a crash), out-parameters are NULL/0 after an error, void functions and
 * getters take NULL quietly; and the thread-safety it promises: a settee_db used by several threads at
 * once, a sync's status read by several threads while it runs. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "capi_support.h"

#define BAD(expr) CHECK_ERROR((expr), "bad_request")

static void on_change(void* context, uint64_t seq) {
  (void)context;
  (void)seq;
}
static void on_result(void* context, const char* json) {
  (void)context;
  (void)json;
}
static void resolver(void* context, const char* input, settee_decision* decision) {
  (void)context;
  (void)input;
  (void)decision;
}

CAPI_TEST(every_required_pointer_given_as_null_is_bad_request_and_leaves_out_parameters_null) {
  settee_db* db = capi_open_db(capi_tmpdir(), "nulls");
  REQUIRE(db);
  char rev[64];
  REQUIRE(capi_put(db, "d", "{}", rev));
  CHECK_OK(settee_db_put_attachment(db, "d", "a", rev, NULL, "x", 1, NULL));
  char* text = (char*)1;
  settee_db* out_db = (settee_db*)1;
  settee_cursor* cursor = (settee_cursor*)1;

  BAD(settee_db_open(NULL, "x", NULL, &out_db));
  CHECK(out_db == NULL);
  out_db = (settee_db*)1;
  BAD(settee_db_open(capi_tmpdir(), NULL, NULL, &out_db));
  CHECK(out_db == NULL);
  BAD(settee_db_open(capi_tmpdir(), "x", NULL, NULL));
  BAD(settee_db_info(NULL, &text));
  CHECK(text == NULL);
  BAD(settee_db_info(db, NULL));
  BAD(settee_db_delete_database(NULL));

  char* id = (char*)1;
  text = (char*)1;
  BAD(settee_db_put(NULL, "x", "{}", &id, &text));
  CHECK(id == NULL && text == NULL);
  BAD(settee_db_put(db, "x", NULL, NULL, NULL));
  text = (char*)1;
  BAD(settee_db_get(NULL, "d", NULL, &text));
  CHECK(text == NULL);
  BAD(settee_db_get(db, NULL, NULL, &text));
  BAD(settee_db_get(db, "d", NULL, NULL));
  text = (char*)1;
  BAD(settee_db_delete(NULL, "d", rev, &text));
  CHECK(text == NULL);
  BAD(settee_db_delete(db, NULL, rev, NULL));
  BAD(settee_db_bulk_docs(NULL, "{\"docs\":[]}", &text));
  BAD(settee_db_bulk_docs(db, NULL, &text));
  BAD(settee_db_bulk_docs(db, "{\"docs\":[]}", NULL));

  BAD(settee_db_all_docs(NULL, NULL, &cursor));
  CHECK(cursor == NULL);
  BAD(settee_db_all_docs(db, NULL, NULL));
  cursor = (settee_cursor*)1;
  BAD(settee_db_changes(NULL, NULL, &cursor));
  CHECK(cursor == NULL);
  BAD(settee_db_changes(db, NULL, NULL));
  const char* row = (const char*)1;
  size_t length = 7;
  BAD(settee_cursor_next(NULL, &row, &length));
  CHECK(row == NULL && length == 0);
  REQUIRE_OK(settee_db_all_docs(db, NULL, &cursor));
  BAD(settee_cursor_next(cursor, NULL, &length));
  BAD(settee_cursor_summary(NULL, &text));
  BAD(settee_cursor_summary(cursor, NULL));
  settee_cursor_free(cursor);

  settee_listener* listener = (settee_listener*)1;
  BAD(settee_db_add_change_listener(NULL, on_change, NULL, &listener));
  CHECK(listener == NULL);
  BAD(settee_db_add_change_listener(db, NULL, NULL, &listener));
  BAD(settee_db_add_change_listener(db, on_change, NULL, NULL));

  settee_attachment_reader* reader = (settee_attachment_reader*)1;
  BAD(settee_db_open_attachment(NULL, "d", "a", NULL, &reader));
  CHECK(reader == NULL);
  BAD(settee_db_open_attachment(db, NULL, "a", NULL, &reader));
  BAD(settee_db_open_attachment(db, "d", NULL, NULL, &reader));
  BAD(settee_db_open_attachment(db, "d", "a", NULL, NULL));
  REQUIRE_OK(settee_db_open_attachment(db, "d", "a", NULL, &reader));
  char buffer[8];
  size_t got = 9;
  BAD(settee_attachment_reader_info(NULL, &text));
  BAD(settee_attachment_reader_info(reader, NULL));
  BAD(settee_attachment_read(NULL, buffer, sizeof buffer, &got));
  CHECK(got == 0);
  BAD(settee_attachment_read(reader, NULL, sizeof buffer, &got));
  BAD(settee_attachment_read(reader, buffer, sizeof buffer, NULL));
  settee_attachment_reader_free(reader);

  settee_attachment_writer* writer = (settee_attachment_writer*)1;
  BAD(settee_db_begin_attachment(NULL, "d", "b", rev, NULL, &writer));
  CHECK(writer == NULL);
  BAD(settee_db_begin_attachment(db, NULL, "b", rev, NULL, &writer));
  BAD(settee_db_begin_attachment(db, "d", NULL, rev, NULL, &writer));
  BAD(settee_db_begin_attachment(db, "d", "b", rev, NULL, NULL));
  BAD(settee_attachment_write(NULL, "x", 1));
  BAD(settee_attachment_commit(NULL, &text));
  text = (char*)1;
  BAD(settee_db_put_attachment(NULL, "d", "b", rev, NULL, "x", 1, &text));
  CHECK(text == NULL);
  BAD(settee_db_put_attachment(db, NULL, "b", rev, NULL, "x", 1, NULL));
  BAD(settee_db_put_attachment(db, "d", NULL, rev, NULL, "x", 1, NULL));
  BAD(settee_db_put_attachment(db, "d", "b", rev, NULL, NULL, 1, NULL));
  BAD(settee_db_delete_attachment(NULL, "d", "a", rev, NULL));
  BAD(settee_db_delete_attachment(db, NULL, "a", rev, NULL));
  BAD(settee_db_delete_attachment(db, "d", NULL, rev, NULL));
  BAD(settee_db_delete_attachment(db, "d", "a", NULL, NULL));

  BAD(settee_db_get_local(NULL, "l", &text));
  BAD(settee_db_get_local(db, NULL, &text));
  BAD(settee_db_get_local(db, "l", NULL));
  BAD(settee_db_put_local(NULL, "l", "{}", NULL));
  BAD(settee_db_put_local(db, NULL, "{}", NULL));
  BAD(settee_db_put_local(db, "l", NULL, NULL));
  BAD(settee_db_delete_local(NULL, "l", NULL));
  BAD(settee_db_delete_local(db, NULL, NULL));

  BAD(settee_db_conflicts(NULL, "d", &text));
  BAD(settee_db_conflicts(db, NULL, &text));
  BAD(settee_db_conflicts(db, "d", NULL));
  BAD(settee_db_conflicted_documents(NULL, 10, NULL, &text));
  BAD(settee_db_conflicted_documents(db, 10, NULL, NULL));
  BAD(settee_db_resolve_conflicts(NULL, "d", rev, NULL, NULL));
  BAD(settee_db_resolve_conflicts(db, NULL, rev, NULL, NULL));
  BAD(settee_db_resolve_conflicts(db, "d", NULL, NULL, NULL));
  settee_conflict_policy* policy = (settee_conflict_policy*)1;
  BAD(settee_conflict_policy_parse(NULL, &policy));
  CHECK(policy == NULL);
  BAD(settee_conflict_policy_parse("keep", NULL));
  BAD(settee_conflict_policy_custom(NULL, NULL, NULL, &policy));
  BAD(settee_conflict_policy_custom(resolver, NULL, NULL, NULL));
  REQUIRE_OK(settee_conflict_policy_parse("keep", &policy));
  BAD(settee_db_resolve_conflict(NULL, "d", policy, NULL));
  BAD(settee_db_resolve_conflict(db, NULL, policy, NULL));
  BAD(settee_db_resolve_conflict(db, "d", NULL, NULL));
  settee_decision_choose(NULL, "1-a"); /* no decision to make: a no-op */
  settee_decision_merge(NULL, "{}", NULL);

  const char* query = "{\"selector\":{}}";
  BAD(settee_db_find(NULL, query, &cursor));
  BAD(settee_db_find(db, NULL, &cursor));
  BAD(settee_db_find(db, query, NULL));
  BAD(settee_db_create_index(NULL, "{\"index\":{\"fields\":[\"a\"]}}", NULL));
  BAD(settee_db_create_index(db, NULL, NULL));
  BAD(settee_db_indexes(NULL, &text));
  BAD(settee_db_indexes(db, NULL));
  BAD(settee_db_delete_index(NULL, "d", "n"));
  BAD(settee_db_delete_index(db, NULL, "n"));
  BAD(settee_db_delete_index(db, "d", NULL));
  settee_live_query* live = (settee_live_query*)1;
  BAD(settee_db_live_query(NULL, query, on_result, NULL, &live));
  CHECK(live == NULL);
  BAD(settee_db_live_query(db, NULL, on_result, NULL, &live));
  BAD(settee_db_live_query(db, query, NULL, NULL, &live));
  BAD(settee_db_live_query(db, query, on_result, NULL, NULL));

  settee_replication* replication = (settee_replication*)1;
  BAD(settee_replication_new(NULL, NULL, db, NULL, NULL, &replication));
  CHECK(replication == NULL);
  BAD(settee_replication_new(db, NULL, NULL, NULL, NULL, &replication));
  BAD(settee_replication_new(db, NULL, db, NULL, NULL, NULL));
  BAD(settee_replication_start(NULL, NULL, NULL));
  BAD(settee_replication_wait(NULL));
  BAD(settee_replication_status(NULL, &text));
  settee_replication_stop(NULL);

  settee_sync* sync = (settee_sync*)1;
  BAD(settee_sync_new(NULL, "http://127.0.0.1:1/x", NULL, &sync));
  CHECK(sync == NULL);
  BAD(settee_sync_new(db, NULL, NULL, &sync));
  BAD(settee_sync_new(db, "http://127.0.0.1:1/x", NULL, NULL));
  REQUIRE_OK(settee_sync_new(db, "http://127.0.0.1:1/x", NULL, &sync));
  BAD(settee_sync_set_policy(NULL, policy));
  BAD(settee_sync_set_policy(sync, NULL));
  BAD(settee_sync_set_listeners(NULL, NULL, NULL, NULL));
  BAD(settee_sync_start(NULL));
  settee_doc_sync_info info;
  info.state = SETTEE_DOC_FAILED;
  info.seq = 5;
  BAD(settee_sync_document_state(NULL, "d", &info));
  CHECK(info.state == SETTEE_DOC_SYNCED && info.seq == 0);
  BAD(settee_sync_document_state(sync, NULL, &info));
  BAD(settee_sync_document_state(sync, "d", NULL));
  BAD(settee_sync_documents(NULL, SETTEE_DOC_PENDING, 10, NULL, &text));
  BAD(settee_sync_documents(sync, SETTEE_DOC_PENDING, 10, NULL, NULL));
  BAD(settee_db_document_sync_state(NULL, "p", "d", &info));
  BAD(settee_db_document_sync_state(db, NULL, "d", &info));
  BAD(settee_db_document_sync_state(db, "p", NULL, &info));
  BAD(settee_db_document_sync_state(db, "p", "d", NULL));
  settee_sync_status status;
  status.pending = 7;
  settee_sync_get_status(NULL, &status);
  CHECK(status.state == SETTEE_SYNC_STOPPED && status.pending == 0);
  settee_sync_get_status(sync, NULL);
  settee_sync_stop(NULL);
  settee_sync_network_changed(NULL, false);
  settee_sync_set_metered(NULL, true);
  CHECK(strcmp(settee_sync_peer(NULL), "") == 0);
  settee_sync_free(sync);
  settee_conflict_policy_free(policy);

  settee_node* node = (settee_node*)1;
  BAD(settee_node_start(NULL, NULL, &node));
  CHECK(node == NULL);
  BAD(settee_node_start(capi_path("node"), NULL, NULL));
  CHECK(settee_node_port(NULL) == 0);
  CHECK(strcmp(settee_db_name(NULL), "") == 0);

  /* Freeing NULL is a no-op for every handle type. */
  settee_db_close(NULL);
  settee_cursor_free(NULL);
  settee_listener_free(NULL);
  settee_attachment_reader_free(NULL);
  settee_attachment_writer_free(NULL);
  settee_conflict_policy_free(NULL);
  settee_live_query_free(NULL);
  settee_replication_free(NULL);
  settee_sync_free(NULL);
  settee_node_stop(NULL);
  settee_error_free(NULL);
  settee_free(NULL);
  settee_db_close(db);
}

/* Several threads share one settee_db: each writes its own documents, reads the others' and lists the
 * database, all at once. */
enum { kThreads = 4, kDocsPerThread = 50 };

struct worker {
  settee_db* db;
  int index;
  atomic_int* failures;
};

static void* work(void* arg) {
  struct worker* w = arg;
  char id[32];
  for (int i = 0; i < kDocsPerThread; ++i) {
    snprintf(id, sizeof id, "t%d-%03d", w->index, i);
    settee_error* e = settee_db_put(w->db, id, "{\"by\":\"a thread\"}", NULL, NULL);
    if (e) {
      atomic_fetch_add(w->failures, 1);
      settee_error_free(e);
    }
    char* json = NULL;
    e = settee_db_get(w->db, id, NULL, &json);
    if (e || !json) atomic_fetch_add(w->failures, 1);
    settee_error_free(e);
    settee_free(json);
    if (i % 10 == 0) {
      settee_cursor* cursor = NULL;
      e = settee_db_all_docs(w->db, "{\"limit\":20}", &cursor);
      if (e || capi_count_rows(cursor) < 0) atomic_fetch_add(w->failures, 1);
      settee_error_free(e);
      settee_cursor_free(cursor);
    }
  }
  return NULL;
}

CAPI_TEST(one_db_handle_used_by_several_threads_at_once_loses_no_write) {
  settee_db* db = capi_open_db(capi_tmpdir(), "shared");
  REQUIRE(db);
  atomic_int failures;
  atomic_init(&failures, 0);
  pthread_t threads[kThreads];
  struct worker workers[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    workers[i] = (struct worker){db, i, &failures};
    REQUIRE(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
  }
  for (int i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  CHECK(atomic_load(&failures) == 0);
  settee_cursor* cursor = NULL;
  REQUIRE_OK(settee_db_all_docs(db, NULL, &cursor));
  CHECK(capi_count_rows(cursor) == kThreads * kDocsPerThread);
  settee_cursor_free(cursor);
  settee_db_close(db);
}

/* A sync's status and per-document state read by several threads while it runs, and stopped from one of
 * them: each read is a consistent copy. */
struct reader_arg {
  settee_sync* sync;
  atomic_int* stop;
  atomic_int* reads;
  atomic_int* bad;
};

static void* read_status(void* arg) {
  struct reader_arg* r = arg;
  while (!atomic_load(r->stop)) {
    settee_sync_status status;
    settee_sync_get_status(r->sync, &status);
    if (status.state > SETTEE_SYNC_STOPPED || strlen(status.error_name) >= sizeof status.error_name)
      atomic_fetch_add(r->bad, 1);
    settee_doc_sync_info info;
    settee_error* e = settee_sync_document_state(r->sync, "doc-000", &info);
    if (e) {
      if (atomic_fetch_add(r->bad, 1) == 0)
        fprintf(stderr, "  document state: %s: %s\n", settee_error_name(e), settee_error_message(e));
    }
    settee_error_free(e);
    atomic_fetch_add(r->reads, 1);
  }
  return NULL;
}

CAPI_TEST(a_syncs_status_is_read_by_several_threads_while_it_runs) {
  capi_pair pair;
  REQUIRE(capi_pair_start(&pair, NULL));
  settee_db* local = pair.local;
  settee_db* peer = pair.peer;
  const char* url = pair.url;
  settee_sync* sync = NULL;
  REQUIRE_OK(settee_sync_new(local, url, "{\"min_backoff_ms\":100}", &sync));
  atomic_int stop, reads, bad;
  atomic_init(&stop, 0);
  atomic_init(&reads, 0);
  atomic_init(&bad, 0);
  struct reader_arg arg = {sync, &stop, &reads, &bad};
  pthread_t readers[3];
  /* Started first: before its first start a sync's peer is not registered, and a document's state is
   * not_found. */
  REQUIRE_OK(settee_sync_start(sync));
  for (int i = 0; i < 3; ++i) REQUIRE(pthread_create(&readers[i], NULL, read_status, &arg) == 0);
  char id[32];
  for (int i = 0; i < 100; ++i) {
    snprintf(id, sizeof id, "doc-%03d", i);
    capi_put(local, id, "{\"n\":1}", NULL);
  }
  CHECK(WAIT_UNTIL(capi_has(peer, "doc-099", NULL), 8000));
  settee_sync_stop(sync);
  capi_sleep_ms(50);
  atomic_store(&stop, 1);
  for (int i = 0; i < 3; ++i) pthread_join(readers[i], NULL);
  CHECK(atomic_load(&reads) > 0);
  CHECK(atomic_load(&bad) == 0);
  settee_sync_free(sync);
  capi_pair_stop(&pair);
}
