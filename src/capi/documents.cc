// The C API's documents (settee.h, "Documents"): put, get, delete, bulk_docs. Options are read by the
// HTTP layer's own parser of GET /{db}/{docid} (capi/options.h); answers are written as it writes them.
#include <simdjson.h>

#include <cstring>

#include "capi/capi_internal.h"
#include "capi/options.h"
#include "db/json.h"
#include "http/api.h"
#include "http/handlers/document_internal.h"

using settee::capi::badArgument;
using settee::capi::copyOut;
using settee::capi::guard;
using settee::capi::toError;

extern "C" {

settee_error* settee_db_put(settee_db* db, const char* id, const char* json, char** out_id, char** out_rev) {
  return guard([&]() -> settee_error* {
    if (out_id) *out_id = nullptr;
    if (out_rev) *out_rev = nullptr;
    if (!db || !json) return badArgument("settee_db_put needs db and json");
    if (id && !*id) return badArgument("the document id is empty");
    settee::PutOptions options;
    if (id) options.id = id;
    auto written = db->db->put(json, options);
    if (!written) return toError(written.status());
    // Both copies are made before either is handed out, so a failed allocation leaves both NULL.
    std::unique_ptr<char, decltype(&settee_free)> idCopy(out_id ? copyOut(written->id) : nullptr,
                                                         settee_free);
    if (out_rev) *out_rev = copyOut(written->rev);
    if (out_id) *out_id = idCopy.release();
    return nullptr;
  });
}

settee_error* settee_db_get(settee_db* db, const char* id, const char* options_json, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !id || !out_json) return badArgument("settee_db_get needs db, id and out_json");
    auto req = settee::capi::optionsRequest(
        options_json,
        {"rev", "revs", "revs_info", "conflicts", "deleted_conflicts", "attachments", "att_encoding_info",
         "atts_since", "local_seq", "latest"},
        {"rev"});
    if (!req) return toError(req.status());
    auto read = settee::http::detail::readOptions(*req);
    if (!read) return toError(read.status());
    auto doc = db->db->get(id, *read);
    if (!doc) return toError(doc.status());
    *out_json = copyOut(*doc);
    return nullptr;
  });
}

settee_error* settee_db_delete(settee_db* db, const char* id, const char* rev, char** out_rev) {
  return guard([&]() -> settee_error* {
    if (out_rev) *out_rev = nullptr;
    if (!db || !id) return badArgument("settee_db_delete needs db and id");
    auto removed = db->db->remove(id, rev ? rev : "");
    if (!removed) return toError(removed.status());
    if (out_rev) *out_rev = copyOut(removed->rev);
    return nullptr;
  });
}

// As POST /{db}/_bulk_docs answers (http/handlers/bulk_handlers.cc): one result per document, except that
// new_edits=false answers with the failures only, as CouchDB does.
settee_error* settee_db_bulk_docs(settee_db* db, const char* body_json, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !body_json || !out_json)
      return badArgument("settee_db_bulk_docs needs db, body_json and out_json");
    // The body's members are checked as options are (JSON, an object, no member the call does not know).
    settee::capi::Options body;
    if (settee::Status st = body.parse(body_json, {"docs", "new_edits"}); !st) return toError(st);
    settee::BulkDocsOptions options;
    if (!body.getBool("new_edits", options.newEdits))
      return badArgument("`new_edits` parameter must be a boolean.");
    simdjson::dom::element docsValue;
    simdjson::dom::array docs;
    if (!body.present() || body.root().at_key("docs").get(docsValue))
      return badArgument("POST body must include `docs` parameter.");
    if (docsValue.get(docs)) return badArgument("`docs` parameter must be an array.");
    // Each document as text for the Database, which parses it once more: bulk writes are not the hot path
    // of an app, and the public API is what this layer builds on.
    std::vector<std::string> texts;
    texts.reserve(docs.size());
    for (auto doc : docs) texts.push_back(settee::db::toJson(doc));
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<settee::DocResult> results = db->db->bulkDocs(views, options);
    *out_json = copyOut(settee::http::writeJson([&](settee::db::JsonWriter& w) {
      w.StartArray();
      for (const settee::DocResult& r : results) {
        if (!options.newEdits && r.status) continue;
        settee::db::writeRaw(w, settee::http::docResultJson(r));
      }
      w.EndArray();
    }));
    return nullptr;
  });
}

}  // extern "C"
