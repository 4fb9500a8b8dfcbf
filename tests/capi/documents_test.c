/* Documents and _local documents (settee.h, "Documents", "_local documents"). */
#include "capi_support.h"

CAPI_TEST(put_then_get_returns_the_body_with_its_id_and_rev) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char* id = NULL;
  char* rev = NULL;
  REQUIRE_OK(settee_db_put(db, "note-1", "{\"text\":\"first \\\"quoted\\\" note\"}", &id, &rev));
  CHECK(strcmp(id, "note-1") == 0);
  CHECK(strncmp(rev, "1-", 2) == 0);
  char* json = NULL;
  CHECK_OK(settee_db_get(db, "note-1", NULL, &json));
  CHECK(capi_contains(json, "\"_id\":\"note-1\""));
  CHECK(capi_contains(json, rev));
  CHECK(capi_contains(json, "\"text\":\"first \\\"quoted\\\" note\""));
  settee_free(json);
  settee_free(id);
  settee_free(rev);
  settee_db_close(db);
}

CAPI_TEST(put_without_an_id_takes_the_body_id_or_makes_a_uuid) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char* id = NULL;
  CHECK_OK(settee_db_put(db, NULL, "{\"_id\":\"from-body\"}", &id, NULL));
  CHECK(id && strcmp(id, "from-body") == 0);
  settee_free(id);
  id = NULL;
  CHECK_OK(settee_db_put(db, NULL, "{\"x\":1}", &id, NULL));
  CHECK(id && strlen(id) == 32);
  settee_free(id);
  settee_db_close(db);
}

CAPI_TEST(put_with_a_stale_rev_is_a_conflict_and_with_the_current_rev_makes_generation_two) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char rev1[64], body[256];
  REQUIRE(capi_put(db, "d", "{\"v\":1}", rev1));
  CHECK_ERROR(settee_db_put(db, "d", "{\"v\":2}", NULL, NULL), "conflict");
  snprintf(body, sizeof body, "{\"_rev\":\"%s\",\"v\":2}", rev1);
  char* rev2 = NULL;
  CHECK_OK(settee_db_put(db, "d", body, NULL, &rev2));
  CHECK(rev2 && strncmp(rev2, "2-", 2) == 0);
  CHECK_ERROR(settee_db_put(db, "d", body, NULL, NULL), "conflict");
  settee_free(rev2);
  settee_db_close(db);
}

CAPI_TEST(put_refuses_malformed_json_invalid_utf8_bad_ids_and_bad_revs) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char* rev = (char*)1;
  CHECK_ERROR(settee_db_put(db, "d", "{\"v\":", NULL, &rev), "bad_request");
  CHECK(rev == NULL);
  CHECK_ERROR(settee_db_put(db, "d", "[1]", NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_put(db, "d", "{\"v\":\"\xc3\x28\"}", NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_put(db, "d", "{\"_rev\":\"not-a-rev\"}", NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_put(db, "_bad", "{}", NULL, NULL), "illegal_docid");
  CHECK_ERROR(settee_db_put(db, "d", "{\"_unknown\":1}", NULL, NULL), "doc_validation");
  CHECK_ERROR(settee_db_put(db, "", "{}", NULL, NULL), "bad_request");
  settee_db_close(db);
}

CAPI_TEST(get_reads_revisions_and_conflicts_as_couchdb_options_say) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char rev1[64], body[256];
  REQUIRE(capi_put(db, "d", "{\"v\":1}", rev1));
  snprintf(body, sizeof body, "{\"_rev\":\"%s\",\"v\":2}", rev1);
  REQUIRE(capi_put(db, "d", body, NULL));
  char* json = NULL;
  char options[256];
  snprintf(options, sizeof options, "{\"rev\":\"%s\"}", rev1);
  CHECK_OK(settee_db_get(db, "d", options, &json));
  CHECK(capi_contains(json, "\"v\":1"));
  settee_free(json);
  CHECK_OK(settee_db_get(db, "d", "{\"revs\":true,\"conflicts\":true,\"local_seq\":true}", &json));
  CHECK(capi_contains(json, "\"v\":2"));
  CHECK(capi_contains(json, "\"_revisions\":{\"start\":2"));
  CHECK(capi_contains(json, "\"_local_seq\":2"));
  settee_free(json);
  CHECK_OK(settee_db_get(db, "d", "{\"revs_info\":true}", &json));
  CHECK(capi_contains(json, "\"_revs_info\":["));
  settee_free(json);
  settee_db_close(db);
}

CAPI_TEST(get_refuses_unknown_options_by_name_bad_values_and_bad_revs) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  REQUIRE(capi_put(db, "d", "{}", NULL));
  char* json = (char*)1;
  settee_error* e = settee_db_get(db, "d", "{\"revz\":true}", &json);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST);
  CHECK(capi_contains(settee_error_message(e), "revz"));
  settee_error_free(e);
  CHECK(json == NULL);
  CHECK_ERROR(settee_db_get(db, "d", "{\"revs\":\"true\"}", &json), "bad_request");
  CHECK_ERROR(settee_db_get(db, "d", "{\"rev\":\"banana\"}", &json), "bad_request");
  CHECK_ERROR(settee_db_get(db, "d", "{\"rev\":7}", &json), "bad_request");
  CHECK_ERROR(settee_db_get(db, "d", "{\"atts_since\":\"1-abc\"}", &json), "bad_request");
  CHECK_ERROR(settee_db_get(db, "d", "{\"rev\":", &json), "bad_request");
  CHECK_ERROR(settee_db_get(db, "d", "{\"rev\":\"9-00000000000000000000000000000000\"}", &json), "not_found");
  settee_db_close(db);
}

