/* Sync through the C API, with an embedded node as the peer: convergence both ways to Idle, a conflict
 * resolved by the app's resolver, per-document state, and the arguments it refuses. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>

#include "capi_support.h"

static int idle_and_caught_up(settee_sync* sync) {
  settee_sync_status status;
  settee_sync_get_status(sync, &status);
  return status.state == SETTEE_SYNC_IDLE && status.pending == 0;
}

struct listened {
  atomic_int statuses;
  atomic_int idle;
  atomic_int pulled;
  atomic_int pushed;
  atomic_int resolved;
};

static void on_status(void* context, const settee_sync_status* status) {
  struct listened* l = context;
  atomic_fetch_add(&l->statuses, 1);
  if (status->state == SETTEE_SYNC_IDLE) atomic_store(&l->idle, 1);
}

static void on_document(void* context, settee_doc_event_kind kind, const char* id, const char* rev,
                        const settee_error* error) {
  struct listened* l = context;
  if (!id || !rev) return;
  if (kind == SETTEE_DOC_PULLED) atomic_fetch_add(&l->pulled, 1);
  if (kind == SETTEE_DOC_PUSHED) atomic_fetch_add(&l->pushed, 1);
  if (kind == SETTEE_DOC_CONFLICT_RESOLVED && !error) atomic_fetch_add(&l->resolved, 1);
}

static void init_listened(struct listened* l) {
  atomic_init(&l->statuses, 0);
  atomic_init(&l->idle, 0);
  atomic_init(&l->pulled, 0);
  atomic_init(&l->pushed, 0);
  atomic_init(&l->resolved, 0);
}

CAPI_TEST(sync_with_a_node_converges_both_ways_and_reaches_idle_with_nothing_pending) {
  capi_pair pair;
  REQUIRE(capi_pair_start(&pair, NULL));
  settee_db* local = pair.local;
  settee_db* peer = pair.peer;
  const char* url = pair.url;
  REQUIRE(capi_put(local, "from-app", "{\"text\":\"written offline\"}", NULL));
  REQUIRE(capi_put(peer, "from-node", "{\"text\":\"written on the node\"}", NULL));

  settee_sync* sync = NULL;
  REQUIRE(CHECK_OK(settee_sync_new(local, url, "{\"min_backoff_ms\":100,\"heartbeat_ms\":1000}", &sync)));
  CHECK(strcmp(settee_sync_peer(sync), url) == 0);
  struct listened heard;
  init_listened(&heard);
  CHECK_OK(settee_sync_set_listeners(sync, on_status, on_document, &heard));
  REQUIRE(CHECK_OK(settee_sync_start(sync)));
  CHECK_ERROR(settee_sync_set_listeners(sync, NULL, NULL, NULL), "bad_request"); /* before start only */
  CHECK(WAIT_UNTIL(
      idle_and_caught_up(sync) && capi_has(local, "from-node", NULL) && capi_has(peer, "from-app", NULL),
      8000));
  settee_sync_status status;
  settee_sync_get_status(sync, &status);
  CHECK(status.state == SETTEE_SYNC_IDLE);
  CHECK(status.pending == 0 && status.failed == 0 && status.conflicted == 0);
  CHECK(status.last_sync_micros > 0);
  CHECK(status.error_name[0] == '\0');

  /* Still following: a write on either side crosses over. */
  REQUIRE(capi_put(local, "later-app", "{}", NULL));
  REQUIRE(capi_put(peer, "later-node", "{}", NULL));
  CHECK(WAIT_UNTIL(capi_has(peer, "later-app", NULL) && capi_has(local, "later-node", NULL), 5000));
  CHECK(WAIT_UNTIL(idle_and_caught_up(sync), 5000));
  CHECK(atomic_load(&heard.statuses) > 0);
  CHECK(atomic_load(&heard.idle));
  CHECK(atomic_load(&heard.pulled) >= 2);
  CHECK(atomic_load(&heard.pushed) >= 2);

  settee_sync_stop(sync);
  settee_sync_get_status(sync, &status);
  CHECK(status.state == SETTEE_SYNC_STOPPED);
  settee_sync_free(sync);
  capi_pair_stop(&pair);
}

static int offline(settee_sync* sync) {
  settee_sync_status status;
  settee_sync_get_status(sync, &status);
  return status.state == SETTEE_SYNC_OFFLINE && status.next_retry_micros == 0;
}

