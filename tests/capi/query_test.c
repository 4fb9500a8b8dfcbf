/* Mango through the C API: find with selector, sort, fields and limit, paged by bookmark through a
 * cursor; indexes created, listed and deleted; Mango's error names; live queries. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>

#include "capi_support.h"

static void on_live(void* context, const char* result_json);

/* Writes notes n = 0 .. count-1 ({"type":"note","n":n,"text":"..."}) in one bulk write. */
static int write_notes(settee_db* db, int count) {
  size_t cap = (size_t)count * 96 + 64, len = 0;
  char* body = malloc(cap);
  if (!body) return 0;
  len += (size_t)snprintf(body + len, cap - len, "{\"docs\":[");
  for (int i = 0; i < count; ++i)
    len += (size_t)snprintf(body + len, cap - len,
                            "%s{\"_id\":\"note-%05d\",\"type\":\"note\",\"n\":%d,\"text\":\"t\"}",
                            i ? "," : "", i, i);
  snprintf(body + len, cap - len, "]}");
  char* answer = NULL;
  int ok = CHECK_OK(settee_db_bulk_docs(db, body, &answer));
  ok = ok && !capi_contains(answer, "\"error\"");
  settee_free(answer);
  free(body);
  return ok;
}

static settee_db* open_db(const char* name) {
  settee_db* db = NULL;
  if (!CHECK_OK(settee_db_open(capi_tmpdir(), name, NULL, &db))) return NULL;
  return db;
}

CAPI_TEST(find_with_selector_sort_fields_and_limit_pages_by_bookmark_through_a_cursor) {
  settee_db* db = open_db("notes");
  REQUIRE(db);
  REQUIRE(write_notes(db, 30));
  REQUIRE(CHECK_OK(settee_db_create_index(db, "{\"index\":{\"fields\":[\"n\"]},\"name\":\"by-n\"}", NULL)));

  const char* query =
      "{\"selector\":{\"type\":\"note\",\"n\":{\"$gte\":5}},\"sort\":[{\"n\":\"asc\"}],\"fields\":[\"_id\","
      "\"n\"],"
      "\"limit\":10}";
  settee_cursor* cursor = NULL;
  REQUIRE(CHECK_OK(settee_db_find(db, query, &cursor)));
  int rows = 0;
  const char* row = NULL;
  size_t length = 0;
  while (CHECK_OK(settee_cursor_next(cursor, &row, &length)) && row) {
    char expected[64];
    snprintf(expected, sizeof expected, "\"n\":%d", 5 + rows);
    CHECK(capi_contains(row, expected));
    CHECK(!capi_contains(row, "\"text\"")); /* projected to fields */
    CHECK(!capi_contains(row, "\"type\""));
    CHECK(length == strlen(row));
    ++rows;
  }
  CHECK(rows == 10);
  char* summary = NULL;
  CHECK_OK(settee_cursor_summary(cursor, &summary));
  CHECK(capi_contains(summary, "\"bookmark\""));
  settee_cursor_free(cursor);

  /* The next page: the query again with the bookmark. */
  const char* start = strstr(summary ? summary : "", "\"bookmark\":\"");
  REQUIRE(start);
  start += strlen("\"bookmark\":\"");
  const char* end = strchr(start, '"');
  REQUIRE(end);
  char next[1024];
  snprintf(next, sizeof next,
           "{\"selector\":{\"type\":\"note\",\"n\":{\"$gte\":5}},\"sort\":[{\"n\":\"asc\"}],\"fields\":[\"_"
           "id\",\"n\"],"
           "\"limit\":10,\"bookmark\":\"%.*s\"}",
           (int)(end - start), start);
  settee_free(summary);
  REQUIRE(CHECK_OK(settee_db_find(db, next, &cursor)));
  REQUIRE(CHECK_OK(settee_cursor_next(cursor, &row, NULL)));
  CHECK(capi_contains(row, "\"n\":15"));
  settee_cursor_free(cursor);
  settee_db_close(db);
}

CAPI_TEST(find_reads_past_its_page_size_without_repeating_or_skipping_a_row) {
  settee_db* db = open_db("many");
  REQUIRE(db);
  REQUIRE(write_notes(db, 2100));
  REQUIRE(CHECK_OK(settee_db_create_index(db, "{\"index\":{\"fields\":[\"n\"]}}", NULL)));
  settee_cursor* cursor = NULL;
  REQUIRE(CHECK_OK(settee_db_find(
      db, "{\"selector\":{\"n\":{\"$gte\":0}},\"sort\":[\"n\"],\"fields\":[\"n\"],\"limit\":5000}",
      &cursor)));
  int rows = 0, ordered = 1;
  const char* row = NULL;
  while (CHECK_OK(settee_cursor_next(cursor, &row, NULL)) && row) {
    char expected[32];
    snprintf(expected, sizeof expected, "{\"n\":%d}", rows);
    if (strcmp(row, expected) != 0) ordered = 0;
    ++rows;
  }
  CHECK(rows == 2100);
  CHECK(ordered);
  settee_cursor_free(cursor);
  settee_db_close(db);
}