CAPI_TEST(get_of_a_missing_document_is_not_found) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char* json = NULL;
  CHECK_ERROR(settee_db_get(db, "nothing-here", NULL, &json), "not_found");
  CHECK(json == NULL);
  settee_db_close(db);
}

CAPI_TEST(delete_makes_a_tombstone_and_the_document_reads_as_not_found) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char rev1[64];
  REQUIRE(capi_put(db, "d", "{}", rev1));
  CHECK_ERROR(settee_db_delete(db, "d", NULL, NULL), "conflict");
  CHECK_ERROR(settee_db_delete(db, "d", "not-a-rev", NULL), "bad_request");
  CHECK_ERROR(settee_db_delete(db, "d", "1-00000000000000000000000000000000", NULL), "conflict");
  char* tomb = NULL;
  CHECK_OK(settee_db_delete(db, "d", rev1, &tomb));
  CHECK(tomb && strncmp(tomb, "2-", 2) == 0);
  settee_error* e = settee_db_get(db, "d", NULL, NULL);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST);  // no out_json
  settee_error_free(e);
  char* json = NULL;
  e = settee_db_get(db, "d", NULL, &json);
  CHECK(settee_error_code(e) == SETTEE_NOT_FOUND);
  CHECK(strcmp(settee_error_message(e), "deleted") == 0);
  settee_error_free(e);
  CHECK_ERROR(settee_db_delete(db, "missing", rev1, NULL), "not_found");
  settee_free(tomb);
  settee_db_close(db);
}

CAPI_TEST(bulk_docs_answers_one_result_per_document_in_order) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  REQUIRE(capi_put(db, "taken", "{}", NULL));
  char* json = NULL;
  CHECK_OK(settee_db_bulk_docs(db, "{\"docs\":[{\"_id\":\"a\"},{\"_id\":\"taken\"},{\"_id\":\"b\",\"v\":1}]}",
                               &json));
  REQUIRE(json);
  const char* a = strstr(json, "{\"ok\":true,\"id\":\"a\"");
  const char* taken = strstr(json, "{\"id\":\"taken\",\"error\":\"conflict\"");
  const char* b = strstr(json, "{\"ok\":true,\"id\":\"b\"");
  CHECK(a && taken && b && a < taken && taken < b);
  settee_free(json);
  settee_db_close(db);
}

