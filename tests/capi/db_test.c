/* Databases: open, close, info, delete (settee.h, "Databases"). */
#include "capi_support.h"

CAPI_TEST(db_open_creates_the_database_and_info_reports_its_name_and_counts) {
  settee_db* db = capi_open_db(capi_tmpdir(), "field-notes");
  REQUIRE(db);
  CHECK(strcmp(settee_db_name(db), "field-notes") == 0);
  CHECK(capi_put(db, "a", "{\"n\":1}", NULL));
  char* info = NULL;
  if (CHECK_OK(settee_db_info(db, &info))) {
    CHECK(capi_contains(info, "\"db_name\":\"field-notes\""));
    CHECK(capi_contains(info, "\"doc_count\":1"));
    CHECK(capi_contains(info, "\"update_seq\":1"));
    CHECK(capi_contains(info, "\"sizes\":{"));
  }
  settee_free(info);
  settee_db_close(db);
}

CAPI_TEST(db_open_twice_gives_two_handles_on_one_database) {
  settee_db* a = capi_open_db(capi_tmpdir(), "shared");
  settee_db* b = capi_open_db(capi_tmpdir(), "shared");
  REQUIRE(a && b);
  CHECK(capi_put(a, "written-by-a", "{}", NULL));
  char* json = NULL;
  CHECK_OK(settee_db_get(b, "written-by-a", NULL, &json));
  CHECK(capi_contains(json, "\"_id\":\"written-by-a\""));
  settee_free(json);
  settee_db_close(a);
  CHECK_OK(settee_db_get(b, "written-by-a", NULL, &json));  // the database lives with its last handle
  settee_free(json);
  settee_db_close(b);
}

CAPI_TEST(db_reopened_after_close_keeps_its_documents) {
  settee_db* db = capi_open_db(capi_tmpdir(), "durable");
  REQUIRE(db);
  CHECK(capi_put(db, "kept", "{\"v\":42}", NULL));
  settee_db_close(db);
  db = NULL;
  REQUIRE_OK(settee_db_open(capi_tmpdir(), "durable", "{\"create_if_missing\":false}", &db));
  char* json = NULL;
  CHECK_OK(settee_db_get(db, "kept", NULL, &json));
  CHECK(capi_contains(json, "\"v\":42"));
  settee_free(json);
  settee_db_close(db);
}

CAPI_TEST(db_open_of_an_absent_database_without_create_if_missing_is_not_found) {
  settee_db* db = (settee_db*)1;
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "absent", "{\"create_if_missing\":false}", &db), "not_found");
  CHECK(db == NULL);
}

CAPI_TEST(db_open_refuses_a_bad_name_with_illegal_database_name) {
  settee_db* db = NULL;
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "Capitals", NULL, &db), "illegal_database_name");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "", NULL, &db), "illegal_database_name");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "9starts-with-a-digit", NULL, &db), "illegal_database_name");
  CHECK(db == NULL);
}

CAPI_TEST(db_open_options_are_checked_and_an_unknown_one_is_named) {
  settee_db* db = NULL;
  settee_error* e = settee_db_open(capi_tmpdir(), "x", "{\"create_if_mising\":true}", &db);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST);
  CHECK(capi_contains(settee_error_message(e), "create_if_mising"));
  settee_error_free(e);
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "x", "{\"sync_full\":\"yes\"}", &db), "bad_request");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "x", "{\"revs_limit\":-1}", &db), "bad_request");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "x", "{\"revs_limit\":0}", &db), "bad_request");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "x", "{not json", &db), "bad_request");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "x", "[1,2]", &db), "bad_request");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "x", "{\"exclusive\":\"\xff\xfe\"}", &db), "bad_request");
  CHECK(db == NULL);
  REQUIRE_OK(
      settee_db_open(capi_tmpdir(), "x", "{\"revs_limit\":5,\"sync_full\":true,\"exclusive\":true}", &db));
  settee_db_close(db);
}

CAPI_TEST(db_delete_database_removes_it_so_it_no_longer_opens) {
  settee_db* db = capi_open_db(capi_tmpdir(), "doomed");
  REQUIRE(db);
  CHECK(capi_put(db, "a", "{}", NULL));
  CHECK_OK(settee_db_delete_database(db));
  settee_db_close(db);
  db = NULL;
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "doomed", "{\"create_if_missing\":false}", &db), "not_found");
}

CAPI_TEST(db_functions_given_null_arguments_answer_bad_request) {
  settee_db* db = NULL;
  char* out = NULL;
  CHECK_ERROR(settee_db_open(NULL, "x", NULL, &db), "bad_request");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), NULL, NULL, &db), "bad_request");
  CHECK_ERROR(settee_db_open(capi_tmpdir(), "x", NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_info(NULL, &out), "bad_request");
  CHECK_ERROR(settee_db_delete_database(NULL), "bad_request");
  CHECK(strcmp(settee_db_name(NULL), "") == 0);
  settee_db_close(NULL);
  db = capi_open_db(capi_tmpdir(), "nulls");
  REQUIRE(db);
  CHECK_ERROR(settee_db_info(db, NULL), "bad_request");
  settee_db_close(db);
}

CAPI_TEST(db_open_options_set_the_revs_limit_and_the_largest_document) {
  settee_db* db = NULL;
  REQUIRE_OK(settee_db_open(capi_tmpdir(), "small", "{\"revs_limit\":2,\"max_document_size\":64}", &db));
  CHECK_ERROR(settee_db_put(db, "big",
                            "{\"text\":\"more than sixty-four bytes of body text, which is over the limit\"}",
                            NULL, NULL),
              "too_large");
  char rev[64], body[128];
  REQUIRE(capi_put(db, "d", "{}", rev));
  for (int i = 0; i < 3; ++i) {
    snprintf(body, sizeof body, "{\"_rev\":\"%s\"}", rev);
    REQUIRE(capi_put(db, "d", body, rev));
  }
  char* json = NULL;
  CHECK_OK(settee_db_get(db, "d", "{\"revs\":true}", &json));
  CHECK(capi_contains(json, "\"_revisions\":{\"start\":4,\"ids\":[\""));
  /* Two ids kept of four: one comma between them. */
  const char* ids = json ? strstr(json, "\"ids\":[") : NULL;
  int commas = 0;
  for (const char* p = ids; p && *p && *p != ']'; ++p) commas += *p == ',';
  CHECK(ids && commas == 1);
  settee_free(json);
  settee_db_close(db);
}
