/* An embedded node and the JavaScript of design documents: validate_doc_update runs in a `settee js`
 * process the app names ("query_server"), and without one a write it must judge fails instead of passing. */
#include "capi_support.h"

/* Pushes {"type":"note"} "typed" and {} "untyped" from a fresh local database to database "guarded" of
 * `node`, whose design document refuses documents without a type; the replication's final status JSON
 * goes into `status` (freed by the caller). */
static void pushTwoDocs(settee_node* node, settee_db* guarded, char** status) {
  REQUIRE(capi_put(guarded, "_design/rules",
                   "{\"validate_doc_update\":\"function(newDoc){ if (!newDoc.type && !newDoc._deleted) "
                   "throw({forbidden: 'type required'}); }\"}",
                   NULL));
  settee_db* local = capi_open_db(capi_path("app"), "notes");
  REQUIRE(local);
  CHECK(capi_put(local, "typed", "{\"type\":\"note\"}", NULL));
  CHECK(capi_put(local, "untyped", "{}", NULL));
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/guarded", settee_node_port(node));
  settee_replication* push = NULL;
  if (CHECK_OK(settee_replication_new(local, NULL, NULL, url, NULL, &push))) {
    CHECK_OK(settee_replication_start(push, NULL, NULL));
    CHECK_OK(settee_replication_wait(push));
    CHECK_OK(settee_replication_status(push, status));
  }
  settee_replication_free(push);
  settee_db_close(local);
}

CAPI_TEST(node_without_a_query_server_refuses_writes_a_validate_function_must_judge) {
  settee_db* guarded = NULL;
  char url[256];
  settee_node* node = capi_start_node(capi_path("node"), "{\"port\":0}", "guarded", &guarded, url, sizeof url);
  REQUIRE(node);
  char* status = NULL;
  pushTwoDocs(node, guarded, &status);
  CHECK(capi_contains(status, "\"docs_written\":0"));
  CHECK(capi_contains(status, "\"doc_write_failures\":2"));
  CHECK(!capi_has(guarded, "typed", NULL));
  CHECK(!capi_has(guarded, "untyped", NULL));
  settee_free(status);
  settee_db_close(guarded);
  settee_node_stop(node);
}

#ifdef SETTEE_BINARY
CAPI_TEST(node_with_settee_as_query_server_runs_validate_doc_update_on_replicated_writes) {
  settee_db* guarded = NULL;
  char url[256];
  settee_node* node = capi_start_node(capi_path("node"), "{\"port\":0,\"query_server\":\"" SETTEE_BINARY "\"}",
                                      "guarded", &guarded, url, sizeof url);
  REQUIRE(node);
  char* status = NULL;
  pushTwoDocs(node, guarded, &status);
  CHECK(capi_contains(status, "\"docs_written\":1"));
  CHECK(capi_contains(status, "\"doc_write_failures\":1"));
  CHECK(capi_has(guarded, "typed", NULL));
  CHECK(!capi_has(guarded, "untyped", NULL));
  settee_free(status);
  settee_db_close(guarded);
  settee_node_stop(node);
}
#endif