CAPI_TEST(bulk_docs_refuses_a_malformed_body) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char* json = NULL;
  CHECK_ERROR(settee_db_bulk_docs(db, "{\"docs\":[", &json), "bad_request");
  CHECK_ERROR(settee_db_bulk_docs(db, "[]", &json), "bad_request");
  CHECK_ERROR(settee_db_bulk_docs(db, "{}", &json), "bad_request");
  CHECK_ERROR(settee_db_bulk_docs(db, "{\"docs\":{}}", &json), "bad_request");
  CHECK_ERROR(settee_db_bulk_docs(db, "{\"docs\":[],\"new_edits\":\"no\"}", &json), "bad_request");
  settee_error* e = settee_db_bulk_docs(db, "{\"docs\":[],\"all_or_nothing\":true}", &json);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST);
  CHECK(capi_contains(settee_error_message(e), "all_or_nothing"));
  settee_error_free(e);
  CHECK_ERROR(settee_db_bulk_docs(db, "{\"docs\":[\"\xff\"]}", &json), "bad_request");
  CHECK(json == NULL);
  settee_db_close(db);
}

CAPI_TEST(local_documents_are_written_read_and_deleted_with_or_without_their_prefix) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char* rev = NULL;
  REQUIRE_OK(settee_db_put_local(db, "checkpoint", "{\"seq\":7}", &rev));
  CHECK(rev && strcmp(rev, "0-1") == 0);
  settee_free(rev);
  char* json = NULL;
  CHECK_OK(settee_db_get_local(db, "_local/checkpoint", &json));
  CHECK(capi_contains(json, "\"_id\":\"_local/checkpoint\""));
  CHECK(capi_contains(json, "\"seq\":7"));
  settee_free(json);
  CHECK_OK(settee_db_put_local(db, "_local/checkpoint", "{\"_rev\":\"0-1\",\"seq\":8}", &rev));
  CHECK(rev && strcmp(rev, "0-2") == 0);
  settee_free(rev);
  CHECK_ERROR(settee_db_put_local(db, "checkpoint", "{\"seq\":9}", NULL), "conflict");
  CHECK_ERROR(settee_db_put_local(db, "checkpoint", "{\"seq\":", NULL), "bad_request");
  /* Not a replicated document: neither in all_docs nor in changes. */
  settee_cursor* cursor = NULL;
  REQUIRE_OK(settee_db_all_docs(db, NULL, &cursor));
  CHECK(capi_count_rows(cursor) == 0);
  settee_cursor_free(cursor);
  REQUIRE_OK(settee_db_changes(db, NULL, &cursor));
  CHECK(capi_count_rows(cursor) == 0);
  settee_cursor_free(cursor);
  CHECK_ERROR(settee_db_delete_local(db, "checkpoint", "0-1"), "conflict");
  CHECK_OK(settee_db_delete_local(db, "checkpoint", "0-2"));
  CHECK_ERROR(settee_db_get_local(db, "checkpoint", &json), "not_found");
  settee_db_close(db);
}

CAPI_TEST(document_functions_given_null_arguments_answer_bad_request) {
  settee_db* db = capi_open_db(capi_tmpdir(), "docs");
  REQUIRE(db);
  char* out = NULL;
  CHECK_ERROR(settee_db_put(NULL, "a", "{}", NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_put(db, "a", NULL, NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_get(NULL, "a", NULL, &out), "bad_request");
  CHECK_ERROR(settee_db_get(db, NULL, NULL, &out), "bad_request");
  CHECK_ERROR(settee_db_delete(NULL, "a", "1-a", NULL), "bad_request");
  CHECK_ERROR(settee_db_delete(db, NULL, "1-a", NULL), "bad_request");
  CHECK_ERROR(settee_db_bulk_docs(NULL, "{\"docs\":[]}", &out), "bad_request");
  CHECK_ERROR(settee_db_bulk_docs(db, NULL, &out), "bad_request");
  CHECK_ERROR(settee_db_bulk_docs(db, "{\"docs\":[]}", NULL), "bad_request");
  CHECK_ERROR(settee_db_get_local(NULL, "a", &out), "bad_request");
  CHECK_ERROR(settee_db_get_local(db, NULL, &out), "bad_request");
  CHECK_ERROR(settee_db_get_local(db, "a", NULL), "bad_request");
  CHECK_ERROR(settee_db_put_local(db, NULL, "{}", NULL), "bad_request");
  CHECK_ERROR(settee_db_put_local(db, "a", NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_delete_local(NULL, "a", "0-1"), "bad_request");
  CHECK_ERROR(settee_db_delete_local(db, NULL, "0-1"), "bad_request");
  CHECK(out == NULL);
  settee_db_close(db);
}
