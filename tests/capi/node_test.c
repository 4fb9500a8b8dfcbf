/* The embedded node through the C API: it serves the directory shared with the app's handles, keeps
 * `settee serve`'s security, refuses bad options, and stops from any thread. Also the leak proof of every
 * handle type of queries, replication, sync and the node (run under ASan with detect_leaks=1). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "capi_support.h"

/* Pulls `url` into `into` (one-shot, no retries); the replication's error, or NULL. */
static settee_error* pull(const char* url, settee_db* into) {
  settee_replication* rep = NULL;
  settee_error* e = settee_replication_new(NULL, url, into, NULL, "{\"retries_per_request\":0}", &rep);
  if (e) return e;
  e = settee_replication_start(rep, NULL, NULL);
  if (!e) e = settee_replication_wait(rep);
  settee_replication_free(rep);
  return e;
}

CAPI_TEST(node_serves_the_databases_its_directory_shares_with_db_handles) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", capi_path("served"));
  settee_db* db = capi_open_db(dir, "shared");
  REQUIRE(db);
  REQUIRE(capi_put(db, "before", "{\"when\":\"before the node\"}", NULL));
  settee_node* node = NULL;
  REQUIRE(CHECK_OK(settee_node_start(dir, "{\"bind_address\":\"127.0.0.1\",\"port\":0,\"loops\":2}", &node)));
  CHECK(settee_node_port(node) > 0);
  /* Written through the handle while the node serves: the same open database. */
  REQUIRE(capi_put(db, "during", "{\"when\":\"while serving\"}", NULL));
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/shared", settee_node_port(node));
  settee_db* copy = capi_open_db(capi_path("app"), "copy");
  REQUIRE(copy);
  CHECK_OK(pull(url, copy));
  CHECK(capi_has(copy, "before", NULL));
  CHECK(capi_has(copy, "during", NULL));
  settee_node_stop(node);
  /* Still usable by the app once the node is gone. */
  CHECK(capi_put(db, "after", "{}", NULL));
  settee_db_close(copy);
  settee_db_close(db);
}

CAPI_TEST(node_with_an_admin_refuses_anonymous_requests_and_takes_the_admins) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", capi_path("secured"));
  settee_db* db = capi_open_db(dir, "private");
  REQUIRE(db);
  REQUIRE(capi_put(db, "secret", "{}", NULL));
  settee_node* node = NULL;
  REQUIRE(CHECK_OK(settee_node_start(dir, "{\"port\":0,\"admins\":{\"admin\":\"s3cret\"}}", &node)));
  settee_db* copy = capi_open_db(capi_path("app"), "copy");
  REQUIRE(copy);
  char url[256];
  snprintf(url, sizeof url, "http://admin:wrong@127.0.0.1:%d/private", settee_node_port(node));
  CHECK_ERROR(pull(url, copy), "unauthorized");
  snprintf(url, sizeof url, "http://admin:s3cret@127.0.0.1:%d/private", settee_node_port(node));
  CHECK_OK(pull(url, copy));
  CHECK(capi_has(copy, "secret", NULL));
  settee_node_stop(node);
  settee_db_close(copy);
  settee_db_close(db);
}

CAPI_TEST(node_refuses_bad_options) {
  settee_node* node = NULL;
  const char* dir = capi_path("node");
  CHECK_ERROR(settee_node_start(dir, "{\"port\":70000}", &node), "bad_request");
  CHECK_ERROR(settee_node_start(dir, "{\"port\":\"80\"}", &node), "bad_request");
  CHECK_ERROR(settee_node_start(dir, "{\"no_such_option\":1}", &node), "bad_request");
  CHECK_ERROR(settee_node_start(dir, "{\"admins\":{\"admin\":7}}", &node), "bad_request");
  /* Admin party is for loopback only, as `settee serve` says. */
  CHECK_ERROR(settee_node_start(dir, "{\"bind_address\":\"0.0.0.0\"}", &node), "bad_request");
  CHECK_ERROR(settee_node_start(dir, "{\"config_file\":\"/nonexistent/node.ini\"}", &node), "not_found");
  CHECK(node == NULL);
}

CAPI_TEST(node_on_a_port_taken_fails_to_start_saying_so) {
  settee_node* first = NULL;
  REQUIRE(CHECK_OK(settee_node_start(capi_path("first"), "{\"port\":0}", &first)));
  char options[64];
  snprintf(options, sizeof options, "{\"port\":%d}", settee_node_port(first));
  settee_node* second = NULL;
  settee_error* e = settee_node_start(capi_path("second"), options, &second);
  CHECK(e != NULL && capi_contains(settee_error_message(e), "cannot listen"));
  settee_error_free(e);
  CHECK(second == NULL);
  settee_node_stop(first);
}

