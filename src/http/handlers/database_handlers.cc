// Database-level endpoints: create, info, delete, new documents by POST, and the per-database settings.
#include "db/crypto.h"
#include "db/database_internal.h"
#include "http/absolute_url.h"
#include "http/auth.h"
#include "http/client_url.h"
#include "http/design_functions.h"
#include "http/system_dbs.h"
#include "http/handlers/db_info.h"
#include "http/handlers/document_internal.h"
#include "http/handlers/handlers.h"

namespace settee::http {
namespace {

using db::writeKey;
using db::writeString;

Response createDb(Call& call) {
  const std::string& name = call.params["db"];
  auto q = uintParam(call.req, "q", 1);  // shards: accepted and ignored, as on a single node
  if (!q) return errorResponse(q.status());
  if (Status st = partitionedOptionStatus(call.req); !st) return errorResponse(st);
  auto created = call.svc->data->create(name);
  if (!created) return errorResponse(created.status());
  if (Status st = (*created)->setSecurity(kAdminOnlySecurity); !st) return errorResponse(st);
  Response r = Response::json(201, R"({"ok":true})");
  r.setHeader("Location", absoluteUrl(call.req, "/" + encodePathSegment(name)));
  return r;
}

Response dbInfo(Call& call) {
  auto read = call.db->info();
  if (!read) return errorResponse(read.status());
  return Response::json(200, writeJson([&](db::JsonWriter& w) { writeDbInfo(w, *read); }));
}

Response deleteDb(Call& call) {
  // CouchDB's words, its "?=rev" included: clients and CouchDB's own tests match on them.
  if (call.req.param("rev"))
    return errorResponse(badRequest(
        "You tried to DELETE a database with a ?=rev parameter. Did you mean to DELETE a document instead?"));
  if (Status st = call.svc->data->remove(call.dbName); !st) return errorResponse(st);
  return jsonOk(200);
}

// POST /{db}: a new document; the id comes from the body or is generated.
Response postDoc(Call& call) {
  simdjson::dom::parser parser;
  auto body = jsonBody(call.req, parser);
  if (!body) return errorResponse(body.status());
  std::string_view id;
  if (!(*body)["_id"].get(id)) {
    if (Status st = checkSystemDocWrite(call, id); !st) return errorResponse(st);
  } else if (call.dbName == "_users" && !call.user.isAdmin()) {
    return errorResponse(Status(ErrorCode::Forbidden, "A user document needs the id org.couchdb.user:<name>."));
  }
  auto json = systemDocBody(call, std::move(call.req.body));
  if (!json) return errorResponse(json.status());
  // validate_doc_update sees the id the document will have, so one is made here when it has none.
  std::string newId(id);
  simdjson::dom::element sentId;
  if (newId.empty() && (*body)["_id"].get(sentId)) newId = db::randomHex(16);
  if (Status st = validateWrite(call, newId, *json); !st) return errorResponse(st);
  auto written = call.db->put(*json, {.id = newId});
  if (!written) return errorResponse(written.status());
  bool batch = call.req.param("batch") == std::optional<std::string_view>("ok");
  Response r = Response::json(batch ? 202 : 201, docResultJson(*written));
  // A batch write is not done yet: CouchDB gives its 202 no Location.
  if (!batch) r.setHeader("Location", detail::locationOf(call, written->id));
  return r;
}

Response getRevsLimit(Call& call) { return Response::json(200, std::to_string(call.db->revsLimit())); }

Response putRevsLimit(Call& call) {
  simdjson::dom::parser parser;
  auto body = jsonBody(call.req, parser, false);
  if (!body) return errorResponse(body.status());
  uint64_t limit = 0;
  if ((*body).get(limit) || limit == 0 || limit > UINT32_MAX)
    return errorResponse(badRequest("revs_limit must be a positive integer"));
  if (Status st = call.db->setRevsLimit(static_cast<uint32_t>(limit)); !st) return errorResponse(st);
  return jsonOk();
}

Response compact(Call& call) {
  if (Status st = call.db->compact(); !st) return errorResponse(st);
  return jsonOk(202);
}

Response getSecurity(Call& call) {
  auto security = call.db->security();
  if (!security) return errorResponse(security.status());
  return Response::json(200, *security);
}

// A security object as CouchDB defines it: `admins` and `members`, each an object whose `names` and
// `roles` are arrays of strings. Other members are kept (validation functions may read them).
Status validateSecurity(simdjson::dom::element body) {
  simdjson::dom::object obj;
  if (body.get(obj)) return badRequest("The security object must be a JSON object");
  for (const char* section : {"admins", "members"}) {
    simdjson::dom::element part;
    if (obj[section].get(part)) continue;
    simdjson::dom::object group;
    if (part.get(group)) return badRequest(std::string(section) + " must be a JSON object");
    for (const char* list : {"names", "roles"}) {
      simdjson::dom::element value;
      if (group[list].get(value)) continue;
      simdjson::dom::array items;
      if (value.get(items)) return badRequest(std::string(section) + "." + list + " must be an array of strings");
      for (auto item : items) {
        if (!item.is_string()) return badRequest(std::string(section) + "." + list + " must be an array of strings");
      }
    }
  }
  return Status::ok();
}

Response putSecurity(Call& call) {
  simdjson::dom::parser parser;
  auto body = jsonBody(call.req, parser, false);
  if (!body) return errorResponse(body.status());
  // CouchDB 3's users_db_security_editable = false: the users database stays admin-only.
  if (call.dbName == "_users")
    return errorResponse(Status(ErrorCode::Forbidden, "You can't edit the security object of the user database."));
  if (Status st = validateSecurity(*body); !st) return errorResponse(st);
  if (Status st = call.db->setSecurity(call.req.body); !st) return errorResponse(st);
  return jsonOk();
}

Response ensureFullCommit(Call& call) {
  // Every write is committed before it is acknowledged, so there is nothing to flush.
  auto info = call.db->info();
  if (!info) return errorResponse(info.status());
  std::string start = info->instanceStartTime;
  return Response::json(201, writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    writeKey(w, "ok");
    w.Bool(true);
    writeKey(w, "instance_start_time");
    writeString(w, start);
    w.EndObject();
  }));
}

