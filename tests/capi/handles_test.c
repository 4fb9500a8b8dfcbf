/* Every handle type of the database part of the C API made and freed (its proof is the run under ASan
 * with LeakSanitizer), and a C++ exception inside the library coming out as an error value. */
#include <stdint.h>

#include "capi_support.h"

static int freed_contexts;
static void count_free(void* context) {
  (void)context;
  ++freed_contexts;
}
static void keep_conflict(void* context, const char* input_json, settee_decision* decision) {
  (void)context;
  (void)input_json;
  (void)decision;
}
static void ignore_change(void* context, uint64_t seq) {
  (void)context;
  (void)seq;
}

CAPI_TEST(every_handle_type_is_freed_without_leaks) {
  settee_db* db = capi_open_db(capi_tmpdir(), "handles");
  REQUIRE(db);
  settee_db* second = capi_open_db(capi_tmpdir(), "handles");
  REQUIRE(second);
  REQUIRE(capi_put(db, "a", "{}", NULL));

  settee_cursor* all = NULL;
  REQUIRE_OK(settee_db_all_docs(db, "{\"include_docs\":true}", &all));
  const char* row = NULL;
  CHECK_OK(settee_cursor_next(all, &row, NULL)); /* holds a page */
  settee_cursor_free(all);
  settee_cursor* changes = NULL;
  REQUIRE_OK(settee_db_changes(db, NULL, &changes));
  CHECK_OK(settee_cursor_next(changes, &row, NULL));
  settee_cursor_free(changes);
  REQUIRE_OK(settee_db_changes(db, NULL, &changes)); /* never read */
  settee_cursor_free(changes);

  settee_listener* listener = NULL;
  REQUIRE_OK(settee_db_add_change_listener(db, ignore_change, NULL, &listener));
  REQUIRE(capi_put(db, "b", "{}", NULL));
  settee_listener_free(listener);

  settee_attachment_writer* committed = NULL;
  REQUIRE_OK(settee_db_begin_attachment(db, "with-att", "a", NULL, NULL, &committed));
  CHECK_OK(settee_attachment_write(committed, "bytes", 5));
  char* rev = NULL;
  CHECK_OK(settee_attachment_commit(committed, &rev));
  settee_free(rev);
  settee_attachment_writer_free(committed);
  settee_attachment_writer* abandoned = NULL;
  REQUIRE_OK(settee_db_begin_attachment(db, "abandoned", "a", NULL, NULL, &abandoned));
  CHECK_OK(settee_attachment_write(abandoned, "bytes", 5));
  settee_attachment_writer_free(abandoned);
  settee_attachment_reader* reader = NULL;
  REQUIRE_OK(settee_db_open_attachment(db, "with-att", "a", NULL, &reader));
  char buffer[2];
  size_t got = 0;
  CHECK_OK(settee_attachment_read(reader, buffer, sizeof buffer, &got)); /* left half-read */
  settee_attachment_reader_free(reader);

  settee_conflict_policy* parsed = NULL;
  REQUIRE_OK(settee_conflict_policy_parse("lww:updated", &parsed));
  settee_conflict_policy_free(parsed);
  freed_contexts = 0;
  settee_conflict_policy* custom = NULL;
  REQUIRE_OK(settee_conflict_policy_custom(keep_conflict, &freed_contexts, count_free, &custom));
  settee_conflict_policy_free(custom);
  CHECK(freed_contexts == 1);
  /* A refused creation does not take the context: free_context is not called. */
  CHECK_ERROR(settee_conflict_policy_custom(NULL, &freed_contexts, count_free, &custom), "bad_request");
  CHECK(freed_contexts == 1);

  settee_error* error = settee_db_get(db, "missing", NULL, (char**)&row);
  CHECK(error != NULL);
  settee_error_free(error); /* errors are handles too */

  settee_db_close(second);
  settee_db_close(db);
}

CAPI_TEST(a_cpp_exception_inside_the_library_comes_out_as_an_internal_server_error_value) {
  settee_db* db = capi_open_db(capi_tmpdir(), "throws");
  REQUIRE(db);
  /* A length no std::string can hold: the copy into the attachment body throws std::length_error
   * before any byte is read, inside the library; guard() turns it into an error value. */
  char* rev = (char*)1;
  settee_error* e = settee_db_put_attachment(db, "d", "a", NULL, NULL, "x", SIZE_MAX, &rev);
  CHECK(settee_error_code(e) == SETTEE_INTERNAL);
  CHECK(strcmp(settee_error_name(e), "internal_server_error") == 0);
  CHECK(strlen(settee_error_message(e)) > 0);
  settee_error_free(e);
  CHECK(rev == NULL);
  char* json = NULL;
  CHECK_ERROR(settee_db_get(db, "d", NULL, &json), "not_found"); /* nothing was written */
  settee_db_close(db);
}
