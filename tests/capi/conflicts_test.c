/* Conflicts: made by replication-style writes, listed, and resolved by hand, by a policy and by an
 * app's resolver (settee.h, "Conflicts"). */
#include "capi_support.h"

#define REV_A "2-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define REV_B "2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define REV_ROOT "1-11111111111111111111111111111111"

/* Two branches of `id` from one root, written as replication writes them (new_edits=false): REV_B wins
 * by CouchDB's rule (the greater hash), REV_A has the later `updated`. */
static int make_conflict(settee_db* db, const char* id) {
  char body[1024];
  snprintf(body, sizeof body,
           "{\"new_edits\":false,\"docs\":["
           "{\"_id\":\"%s\",\"_rev\":\"" REV_A
           "\",\"_revisions\":{\"start\":2,\"ids\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
           "\"11111111111111111111111111111111\"]},\"updated\":\"2026-03-02\",\"v\":\"A\"},"
           "{\"_id\":\"%s\",\"_rev\":\"" REV_B
           "\",\"_revisions\":{\"start\":2,\"ids\":[\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
           "\"11111111111111111111111111111111\"]},\"updated\":\"2026-03-01\",\"v\":\"B\"}]}",
           id, id);
  char* out = NULL;
  int ok = CHECK_OK(settee_db_bulk_docs(db, body, &out));
  if (ok) CHECK(out && strcmp(out, "[]") == 0); /* new_edits=false answers failures only */
  settee_free(out);
  return ok;
}

/* A fresh database "conflicts" holding document `id` in conflict (make_conflict); NULL on failure. */
static settee_db* open_with_conflict(const char* id) {
  settee_db* db = capi_open_db(capi_tmpdir(), "conflicts");
  if (db && !make_conflict(db, id)) {
    settee_db_close(db);
    return NULL;
  }
  return db;
}

static int conflicts_are(settee_db* db, const char* id, const char* expected) {
  char* json = NULL;
  if (!CHECK_OK(settee_db_conflicts(db, id, &json))) return 0;
  int same = strcmp(json, expected) == 0;
  if (!same) fprintf(stderr, "  conflicts of %s: %s, expected %s\n", id, json, expected);
  settee_free(json);
  return same;
}

CAPI_TEST(conflict_made_by_new_edits_false_is_listed_and_resolved_by_hand) {
  settee_db* db = open_with_conflict("c");
  REQUIRE(db);
  REQUIRE(capi_put(db, "calm", "{}", NULL));
  CHECK(conflicts_are(db, "c", "[\"" REV_A "\"]"));
  CHECK(conflicts_are(db, "calm", "[]"));
  char* ids = NULL;
  CHECK_OK(settee_db_conflicted_documents(db, 10, NULL, &ids));
  CHECK(ids && strcmp(ids, "[\"c\"]") == 0);
  settee_free(ids);
  CHECK_OK(settee_db_conflicted_documents(db, 10, "c", &ids));
  CHECK(ids && strcmp(ids, "[]") == 0);
  settee_free(ids);
  char* json = NULL;
  CHECK_OK(settee_db_get(db, "c", "{\"conflicts\":true}", &json));
  CHECK(capi_contains(json, "\"_conflicts\":[\"" REV_A "\"]"));
  settee_free(json);

  CHECK_ERROR(settee_db_resolve_conflicts(db, "c", REV_ROOT, NULL, NULL), "conflict"); /* not a leaf */
  CHECK_ERROR(settee_db_resolve_conflicts(db, "c", REV_A, "{\"v\":", NULL), "bad_request");
  char* rev = NULL;
  CHECK_OK(settee_db_resolve_conflicts(db, "c", REV_A, "{\"v\":\"A+B\"}", &rev));
  CHECK(rev && strncmp(rev, "3-", 2) == 0);
  CHECK(conflicts_are(db, "c", "[]"));
  CHECK_OK(settee_db_get(db, "c", NULL, &json));
  CHECK(capi_contains(json, "\"v\":\"A+B\"") && capi_contains(json, rev));
  settee_free(json);
  settee_free(rev);
  CHECK_OK(settee_db_conflicted_documents(db, 10, NULL, &ids));
  CHECK(ids && strcmp(ids, "[]") == 0);
  settee_free(ids);
  settee_db_close(db);
}

