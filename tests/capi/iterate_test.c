/* Cursors over all documents and changes, and change listeners (settee.h, "Iterating", "Change
 * listeners"). */
#include <stdint.h>

#include "capi_support.h"

/* Writes `count` documents "doc-00000"... in bulk batches of 500. */
static int write_many(settee_db* db, int count) {
  enum { kBatch = 500 };
  char* body = malloc((size_t)kBatch * 64 + 64);
  if (!body) return 0;
  for (int start = 0; start < count; start += kBatch) {
    size_t at = (size_t)sprintf(body, "{\"docs\":[");
    for (int i = start; i < start + kBatch && i < count; ++i)
      at += (size_t)sprintf(body + at, "%s{\"_id\":\"doc-%05d\",\"i\":%d}", i > start ? "," : "", i, i);
    sprintf(body + at, "]}");
    char* out = NULL;
    int ok = CHECK_OK(settee_db_bulk_docs(db, body, &out));
    settee_free(out);
    if (!ok) {
      free(body);
      return 0;
    }
  }
  free(body);
  return 1;
}

CAPI_TEST(all_docs_cursor_reads_ten_thousand_documents_in_id_order_then_its_summary) {
  settee_db* db = capi_open_db(capi_tmpdir(), "many");
  REQUIRE(db);
  REQUIRE(write_many(db, 10000));
  settee_cursor* cursor = NULL;
  REQUIRE_OK(settee_db_all_docs(db, NULL, &cursor));
  char* summary = NULL;
  CHECK_ERROR(settee_cursor_summary(cursor, &summary), "bad_request");  // not at the end yet
  int n = 0, inOrder = 1;
  for (;;) {
    const char* row = NULL;
    size_t length = 0;
    if (!CHECK_OK(settee_cursor_next(cursor, &row, &length)) || !row) break;
    char expected[96];
    snprintf(expected, sizeof expected, "{\"id\":\"doc-%05d\",\"key\":\"doc-%05d\",\"value\":{\"rev\":\"1-",
             n, n);
    if (strncmp(row, expected, strlen(expected)) != 0 || length != strlen(row)) inOrder = 0;
    ++n;
  }
  CHECK(n == 10000);
  CHECK(inOrder);
  const char* row = (const char*)1;
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));  // the end stays the end
  CHECK(row == NULL);
  CHECK_OK(settee_cursor_summary(cursor, &summary));
  CHECK(summary && strcmp(summary, "{\"total_rows\":10000,\"offset\":0}") == 0);
  settee_free(summary);
  settee_cursor_free(cursor);

  REQUIRE_OK(settee_db_changes(db, NULL, &cursor));
  CHECK_CURSOR_END(cursor, 10000, "{\"last_seq\":10000,\"pending\":0}");
  settee_db_close(db);
}

CAPI_TEST(all_docs_options_select_ranges_keys_and_documents_as_couchdb_does) {
  settee_db* db = capi_open_db(capi_tmpdir(), "range");
  REQUIRE(db);
  REQUIRE(write_many(db, 20));
  settee_cursor* cursor = NULL;
  const char* row = NULL;
  REQUIRE_OK(settee_db_all_docs(
      db, "{\"startkey\":\"doc-00005\",\"endkey\":\"doc-00009\",\"inclusive_end\":false}", &cursor));
  CHECK_CURSOR_END(cursor, 4, "{\"total_rows\":20,\"offset\":5}");

  REQUIRE_OK(
      settee_db_all_docs(db, "{\"descending\":true,\"limit\":2,\"skip\":1,\"include_docs\":true}", &cursor));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "\"id\":\"doc-00018\""));
  CHECK(capi_contains(row, "\"doc\":{\"_id\":\"doc-00018\""));
  CHECK(capi_contains(row, "\"i\":18"));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "\"id\":\"doc-00017\""));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(row == NULL);
  settee_cursor_free(cursor);

  REQUIRE_OK(settee_db_all_docs(db, "{\"keys\":[\"doc-00003\",\"nope\",\"doc-00001\"]}", &cursor));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "\"id\":\"doc-00003\""));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(row && strcmp(row, "{\"key\":\"nope\",\"error\":\"not_found\"}") == 0);
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "\"id\":\"doc-00001\""));
  CHECK(capi_count_rows(cursor) == 0);
  settee_cursor_free(cursor);
  settee_db_close(db);
}