CAPI_TEST(sync_goes_offline_by_the_apps_word_and_catches_up_when_the_network_is_back) {
  capi_pair pair;
  REQUIRE(capi_pair_start(&pair, NULL));
  settee_db* local = pair.local;
  settee_db* peer = pair.peer;
  const char* url = pair.url;
  settee_sync* sync = NULL;
  REQUIRE(CHECK_OK(settee_sync_new(local, url, "{\"min_backoff_ms\":100}", &sync)));
  REQUIRE(CHECK_OK(settee_sync_start(sync)));
  CHECK(WAIT_UNTIL(idle_and_caught_up(sync), 5000));

  settee_sync_network_changed(sync, false);
  CHECK(WAIT_UNTIL(offline(sync), 3000));
  REQUIRE(capi_put(local, "written-offline", "{}", NULL));
  capi_sleep_ms(200);
  settee_sync_status status;
  settee_sync_get_status(sync, &status);
  CHECK(status.state == SETTEE_SYNC_OFFLINE);
  CHECK(status.pending == 1);
  CHECK(!capi_has(peer, "written-offline", NULL));

  settee_sync_network_changed(sync, true);
  CHECK(WAIT_UNTIL(idle_and_caught_up(sync) && capi_has(peer, "written-offline", NULL), 5000));
  settee_sync_free(sync);
  capi_pair_stop(&pair);
}

/* The app's resolver: merge, writing {"v":"merged"} on CouchDB's winner (deterministic on every device). */
static void merge_resolver(void* context, const char* input_json, settee_decision* decision) {
  atomic_int* calls = context;
  if (capi_contains(input_json, "\"leaves\":[")) {
    atomic_fetch_add(calls, 1);
    settee_decision_merge(decision, "{\"v\":\"merged\"}", NULL);
  }
}

static atomic_int contexts_freed;
static void free_resolver_context(void* context) {
  (void)context;
  atomic_fetch_add(&contexts_freed, 1);
}

static int resolved_in(settee_db* db) {
  char* doc = NULL;
  char* conflicts = NULL;
  int ok = capi_has(db, "shared", &doc) && capi_contains(doc, "\"v\":\"merged\"");
  settee_error* e = settee_db_conflicts(db, "shared", &conflicts);
  ok = ok && !e && conflicts && strcmp(conflicts, "[]") == 0;
  settee_error_free(e);
  settee_free(doc);
  settee_free(conflicts);
  return ok;
}

CAPI_TEST(sync_resolves_a_conflict_by_the_apps_resolver_on_both_sides) {
  capi_pair pair;
  REQUIRE(capi_pair_start(&pair, NULL));
  settee_db* local = pair.local;
  settee_db* peer = pair.peer;
  const char* url = pair.url;
  REQUIRE(capi_put(local, "shared", "{\"v\":\"local\"}", NULL));
  REQUIRE(capi_put(peer, "shared", "{\"v\":\"peer\"}", NULL));

  atomic_int calls;
  atomic_init(&calls, 0);
  atomic_store(&contexts_freed, 0);
  settee_conflict_policy* policy = NULL;
  REQUIRE(CHECK_OK(settee_conflict_policy_custom(merge_resolver, &calls, free_resolver_context, &policy)));
  settee_sync* sync = NULL;
  REQUIRE(CHECK_OK(settee_sync_new(local, url, "{\"min_backoff_ms\":100}", &sync)));
  CHECK_OK(settee_sync_set_policy(sync, policy));
  settee_conflict_policy_free(policy); /* the sync keeps its own copy */
  CHECK(atomic_load(&contexts_freed) == 0);
  struct listened heard;
  init_listened(&heard);
  CHECK_OK(settee_sync_set_listeners(sync, NULL, on_document, &heard));
  REQUIRE(CHECK_OK(settee_sync_start(sync)));
  CHECK_ERROR(settee_sync_set_policy(sync, NULL), "bad_request");

  CHECK(WAIT_UNTIL(resolved_in(local) && resolved_in(peer) && idle_and_caught_up(sync), 8000));
  CHECK(atomic_load(&calls) >= 1);
  CHECK(atomic_load(&heard.resolved) >= 1);
  settee_sync_free(sync);
  CHECK(atomic_load(&contexts_freed) == 1);
  capi_pair_stop(&pair);
}

