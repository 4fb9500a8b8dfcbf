// _local documents (settee.h, "_local documents"): not replicated, not in changes, revisions "0-N".
#include "capi/capi_internal.h"

using settee::capi::badArgument;
using settee::capi::copyOut;
using settee::capi::guard;
using settee::capi::toError;

extern "C" {

settee_error* settee_db_get_local(settee_db* db, const char* id, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !id || !out_json) return badArgument("settee_db_get_local needs db, id and out_json");
    auto doc = db->db->getLocal(id);
    if (!doc) return toError(doc.status());
    *out_json = copyOut(*doc);
    return nullptr;
  });
}

settee_error* settee_db_put_local(settee_db* db, const char* id, const char* json, char** out_rev) {
  return guard([&]() -> settee_error* {
    if (out_rev) *out_rev = nullptr;
    if (!db || !id || !json) return badArgument("settee_db_put_local needs db, id and json");
    auto written = db->db->putLocal(id, json);
    if (!written) return toError(written.status());
    if (out_rev) *out_rev = copyOut(written->rev);
    return nullptr;
  });
}

settee_error* settee_db_delete_local(settee_db* db, const char* id, const char* rev) {
  return guard([&]() -> settee_error* {
    if (!db || !id) return badArgument("settee_db_delete_local needs db and id");
    auto removed = db->db->removeLocal(id, rev ? rev : "");
    return removed ? nullptr : toError(removed.status());
  });
}

}  // extern "C"