CAPI_TEST(node_reads_its_config_file_under_the_options) {
  char ini[4096];
  /* The admin's password hashed as CouchDB 1.x did (-hashed-: hex(SHA-1(password ++ salt))), which costs
   * no PBKDF2 rounds: the plain-password case is the test above. */
  REQUIRE(capi_write_file(
      "node.ini",
      "[chttpd]\nport = 1\n[admins]\nkeeper = -hashed-725f0042bb42d15680c92d7df6226575f40f6b81,5a1t\n", ini,
      sizeof ini));
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", capi_path("configured"));
  settee_db* served = capi_open_db(dir, "notes");
  REQUIRE(served);
  REQUIRE(capi_put(served, "note", "{}", NULL));
  char options[4200];
  snprintf(options, sizeof options, "{\"config_file\":\"%s\",\"port\":0}", ini);
  settee_node* node = NULL;
  REQUIRE(CHECK_OK(settee_node_start(dir, options, &node)));
  CHECK(settee_node_port(node) > 1); /* the option over the file */
  settee_db* copy = capi_open_db(capi_path("app"), "copy");
  REQUIRE(copy);
  char url[256];
  snprintf(url, sizeof url, "http://keeper:guess@127.0.0.1:%d/notes", settee_node_port(node));
  CHECK_ERROR(pull(url, copy), "unauthorized");
  snprintf(url, sizeof url, "http://keeper:from-the-file@127.0.0.1:%d/notes", settee_node_port(node));
  CHECK_OK(pull(url, copy)); /* the file's admin */
  CHECK(capi_has(copy, "note", NULL));
  settee_db_close(copy);
  settee_db_close(served);
  settee_node_stop(node);
}

static void* stop_node(void* node) {
  settee_node_stop(node);
  return NULL;
}

CAPI_TEST(node_stops_from_another_thread) {
  settee_node* node = NULL;
  REQUIRE(CHECK_OK(settee_node_start(capi_path("node"), "{\"port\":0}", &node)));
  pthread_t thread;
  REQUIRE(pthread_create(&thread, NULL, stop_node, node) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  /* Its port is free again: a node on the same directory starts. */
  REQUIRE(CHECK_OK(settee_node_start(capi_path("node"), "{\"port\":0}", &node)));
  settee_node_stop(node);
  settee_node_stop(NULL);
}

static void ignore_live(void* context, const char* json) {
  (void)context;
  (void)json;
}
static void ignore_resolver(void* context, const char* input, settee_decision* decision) {
  (void)context;
  (void)input;
  (void)decision;
}

CAPI_TEST(every_sync_handle_type_is_freed_without_leaks) {
  settee_db* db = capi_open_db(capi_tmpdir(), "leaks");
  settee_db* other = capi_open_db(capi_tmpdir(), "other");
  REQUIRE(db && other);
  for (int i = 0; i < 5; ++i) {
    char id[16];
    snprintf(id, sizeof id, "d%d", i);
    REQUIRE(capi_put(db, id, "{\"type\":\"note\"}", NULL));
  }
  /* A find cursor freed before its end. */
  settee_cursor* cursor = NULL;
  REQUIRE(CHECK_OK(settee_db_find(db, "{\"selector\":{\"type\":\"note\"}}", &cursor)));
  const char* row = NULL;
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  settee_cursor_free(cursor);
  /* A live query. */
  settee_live_query* live = NULL;
  REQUIRE(CHECK_OK(settee_db_live_query(db, "{\"selector\":{\"type\":\"note\"}}", ignore_live, NULL, &live)));
  settee_live_query_free(live);
  /* A node, with a replication and a sync towards it: each started and never started. */
  settee_node* node = NULL;
  REQUIRE(CHECK_OK(settee_node_start(capi_path("node"), "{\"port\":0}", &node)));
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/peer", settee_node_port(node));
  settee_replication* never = NULL;
  REQUIRE(CHECK_OK(settee_replication_new(db, NULL, other, NULL, NULL, &never)));
  CHECK_ERROR(settee_replication_wait(never), "precondition_failed");
  settee_replication_free(never);
  settee_replication* running = NULL;
  REQUIRE(CHECK_OK(
      settee_replication_new(db, NULL, NULL, url, "{\"continuous\":true,\"create_target\":true}", &running)));
  CHECK_OK(settee_replication_start(running, NULL, NULL));
  settee_replication_free(running);
  settee_sync* idle = NULL;
  REQUIRE(CHECK_OK(settee_sync_new(db, url, NULL, &idle)));
  settee_sync_free(idle);
  settee_conflict_policy* policy = NULL;
  REQUIRE(CHECK_OK(settee_conflict_policy_custom(ignore_resolver, NULL, NULL, &policy)));
  settee_sync* started = NULL;
  REQUIRE(CHECK_OK(settee_sync_new(db, url, NULL, &started)));
  CHECK_OK(settee_sync_set_policy(started, policy));
  settee_conflict_policy_free(policy);
  CHECK_OK(settee_sync_start(started));
  settee_sync_free(started);
  settee_node_stop(node);
  /* NULL is a no-op for each. */
  settee_cursor_free(NULL);
  settee_live_query_free(NULL);
  settee_replication_free(NULL);
  settee_sync_free(NULL);
  settee_node_stop(NULL);
  settee_db_close(other);
  settee_db_close(db);
}