CAPI_TEST(index_is_created_then_exists_is_listed_and_deleted) {
  settee_db* db = open_db("indexed");
  REQUIRE(db);
  const char* def = "{\"index\":{\"fields\":[\"type\",\"n\"]},\"ddoc\":\"by-type\",\"name\":\"type-n\"}";
  char* json = NULL;
  REQUIRE(CHECK_OK(settee_db_create_index(db, def, &json)));
  CHECK(capi_contains(json, "\"result\":\"created\""));
  CHECK(capi_contains(json, "\"id\":\"_design/by-type\""));
  settee_free(json);
  REQUIRE(CHECK_OK(settee_db_create_index(db, def, &json)));
  CHECK(capi_contains(json, "\"result\":\"exists\""));
  settee_free(json);

  REQUIRE(CHECK_OK(settee_db_indexes(db, &json)));
  CHECK(capi_contains(json, "\"total_rows\":2"));
  CHECK(capi_contains(json, "\"name\":\"_all_docs\""));
  CHECK(capi_contains(json, "\"name\":\"type-n\""));
  settee_free(json);

  CHECK_OK(settee_db_delete_index(db, "by-type", "type-n"));
  REQUIRE(CHECK_OK(settee_db_indexes(db, &json)));
  CHECK(capi_contains(json, "\"total_rows\":1"));
  CHECK(!capi_contains(json, "type-n"));
  settee_free(json);
  CHECK_ERROR(settee_db_delete_index(db, "_design/by-type", "type-n"), "not_found");
  settee_db_close(db);
}

CAPI_TEST(bad_queries_and_indexes_answer_mangos_error_names) {
  settee_db* db = open_db("bad");
  REQUIRE(db);
  settee_cursor* cursor = NULL;
  CHECK_ERROR(settee_db_find(db, "{\"selector\":{\"n\":{\"$bogus\":1}}}", &cursor), "invalid_operator");
  CHECK(cursor == NULL);
  CHECK_ERROR(settee_db_find(db, "{\"selector\":{\"n\":{\"$gt\":0}},\"sort\":[\"m\"]}", &cursor),
              "no_usable_index");
  CHECK(cursor == NULL);
  CHECK_ERROR(settee_db_find(db, "not json", &cursor), "bad_request");
  CHECK_ERROR(settee_db_find(db, "{\"selector\":{},\"limit\":-1}", &cursor), "invalid_non_neg_integer");
  CHECK_ERROR(settee_db_create_index(db, "{\"fields\":[\"n\"]}", NULL), "missing_required_key");
  settee_live_query* live = NULL;
  CHECK_ERROR(settee_db_live_query(db, "{\"selector\":{\"n\":{\"$nope\":1}}}", on_live, NULL, &live),
              "invalid_operator");
  CHECK(live == NULL);
  settee_db_close(db);
}

struct live_seen {
  atomic_int calls;
  atomic_int saw_second;
};

static void on_live(void* context, const char* result_json) {
  struct live_seen* seen = context;
  if (capi_contains(result_json, "\"_id\":\"second\"") && capi_contains(result_json, "\"update_seq\":"))
    atomic_store(&seen->saw_second, 1);
  atomic_fetch_add(&seen->calls, 1);
}

CAPI_TEST(live_query_calls_back_on_each_new_result_and_never_after_free) {
  settee_db* db = open_db("live");
  REQUIRE(db);
  REQUIRE(capi_put(db, "first", "{\"type\":\"note\"}", NULL));
  struct live_seen seen;
  atomic_init(&seen.calls, 0);
  atomic_init(&seen.saw_second, 0);
  settee_live_query* live = NULL;
  REQUIRE(CHECK_OK(settee_db_live_query(db, "{\"selector\":{\"type\":\"note\"}}", on_live, &seen, &live)));
  CHECK(WAIT_UNTIL(atomic_load(&seen.calls) >= 1, 3000));
  REQUIRE(capi_put(db, "second", "{\"type\":\"note\"}", NULL));
  CHECK(WAIT_UNTIL(atomic_load(&seen.saw_second), 3000));
  settee_live_query_free(live);
  const int calls = atomic_load(&seen.calls);
  REQUIRE(capi_put(db, "third", "{\"type\":\"note\"}", NULL));
  capi_sleep_ms(300);
  CHECK(atomic_load(&seen.calls) == calls);
  settee_db_close(db);
}
