// Server-level endpoints: welcome, health, database list, uuids, active tasks, cookie sessions.
#include "db/crypto.h"
#include "db/rev_hash.h"
#include "http/auth.h"
#include "http/handlers/db_info.h"
#include "http/handlers/handlers.h"

namespace settee::http {
namespace {

using db::writeKey;
using db::writeString;

Response welcome(Call& call) {
  return Response::json(200, writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    writeKey(w, "couchdb");
    writeString(w, "Welcome");
    writeKey(w, "version");
    writeString(w, call.svc->version);
    writeKey(w, "git_sha");
    writeString(w, "settee");
    writeKey(w, "uuid");
    writeString(w, call.svc->uuid);
    writeKey(w, "features");
    w.StartArray();
    for (const std::string& f : *call.svc->features) writeString(w, f);
    w.EndArray();
    writeKey(w, "vendor");
    w.StartObject();
    writeKey(w, "name");
    writeString(w, "Settee");
    writeKey(w, "version");
    writeString(w, "0.1.0");
    w.EndObject();
    w.EndObject();
  }));
}

Response allDbs(Call& call) {
  auto names = selectDbNames(call.req, *call.svc->data);
  if (!names) return errorResponse(names.status());
  return Response::json(200, writeJson([&](db::JsonWriter& w) {
    w.StartArray();
    for (const auto& name : *names) writeString(w, name);
    w.EndArray();
  }));
}

Response uuids(Call& call) {
  auto count = uintParam(call.req, "count", 1);
  if (!count) return errorResponse(count.status());
  if (*count > 1000) return errorResponse(badRequest("count parameter too large"));
  std::vector<std::string> ids;
  ids.reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) ids.push_back(db::randomHex(16));
  Response r = Response::json(200, writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    writeKey(w, "uuids");
    w.StartArray();
    for (const auto& id : ids) writeString(w, id);
    w.EndArray();
    w.EndObject();
  }));
  // CouchDB's cache-busting headers (chttpd_misc:handle_uuids_req), so no cache between a client and
  // the node hands two clients the same ids; its send_json adds must-revalidate to the no-cache.
  r.setHeader("Cache-Control", "must-revalidate, no-cache");
  r.setHeader("Pragma", "no-cache");
  r.setHeader("Expires", "Mon, 01 Jan 1990 00:00:00 GMT");
  r.setHeader("ETag", db::couchEtag(db::binaryListTerm(ids)));
  return r;
}

void writeUserCtx(db::JsonWriter& w, const UserCtx& user) {
  writeKey(w, "name");
  if (user.name.empty()) w.Null();
  else writeString(w, user.name);
  writeKey(w, "roles");
  w.StartArray();
  for (const auto& r : user.roles) writeString(w, r);
  w.EndArray();
}

Response getSession(Call& call) {
  return Response::json(200, writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    writeKey(w, "ok");
    w.Bool(true);
    writeKey(w, "userCtx");
    w.StartObject();
    writeUserCtx(w, call.user);
    w.EndObject();
    writeKey(w, "info");
    w.StartObject();
    writeKey(w, "authentication_handlers");
    w.StartArray();
    writeString(w, "cookie");
    writeString(w, "default");
    w.EndArray();
    if (!call.user.name.empty()) {
      writeKey(w, "authenticated");
      writeString(w, call.req.header("Authorization") ? "default" : "cookie");
    }
    w.EndObject();
    w.EndObject();
  }));
}

// POST /_session takes a form (name=..&password=..) or a JSON object.
Response postSession(Call& call) {
  std::string name, password;
  bool haveName = false, havePassword = false;
  const std::string* type = call.req.header("Content-Type");
  if (type && type->find("application/json") != std::string::npos) {
    simdjson::dom::parser parser;
    auto body = jsonBody(call.req, parser);
    if (!body) return errorResponse(body.status());
    std::string_view s;
    if (!(*body)["name"].get(s)) name = s, haveName = true;
    if (!(*body)["password"].get(s)) password = s, havePassword = true;
  } else if (type && type->find("application/x-www-form-urlencoded") != std::string::npos) {
    Request form;
    if (!parseTarget("/?" + call.req.body, form)) return errorResponse(badRequest("Malformed form body"));
    if (auto v = form.param("name")) name = *v, haveName = true;
    if (auto v = form.param("password")) password = *v, havePassword = true;
  } else {
    return errorResponse(Status(ErrorCode::BadContentType,
                                "Content-Type must be application/x-www-form-urlencoded or application/json"));
  }
  if (!haveName || !havePassword) return errorResponse(badRequest("name and password are required"));
  auto user = call.svc->auth->login(name, password, call.req.peer);
  if (!user) return errorResponse(user.status());
  Response r = Response::json(200, writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    writeKey(w, "ok");
    w.Bool(true);
    writeUserCtx(w, *user);
    w.EndObject();
  }));
  r.setHeader("Set-Cookie", "AuthSession=" + call.svc->auth->sessionCookie(user->name) +
                                "; Version=1; Path=/; HttpOnly; SameSite=Lax");
  return r;
}

Response deleteSession(Call&) {
  Response r = jsonOk();
  r.setHeader("Set-Cookie", "AuthSession=; Version=1; Path=/; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  return r;
}

}  // namespace

void registerServerRoutes(Api& api) {
  api.sync("GET", "/", Access::Public, welcome, Cost::Quick);
  api.sync(
      "GET", "/_up", Access::Public, [](Call&) { return Response::json(200, R"({"status":"ok","seeds":{}})"); },
      Cost::Quick);
  api.sync("GET", "/_all_dbs", Access::ServerAdmin, allDbs);
  // Admin only, as /_all_dbs: CouchDB's admin_only_all_dbs (true by default since 3.0) covers both.
  api.sync("POST", "/_dbs_info", Access::ServerAdmin, dbsInfo);
  api.async("GET", "/_dbs_info", Access::ServerAdmin, allDbsInfo);
  api.sync("GET", "/_uuids", Access::Public, uuids, Cost::Quick);
  api.sync("GET", "/_active_tasks", Access::ServerAdmin, [](Call& call) {
    return Response::json(200, call.svc->activeTasks ? call.svc->activeTasks() : "[]");
  });
  api.sync("GET", "/_session", Access::Public, getSession, Cost::Quick);
  api.sync("POST", "/_session", Access::Public, postSession);
  api.sync("DELETE", "/_session", Access::Public, deleteSession, Cost::Quick);
}

}  // namespace settee::http