CAPI_TEST(all_docs_rows_are_whole_whatever_quotes_brackets_and_escapes_their_ids_and_bodies_hold) {
  settee_db* db = capi_open_db(capi_tmpdir(), "tricky");
  REQUIRE(db);
  REQUIRE(capi_put(db, "a\"},{\"id\":[", "{\"s\":\"]}]}\\\\\\\",{\"}", NULL));
  REQUIRE(capi_put(db, "b\\", "{\"t\":[[{}],{\"u\":\"\\\"\"}]}", NULL));
  settee_cursor* cursor = NULL;
  const char* row = NULL;
  REQUIRE_OK(settee_db_all_docs(db, "{\"include_docs\":true}", &cursor));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "{\"id\":\"a\\\"},{\\\"id\\\":[\","));
  CHECK(capi_contains(row, "\"s\":\"]}]}\\\\\\\",{\"}}"));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "{\"id\":\"b\\\\\","));
  CHECK(capi_contains(row, "\"t\":[[{}],{\"u\":\"\\\"\"}]}}"));
  CHECK(capi_count_rows(cursor) == 0);
  settee_cursor_free(cursor);
  settee_db_close(db);
}

CAPI_TEST(all_docs_and_changes_refuse_unknown_options_by_name_and_bad_values) {
  settee_db* db = capi_open_db(capi_tmpdir(), "opts");
  REQUIRE(db);
  settee_cursor* cursor = (settee_cursor*)1;
  settee_error* e = settee_db_all_docs(db, "{\"include_doc\":true}", &cursor);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST && capi_contains(settee_error_message(e), "include_doc"));
  settee_error_free(e);
  CHECK(cursor == NULL);
  e = settee_db_changes(db, "{\"feed\":\"continuous\"}", &cursor);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST && capi_contains(settee_error_message(e), "feed"));
  settee_error_free(e);
  CHECK_ERROR(settee_db_all_docs(db, "{\"limit\":-1}", &cursor), "bad_request");
  CHECK_ERROR(settee_db_all_docs(db, "{\"descending\":1}", &cursor), "bad_request");
  CHECK_ERROR(settee_db_all_docs(db, "{\"keys\":\"a\"}", &cursor), "bad_request");
  CHECK_ERROR(settee_db_all_docs(db, "{\"keys\":[\"a\"],\"startkey\":\"a\"}", &cursor), "bad_request");
  CHECK_ERROR(settee_db_all_docs(db, "{\"limit\":", &cursor), "bad_request");
  CHECK_ERROR(settee_db_changes(db, "{\"since\":\"yesterday\"}", &cursor), "bad_request");
  CHECK_ERROR(settee_db_changes(db, "{\"style\":\"some_docs\"}", &cursor), "bad_request");
  CHECK_ERROR(settee_db_changes(db, "{\"include_docs\":\"\xfe\"}", &cursor), "bad_request");
  CHECK_ERROR(settee_db_changes(db, "{\"limit\":1.5}", &cursor), "bad_request");
  CHECK(cursor == NULL);
  settee_db_close(db);
}

CAPI_TEST(changes_cursor_follows_since_limit_descending_style_and_include_docs) {
  settee_db* db = capi_open_db(capi_tmpdir(), "feed");
  REQUIRE(db);
  char rev[64], body[256];
  REQUIRE(capi_put(db, "a", "{\"v\":1}", rev));
  REQUIRE(capi_put(db, "b", "{}", NULL));
  snprintf(body, sizeof body, "{\"_rev\":\"%s\",\"v\":2}", rev);
  REQUIRE(capi_put(db, "a", body, NULL)); /* a moves to seq 3 */
  settee_cursor* cursor = NULL;
  const char* row = NULL;
  REQUIRE_OK(settee_db_changes(db, NULL, &cursor));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "{\"seq\":2,\"id\":\"b\",\"changes\":[{\"rev\":\"1-"));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "{\"seq\":3,\"id\":\"a\",\"changes\":[{\"rev\":\"2-"));
  CHECK(capi_count_rows(cursor) == 0);
  settee_cursor_free(cursor);

  REQUIRE_OK(settee_db_changes(db, "{\"since\":2,\"include_docs\":true}", &cursor));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "\"id\":\"a\"") && capi_contains(row, "\"doc\":{\"_id\":\"a\"") &&
        capi_contains(row, "\"v\":2"));
  CHECK(capi_count_rows(cursor) == 0);
  settee_cursor_free(cursor);

  REQUIRE_OK(settee_db_changes(db, "{\"since\":\"now\"}", &cursor));
  CHECK(capi_count_rows(cursor) == 0);
  settee_cursor_free(cursor);

  REQUIRE_OK(settee_db_changes(db, "{\"descending\":true,\"limit\":1,\"style\":\"all_docs\"}", &cursor));
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(capi_contains(row, "{\"seq\":3,\"id\":\"a\""));
  CHECK_CURSOR_END(cursor, 0, "{\"last_seq\":3,\"pending\":1}");

  REQUIRE_OK(settee_db_changes(db, "{\"limit\":1}", &cursor));
  CHECK_CURSOR_END(cursor, 1, "{\"last_seq\":2,\"pending\":1}");
  settee_db_close(db);
}