CAPI_TEST(conflict_resolved_by_lww_field_keeps_the_latest_leaf) {
  settee_db* db = open_with_conflict("c");
  REQUIRE(db);
  settee_conflict_policy* policy = NULL;
  REQUIRE_OK(settee_conflict_policy_parse("lww:updated", &policy));
  char* json = NULL;
  CHECK_OK(settee_db_resolve_conflict(db, "c", policy, &json));
  CHECK(json && capi_contains(json, "{\"resolved\":true,\"rev\":\"" REV_A "\",\"deleted\":[\"3-"));
  settee_free(json);
  CHECK(conflicts_are(db, "c", "[]"));
  CHECK_OK(settee_db_get(db, "c", NULL, &json));
  CHECK(capi_contains(json, "\"v\":\"A\""));
  settee_free(json);
  /* No conflict left: nothing to do, and out_json may be NULL. */
  CHECK_OK(settee_db_resolve_conflict(db, "c", policy, &json));
  CHECK(json && capi_contains(json, "\"resolved\":false"));
  settee_free(json);
  CHECK_OK(settee_db_resolve_conflict(db, "c", policy, NULL));
  CHECK_ERROR(settee_db_resolve_conflict(db, "missing", policy, NULL), "not_found");
  settee_conflict_policy_free(policy);

  REQUIRE(make_conflict(db, "kept"));
  REQUIRE_OK(settee_conflict_policy_parse("keep", &policy));
  CHECK_OK(settee_db_resolve_conflict(db, "kept", policy, &json));
  CHECK(json && capi_contains(json, "\"resolved\":false"));
  settee_free(json);
  CHECK(conflicts_are(db, "kept", "[\"" REV_A "\"]"));
  settee_conflict_policy_free(policy);
  settee_db_close(db);
}

CAPI_TEST(conflict_policy_parse_refuses_unknown_text) {
  settee_conflict_policy* policy = (settee_conflict_policy*)1;
  CHECK_ERROR(settee_conflict_policy_parse("newest", &policy), "bad_request");
  CHECK(policy == NULL);
  CHECK_ERROR(settee_conflict_policy_parse("lww:", &policy), "bad_request");
  CHECK_ERROR(settee_conflict_policy_parse(NULL, &policy), "bad_request");
  CHECK_ERROR(settee_conflict_policy_parse("keep", NULL), "bad_request");
  REQUIRE_OK(settee_conflict_policy_parse("merge:lww:updated", &policy));
  settee_conflict_policy_free(policy);
  settee_conflict_policy_free(NULL);
}

/* What a test's resolver does and saw. */
typedef struct {
  const char* choose; /* a rev to choose, or NULL */
  const char* merge;  /* a body to merge on CouchDB's winner, or NULL */
  int calls;
  int input_ok;
  int freed;
} Resolver;

static void resolve(void* context, const char* input_json, settee_decision* decision) {
  Resolver* r = context;
  ++r->calls;
  r->input_ok =
      capi_contains(input_json, "{\"id\":\"c\",\"leaves\":[{\"rev\":\"" REV_B "\",\"doc\":{\"_id\":\"c\"") &&
      capi_contains(input_json, "{\"rev\":\"" REV_A "\",\"doc\":{\"_id\":\"c\",\"_rev\":\"" REV_A "\"") &&
      capi_contains(input_json, "\"ancestor_rev\":\"" REV_ROOT "\"");
  if (r->choose) settee_decision_choose(decision, r->choose);
  if (r->merge) settee_decision_merge(decision, r->merge, NULL);
}

static void free_resolver(void* context) { ++((Resolver*)context)->freed; }

CAPI_TEST(conflict_resolved_by_a_custom_resolver_that_chooses_a_leaf) {
  settee_db* db = open_with_conflict("c");
  REQUIRE(db);
  Resolver r = {REV_A, NULL, 0, 0, 0};
  settee_conflict_policy* policy = NULL;
  REQUIRE_OK(settee_conflict_policy_custom(resolve, &r, free_resolver, &policy));
  char* json = NULL;
  CHECK_OK(settee_db_resolve_conflict(db, "c", policy, &json));
  CHECK(r.calls == 1 && r.input_ok);
  CHECK(json && capi_contains(json, "{\"resolved\":true,\"rev\":\"" REV_A "\""));
  settee_free(json);
  CHECK(conflicts_are(db, "c", "[]"));
  CHECK(r.freed == 0);
  settee_conflict_policy_free(policy);
  CHECK(r.freed == 1);
  settee_db_close(db);
}