CAPI_TEST(document_state_says_pending_for_a_document_the_peer_has_not_confirmed) {
  settee_db* local = capi_open_db(capi_tmpdir(), "notes");
  REQUIRE(local);
  settee_sync* sync = NULL;
  /* Nobody listens there; offline by the app's word, nothing is even tried. */
  REQUIRE(CHECK_OK(settee_sync_new(local, "http://user:secret@127.0.0.1:1/peer", NULL, &sync)));
  CHECK(strcmp(settee_sync_peer(sync), "http://127.0.0.1:1/peer") == 0);
  settee_sync_network_changed(sync, false);
  REQUIRE(CHECK_OK(settee_sync_start(sync)));
  settee_sync_status status;
  CHECK(WAIT_UNTIL((settee_sync_get_status(sync, &status), status.state == SETTEE_SYNC_OFFLINE), 3000));
  REQUIRE(capi_put(local, "outbox", "{\"text\":\"not yet sent\"}", NULL));

  settee_doc_sync_info info;
  REQUIRE(CHECK_OK(settee_sync_document_state(sync, "outbox", &info)));
  CHECK(info.state == SETTEE_DOC_PENDING);
  CHECK(info.pending && !info.failed && !info.conflicted);
  CHECK(info.seq > 0);
  CHECK(info.failure_name[0] == '\0');
  settee_doc_sync_info same;
  REQUIRE(CHECK_OK(settee_db_document_sync_state(local, settee_sync_peer(sync), "outbox", &same)));
  CHECK(same.state == SETTEE_DOC_PENDING && same.seq == info.seq);

  char* list = NULL;
  REQUIRE(CHECK_OK(settee_sync_documents(sync, SETTEE_DOC_PENDING, 10, NULL, &list)));
  CHECK(capi_contains(list, "\"id\":\"outbox\""));
  settee_free(list);
  REQUIRE(CHECK_OK(settee_sync_documents(sync, SETTEE_DOC_PENDING, 10, "outbox", &list)));
  CHECK(strcmp(list, "[]") == 0);
  settee_free(list);
  CHECK_ERROR(settee_sync_documents(sync, SETTEE_DOC_SYNCED, 10, NULL, &list), "bad_request");
  settee_sync_get_status(sync, &status);
  CHECK(status.pending == 1);
  settee_sync_free(sync);
  settee_db_close(local);
}

CAPI_TEST(sync_refuses_bad_urls_and_options_with_bad_request) {
  settee_db* db = capi_open_db(capi_tmpdir(), "db");
  REQUIRE(db);
  settee_sync* sync = NULL;
  CHECK_ERROR(settee_sync_new(db, "ftp://127.0.0.1/db", NULL, &sync), "bad_request");
  CHECK_ERROR(settee_sync_new(db, "not a url", NULL, &sync), "bad_request");
  CHECK_ERROR(settee_sync_new(db, "http://127.0.0.1:1/db", "{\"policy\":\"coin toss\"}", &sync),
              "bad_request");
  CHECK_ERROR(settee_sync_new(db, "http://127.0.0.1:1/db", "{\"timeout_ms\":\"soon\"}", &sync),
              "bad_request");
  CHECK_ERROR(settee_sync_new(db, "http://127.0.0.1:1/db", "{\"min_backoff_ms\":0}", &sync), "bad_request");
  /* A duration past a year would overflow a deadline's arithmetic once started. */
  CHECK_ERROR(settee_sync_new(db, "http://127.0.0.1:1/db", "{\"timeout_ms\":18446744073709551615}", &sync),
              "bad_request");
  CHECK_ERROR(settee_sync_new(db, "http://127.0.0.1:1/db", "{\"heartbeat_ms\":9223372036854775808}", &sync),
              "bad_request");
  CHECK_ERROR(settee_sync_new(db, "http://127.0.0.1:1/db", "{\"push_selector\":\"all\"}", &sync),
              "bad_request");
  CHECK_ERROR(settee_sync_new(db, "http://127.0.0.1:1/db", "{\"no_such_option\":true}", &sync),
              "bad_request");
  CHECK(sync == NULL);
  REQUIRE(CHECK_OK(
      settee_sync_new(db, "http://127.0.0.1:1/db", "{\"policy\":\"lww:updated\",\"metered\":true}", &sync)));
  settee_sync_status status;
  settee_sync_get_status(sync, &status);
  CHECK(status.state == SETTEE_SYNC_STOPPED);
  settee_sync_free(sync);
  settee_db_close(db);
}