CAPI_TEST(cursor_functions_given_null_arguments_answer_bad_request) {
  settee_db* db = capi_open_db(capi_tmpdir(), "nulls");
  REQUIRE(db);
  settee_cursor* cursor = NULL;
  const char* row = NULL;
  char* summary = NULL;
  CHECK_ERROR(settee_db_all_docs(NULL, NULL, &cursor), "bad_request");
  CHECK_ERROR(settee_db_all_docs(db, NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_changes(NULL, NULL, &cursor), "bad_request");
  CHECK_ERROR(settee_db_changes(db, NULL, NULL), "bad_request");
  CHECK_ERROR(settee_cursor_next(NULL, &row, NULL), "bad_request");
  CHECK_ERROR(settee_cursor_summary(NULL, &summary), "bad_request");
  REQUIRE_OK(settee_db_all_docs(db, NULL, &cursor));
  CHECK_ERROR(settee_cursor_next(cursor, NULL, NULL), "bad_request");
  CHECK_ERROR(settee_cursor_summary(cursor, NULL), "bad_request");
  settee_cursor_free(cursor);
  settee_cursor_free(NULL);
  settee_db_close(db);
}

typedef struct {
  int calls;
  uint64_t last_seq;
} Heard;

static void on_change(void* context, uint64_t update_seq) {
  Heard* heard = context;
  ++heard->calls;
  heard->last_seq = update_seq;
}

CAPI_TEST(listener_is_called_after_each_committed_write_and_never_after_it_is_freed) {
  settee_db* db = capi_open_db(capi_tmpdir(), "listened");
  REQUIRE(db);
  Heard heard = {0, 0};
  settee_listener* listener = NULL;
  REQUIRE_OK(settee_db_add_change_listener(db, on_change, &heard, &listener));
  REQUIRE(capi_put(db, "a", "{}", NULL));
  CHECK(heard.calls == 1 && heard.last_seq == 1);
  char* out = NULL;
  CHECK_OK(settee_db_bulk_docs(db, "{\"docs\":[{\"_id\":\"b\"},{\"_id\":\"c\"}]}", &out));
  settee_free(out);
  CHECK(heard.calls == 2 && heard.last_seq == 3);                    /* one call per committed write */
  CHECK_ERROR(settee_db_put(db, "a", "{}", NULL, NULL), "conflict"); /* nothing committed */
  CHECK(heard.calls == 2);
  settee_listener_free(listener);
  REQUIRE(capi_put(db, "d", "{}", NULL));
  CHECK(heard.calls == 2);
  settee_listener_free(NULL);
  settee_listener* none = (settee_listener*)1;
  CHECK_ERROR(settee_db_add_change_listener(db, NULL, &heard, &none), "bad_request");
  CHECK(none == NULL);
  CHECK_ERROR(settee_db_add_change_listener(NULL, on_change, &heard, &none), "bad_request");
  settee_db_close(db);
}

CAPI_TEST(all_docs_row_with_megabytes_of_inline_attachment_data_comes_whole_and_the_next_row_after_it) {
  enum { kSize = 1536 * 1024 };
  settee_db* db = capi_open_db(capi_tmpdir(), "inline");
  REQUIRE(db);
  char* bytes = malloc(kSize);
  REQUIRE(bytes);
  memset(bytes, 'z', kSize);
  char* rev = NULL;
  CHECK_OK(settee_db_put_attachment(db, "a-big", "blob", NULL, NULL, bytes, kSize, &rev));
  free(bytes);
  settee_free(rev);
  REQUIRE(capi_put(db, "b-small", "{\"after\":true}", NULL));
  settee_cursor* cursor = NULL;
  REQUIRE_OK(settee_db_all_docs(db, "{\"include_docs\":true,\"attachments\":true}", &cursor));
  const char* row = NULL;
  size_t length = 0;
  CHECK_OK(settee_cursor_next(cursor, &row, &length));
  /* The body's base64 (4/3 of it) is in the row, which ends where the row's object ends. */
  CHECK(row && strncmp(row, "{\"id\":\"a-big\"", 13) == 0);
  CHECK(length > kSize / 3 * 4 && length == strlen(row));
  CHECK(capi_contains(row, "\"data\":\"enp6enp6")); /* "zzzzzz" */
  CHECK(row && row[length - 1] == '}' && row[length - 2] == '}');
  CHECK_OK(settee_cursor_next(cursor, &row, NULL));
  CHECK(row && strncmp(row, "{\"id\":\"b-small\"", 15) == 0 && capi_contains(row, "\"after\":true}}"));
  CHECK(capi_count_rows(cursor) == 0);
  settee_cursor_free(cursor);
  settee_db_close(db);
}
