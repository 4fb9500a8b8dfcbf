/* Sync through the C API when a document cannot go over as the others do: the peer refuses it (a node
 * whose max_document_size it exceeds), or it carries an attachment too large for a metered network. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>

#include "capi_support.h"

static int state_of(settee_sync* sync, const char* id, settee_doc_sync_info* info) {
  settee_error* e = settee_sync_document_state(sync, id, info);
  if (e) {
    settee_error_free(e);
    return -1;
  }
  return (int)info->state;
}

struct refusals {
  atomic_int push_failed;
  atomic_int pushed;
  atomic_int named_too_large;
};

static void on_document(void* context, settee_doc_event_kind kind, const char* id, const char* rev,
                        const settee_error* error) {
  struct refusals* r = context;
  (void)rev;
  if (kind == SETTEE_DOC_PUSHED) atomic_fetch_add(&r->pushed, 1);
  if (kind == SETTEE_DOC_PUSH_FAILED && id && strcmp(id, "huge") == 0) {
    atomic_fetch_add(&r->push_failed, 1);
    if (error && strcmp(settee_error_name(error), "too_large") == 0) atomic_fetch_add(&r->named_too_large, 1);
  }
}

CAPI_TEST(sync_marks_a_document_the_peer_refuses_as_failed_with_its_error_and_pushes_the_others) {
  char ini[4096];
  REQUIRE(capi_write_file("node.ini", "[couchdb]\nmax_document_size = 1000\n", ini, sizeof ini));
  char options[4200];
  snprintf(options, sizeof options, "{\"config_file\":\"%s\"}", ini);
  capi_pair pair;
  REQUIRE(capi_pair_start(&pair, options));
  settee_db* local = pair.local;
  settee_db* peer = pair.peer;
  const char* url = pair.url;
  REQUIRE(capi_put(local, "small-1", "{\"text\":\"fits\"}", NULL));
  char big[4096];
  snprintf(big, sizeof big, "{\"text\":\"%0*d\"}", 3000, 0);
  REQUIRE(capi_put(local, "huge", big, NULL));
  REQUIRE(capi_put(local, "small-2", "{\"text\":\"fits too\"}", NULL));

  struct refusals heard;
  atomic_init(&heard.push_failed, 0);
  atomic_init(&heard.pushed, 0);
  atomic_init(&heard.named_too_large, 0);
  settee_sync* sync = NULL;
  REQUIRE(CHECK_OK(settee_sync_new(local, url, "{\"min_backoff_ms\":100}", &sync)));
  CHECK_OK(settee_sync_set_listeners(sync, NULL, on_document, &heard));
  REQUIRE(CHECK_OK(settee_sync_start(sync)));

  settee_doc_sync_info info;
  CHECK(WAIT_UNTIL(state_of(sync, "huge", &info) == SETTEE_DOC_FAILED && capi_has(peer, "small-1", NULL) &&
                       capi_has(peer, "small-2", NULL),
                   8000));
  CHECK(info.failed);
  CHECK(strcmp(info.failure_name, "too_large") == 0);
  CHECK(!capi_has(peer, "huge", NULL));
  CHECK(WAIT_UNTIL(atomic_load(&heard.push_failed) >= 1, 3000));
  CHECK(atomic_load(&heard.named_too_large) >= 1);
  CHECK(atomic_load(&heard.pushed) >= 2);
  CHECK(state_of(sync, "small-1", &info) == SETTEE_DOC_SYNCED);

  char* list = NULL;
  REQUIRE(CHECK_OK(settee_sync_documents(sync, SETTEE_DOC_FAILED, 10, NULL, &list)));
  CHECK(capi_contains(list, "\"id\":\"huge\"") && capi_contains(list, "too_large"));
  CHECK(!capi_contains(list, "small"));
  settee_free(list);
  settee_sync_status status;
  settee_sync_get_status(sync, &status);
  CHECK(status.failed == 1);

  settee_sync_free(sync);
  capi_pair_stop(&pair);
}

static int synced(settee_sync* sync, const char* id) {
  settee_doc_sync_info info;
  return state_of(sync, id, &info) == SETTEE_DOC_SYNCED;
}

CAPI_TEST(sync_on_a_metered_network_holds_a_large_attachment_back_until_told_the_network_is_not_metered) {
  capi_pair pair;
  REQUIRE(capi_pair_start(&pair, NULL));
  settee_db* local = pair.local;
  settee_db* peer = pair.peer;
  const char* url = pair.url;
  REQUIRE(capi_put(local, "plain", "{\"text\":\"no attachment\"}", NULL));
  static char photo[64 * 1024];
  for (size_t i = 0; i < sizeof photo; ++i) photo[i] = (char)(i * 31u);
  CHECK_OK(settee_db_put_attachment(local, "with-photo", "photo.jpg", NULL, "image/jpeg", photo, sizeof photo,
                                    NULL));
  CHECK_OK(settee_db_put_attachment(local, "with-icon", "icon.png", NULL, "image/png", photo, 100, NULL));

  settee_sync* sync = NULL;
  REQUIRE(CHECK_OK(settee_sync_new(
      local, url, "{\"min_backoff_ms\":100,\"large_attachment_bytes\":4096,\"metered\":true}", &sync)));
  REQUIRE(CHECK_OK(settee_sync_start(sync)));
  /* The others go; the large one waits. */
  CHECK(WAIT_UNTIL(synced(sync, "plain") && synced(sync, "with-icon") && capi_has(peer, "plain", NULL) &&
                       capi_has(peer, "with-icon", NULL),
                   8000));
  capi_sleep_ms(300);
  settee_doc_sync_info info;
  CHECK(state_of(sync, "with-photo", &info) == SETTEE_DOC_PENDING);
  CHECK(!capi_has(peer, "with-photo", NULL));
  settee_sync_status status;
  settee_sync_get_status(sync, &status);
  CHECK(status.pending == 1);

  settee_sync_set_metered(sync, false);
  CHECK(WAIT_UNTIL(synced(sync, "with-photo") && capi_has(peer, "with-photo", NULL), 8000));
  settee_attachment_reader* reader = NULL;
  if (CHECK_OK(settee_db_open_attachment(peer, "with-photo", "photo.jpg", NULL, &reader))) {
    static char back[64 * 1024];
    size_t total = 0;
    for (;;) {
      size_t got = 0;
      if (!CHECK_OK(settee_attachment_read(reader, back + total, sizeof back - total, &got)) || got == 0)
        break;
      total += got;
      if (total == sizeof back) break;
    }
    CHECK(total == sizeof photo && memcmp(back, photo, sizeof photo) == 0);
    settee_attachment_reader_free(reader);
  }
  settee_sync_free(sync);
  capi_pair_stop(&pair);
}