CAPI_TEST(conflict_resolved_by_a_custom_resolver_that_merges_or_keeps) {
  settee_db* db = open_with_conflict("c");
  REQUIRE(db);
  Resolver r = {NULL, NULL, 0, 0, 0}; /* decides nothing: the conflict stays */
  settee_conflict_policy* policy = NULL;
  REQUIRE_OK(settee_conflict_policy_custom(resolve, &r, NULL, &policy));
  char* json = NULL;
  CHECK_OK(settee_db_resolve_conflict(db, "c", policy, &json));
  CHECK(json && capi_contains(json, "\"resolved\":false"));
  settee_free(json);
  CHECK(conflicts_are(db, "c", "[\"" REV_A "\"]"));
  r.merge = "{\"v\":\"merged\"}";
  CHECK_OK(settee_db_resolve_conflict(db, "c", policy, &json));
  CHECK(json && capi_contains(json, "{\"resolved\":true,\"rev\":\"3-"));
  settee_free(json);
  CHECK(conflicts_are(db, "c", "[]"));
  CHECK_OK(settee_db_get(db, "c", NULL, &json));
  CHECK(capi_contains(json, "\"v\":\"merged\""));
  settee_free(json);
  CHECK(r.calls == 2 && r.input_ok);
  settee_conflict_policy_free(policy);
  settee_db_close(db);
}

CAPI_TEST(custom_resolver_choosing_a_rev_that_is_not_a_leaf_gets_an_error_value) {
  settee_db* db = open_with_conflict("c");
  REQUIRE(db);
  Resolver r = {REV_ROOT, NULL, 0, 0, 0};
  settee_conflict_policy* policy = NULL;
  REQUIRE_OK(settee_conflict_policy_custom(resolve, &r, free_resolver, &policy));
  char* json = (char*)1;
  settee_error* e = settee_db_resolve_conflict(db, "c", policy, &json);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST);
  CHECK(capi_contains(settee_error_message(e), "not a live leaf"));
  settee_error_free(e);
  CHECK(json == NULL);
  r.choose = "not a rev at all";
  e = settee_db_resolve_conflict(db, "c", policy, &json);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST);
  settee_error_free(e);
  r.choose = NULL;
  r.merge = "{\"broken\":";
  e = settee_db_resolve_conflict(db, "c", policy, &json);
  CHECK(settee_error_code(e) == SETTEE_BAD_REQUEST);
  settee_error_free(e);
  CHECK(conflicts_are(db, "c", "[\"" REV_A "\"]")); /* nothing changed */
  settee_conflict_policy_free(policy);
  CHECK(r.freed == 1);
  settee_db_close(db);
}

CAPI_TEST(conflict_functions_given_null_arguments_answer_bad_request) {
  settee_db* db = capi_open_db(capi_tmpdir(), "conflicts");
  REQUIRE(db);
  settee_conflict_policy* policy = NULL;
  REQUIRE_OK(settee_conflict_policy_parse("keep", &policy));
  char* out = NULL;
  CHECK_ERROR(settee_db_conflicts(NULL, "c", &out), "bad_request");
  CHECK_ERROR(settee_db_conflicts(db, NULL, &out), "bad_request");
  CHECK_ERROR(settee_db_conflicts(db, "c", NULL), "bad_request");
  CHECK_ERROR(settee_db_conflicted_documents(NULL, 1, NULL, &out), "bad_request");
  CHECK_ERROR(settee_db_conflicted_documents(db, 1, NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_resolve_conflicts(NULL, "c", REV_A, NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_resolve_conflicts(db, NULL, REV_A, NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_resolve_conflicts(db, "c", NULL, NULL, NULL), "bad_request");
  CHECK_ERROR(settee_db_resolve_conflict(NULL, "c", policy, NULL), "bad_request");
  CHECK_ERROR(settee_db_resolve_conflict(db, NULL, policy, NULL), "bad_request");
  CHECK_ERROR(settee_db_resolve_conflict(db, "c", NULL, NULL), "bad_request");
  settee_conflict_policy* none = (settee_conflict_policy*)1;
  CHECK_ERROR(settee_conflict_policy_custom(NULL, NULL, NULL, &none), "bad_request");
  CHECK(none == NULL);
  settee_decision_choose(NULL, REV_A);
  settee_decision_merge(NULL, "{}", NULL);
  CHECK(out == NULL);
  settee_conflict_policy_free(policy);
  settee_db_close(db);
}
