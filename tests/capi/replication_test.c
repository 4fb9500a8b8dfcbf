/* Replication through the C API: local to local, local into an embedded node over HTTP, and the
 * arguments and options it refuses. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>

#include "capi_support.h"

static void on_state(void* context, const char* status_json) {
  atomic_int* changes = context;
  if (capi_contains(status_json, "\"state\":")) atomic_fetch_add(changes, 1);
}

CAPI_TEST(replication_copies_every_document_local_to_local) {
  settee_db* source = capi_open_db(capi_tmpdir(), "source");
  settee_db* target = capi_open_db(capi_tmpdir(), "target");
  REQUIRE(source && target);
  char id[32];
  for (int i = 0; i < 20; ++i) {
    snprintf(id, sizeof id, "doc-%02d", i);
    REQUIRE(capi_put(source, id, "{\"kind\":\"field note\"}", NULL));
  }
  settee_replication* rep = NULL;
  REQUIRE(CHECK_OK(settee_replication_new(source, NULL, target, NULL, "{\"batch_size\":7}", &rep)));
  atomic_int changes;
  atomic_init(&changes, 0);
  CHECK_OK(settee_replication_start(rep, on_state, &changes));
  CHECK_ERROR(settee_replication_start(rep, NULL, NULL), "bad_request"); /* once only */
  CHECK_OK(settee_replication_wait(rep));
  CHECK(atomic_load(&changes) > 0);
  char* status = NULL;
  CHECK_OK(settee_replication_status(rep, &status));
  CHECK(capi_contains(status, "\"state\":\"completed\""));
  CHECK(capi_contains(status, "\"docs_written\":20"));
  CHECK(capi_contains(status, "\"pending\":0"));
  settee_free(status);
  settee_replication_free(rep);
  char* doc = NULL;
  CHECK(capi_has(target, "doc-13", &doc));
  CHECK(capi_contains(doc, "field note"));
  settee_free(doc);
  settee_db_close(source);
  settee_db_close(target);
}

CAPI_TEST(replication_pushes_into_an_embedded_node_over_http_and_back) {
  char nodeDir[4096];
  snprintf(nodeDir, sizeof nodeDir, "%s", capi_path("node"));
  settee_db* local = capi_open_db(capi_path("app"), "notes");
  REQUIRE(local);
  REQUIRE(capi_put(local, "pushed", "{\"text\":\"over http\"}", NULL));
  settee_node* node = NULL;
  REQUIRE(CHECK_OK(settee_node_start(nodeDir, "{\"port\":0}", &node)));
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/remote", settee_node_port(node));

  settee_replication* push = NULL;
  REQUIRE(CHECK_OK(settee_replication_new(local, NULL, NULL, url, "{\"create_target\":true}", &push)));
  CHECK_OK(settee_replication_start(push, NULL, NULL));
  CHECK_OK(settee_replication_wait(push));
  settee_replication_free(push);

  /* Read back through a second handle on the node's directory (the process's one DataDir for it)... */
  settee_db* served = capi_open_db(nodeDir, "remote");
  if (served) {
    char* doc = NULL;
    CHECK(capi_has(served, "pushed", &doc));
    CHECK(capi_contains(doc, "over http"));
    settee_free(doc);
    settee_db_close(served);
  }
  /* ...and over HTTP again, pulled into a fresh database. */
  settee_db* back = capi_open_db(capi_path("app"), "back");
  settee_replication* pull = NULL;
  REQUIRE(CHECK_OK(settee_replication_new(NULL, url, back, NULL, NULL, &pull)));
  CHECK_OK(settee_replication_start(pull, NULL, NULL));
  CHECK_OK(settee_replication_wait(pull));
  settee_replication_free(pull);
  CHECK(capi_has(back, "pushed", NULL));
  settee_db_close(back);
  settee_node_stop(node);
  settee_db_close(local);
}

CAPI_TEST(replication_refuses_bad_endpoints_and_options_with_bad_request) {
  settee_db* db = capi_open_db(capi_tmpdir(), "db");
  REQUIRE(db);
  settee_replication* rep = NULL;
  CHECK_ERROR(settee_replication_new(db, "http://127.0.0.1:1/x", db, NULL, NULL, &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(NULL, NULL, db, NULL, NULL, &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(db, NULL, NULL, "ftp://127.0.0.1/x", NULL, &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(db, NULL, NULL, "not a url", NULL, &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(db, NULL, db, NULL, "{\"no_such_option\":1}", &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(db, NULL, db, NULL, "{\"worker_processes\":0}", &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(db, NULL, db, NULL, "{\"doc_ids\":[1]}", &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(db, NULL, db, NULL, "{\"headers\":{\"x\":1}}", &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(db, NULL, db, NULL, "[]", &rep), "bad_request");
  CHECK_ERROR(settee_replication_new(db, NULL, db, NULL, "{", &rep), "bad_request");
  /* A duration past a year would overflow a deadline's arithmetic once started. */
  CHECK_ERROR(settee_replication_new(db, NULL, db, NULL, "{\"heartbeat\":18446744073709551615}", &rep),
              "bad_request");
  CHECK_ERROR(
      settee_replication_new(db, NULL, db, NULL, "{\"connection_timeout\":9223372036854775808}", &rep),
      "bad_request");
  CHECK(rep == NULL);
  settee_db_close(db);
}

CAPI_TEST(replication_to_an_unreachable_peer_fails_with_the_reason) {
  settee_db* db = capi_open_db(capi_tmpdir(), "db");
  REQUIRE(db);
  settee_replication* rep = NULL;
  REQUIRE(CHECK_OK(settee_replication_new(db, NULL, NULL, "http://127.0.0.1:1/nobody",
                                          "{\"retries_per_request\":0,\"connection_timeout\":1000}", &rep)));
  CHECK_OK(settee_replication_start(rep, NULL, NULL));
  settee_error* e = settee_replication_wait(rep);
  CHECK(e != NULL);
  settee_error_free(e);
  char* status = NULL;
  CHECK_OK(settee_replication_status(rep, &status));
  CHECK(capi_contains(status, "\"state\":\"failed\""));
  CHECK(capi_contains(status, "\"error\":{"));
  settee_free(status);
  settee_replication_free(rep);
  settee_db_close(db);
}