// POST /{db}/_purge {"id":["rev",...]} -> {"purge_seq":null,"purged":{"id":["rev"]}}
Response purge(Call& call) {
  simdjson::dom::parser parser;
  auto body = jsonBody(call.req, parser);
  if (!body) return errorResponse(body.status());
  simdjson::dom::object obj;
  if ((*body).get(obj)) return errorResponse(badRequest("Request body must be a JSON object"));
  std::vector<std::pair<std::string, std::vector<std::string>>> revs;
  for (auto field : obj) {
    simdjson::dom::array list;
    if (field.value.get(list)) return errorResponse(badRequest("Each id must map to a list of revisions"));
    auto& entry = revs.emplace_back(std::string(field.key), std::vector<std::string>{});
    for (auto r : list) {
      std::string_view s;
      if (r.get(s)) return errorResponse(badRequest("Revisions must be strings"));
      entry.second.emplace_back(s);
    }
  }
  auto purged = db::storeOf(*call.db).purge(revs);
  if (!purged) return errorResponse(purged.status());
  return Response::json(201, writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    writeKey(w, "purge_seq");
    w.Null();
    writeKey(w, "purged");
    w.StartObject();
    for (const auto& [id, list] : *purged) {
      writeKey(w, id);
      w.StartArray();
      for (const auto& r : list) writeString(w, r);
      w.EndArray();
    }
    w.EndObject();
    w.EndObject();
  }));
}

}  // namespace

void registerDatabaseRoutes(Api& api) {
  api.sync("PUT", "/{db}", Access::ServerAdmin, createDb);
  api.sync("GET", "/{db}", Access::Reader, dbInfo, Cost::Quick);
  api.sync("DELETE", "/{db}", Access::ServerAdmin, deleteDb);
  api.sync("POST", "/{db}", Access::Reader, postDoc, Cost::Quick, BodyKind::Document);
  api.sync("GET", "/{db}/_revs_limit", Access::Reader, getRevsLimit);
  api.sync("PUT", "/{db}/_revs_limit", Access::DbAdmin, putRevsLimit);
  api.sync("POST", "/{db}/_compact", Access::DbAdmin, compact);
  api.sync("GET", "/{db}/_security", Access::Reader, getSecurity, Cost::Quick);
  api.sync("PUT", "/{db}/_security", Access::DbAdmin, putSecurity);
  api.sync("POST", "/{db}/_ensure_full_commit", Access::Reader, ensureFullCommit);
  api.sync("POST", "/{db}/_purge", Access::DbAdmin, purge);
}

}  // namespace settee::http
