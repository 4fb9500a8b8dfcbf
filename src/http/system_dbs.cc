#include "http/system_dbs.h"

#include "http/auth.h"
#include "http/client_url.h"
#include "http/users_db.h"

namespace settee::http {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kUserPrefix = "org.couchdb.user:";
constexpr std::string_view kMasked = "*****";

bool isDeleted(object doc) {
  bool deleted = false;
  return !doc["_deleted"].get(deleted) && deleted;
}

// Who a stored document belongs to: `owner` in `_replicator`, `name` in `_users`. Empty when the
// document does not exist (or is deleted), so anyone may create it.
Result<std::string> ownerOf(const Call& call, std::string_view docId, bool& exists) {
  exists = false;
  auto current = call.db->get(std::string(docId));
  if (!current) {
    if (current.status().code() == ErrorCode::NotFound) return std::string();
    return current.status();
  }
  simdjson::dom::parser parser;
  object doc;
  if (parser.parse(*current).get(doc)) return Status(ErrorCode::Internal, "stored document is not an object");
  exists = !isDeleted(doc);
  std::string_view owner;
  if (doc[call.dbName == "_users" ? "name" : "owner"].get(owner)) return std::string();
  return std::string(owner);
}

void writeUserCtx(db::JsonWriter& w, const UserCtx& user) {
  w.StartObject();
  db::writeKey(w, "name");
  if (user.name.empty())
    w.Null();
  else
    db::writeString(w, user.name);
  db::writeKey(w, "roles");
  w.StartArray();
  for (const auto& r : user.roles) db::writeString(w, r);
  w.EndArray();
  w.EndObject();
}

// A replication endpoint (a URL string or {"url", "headers", "auth"}) with its secrets masked.
void writeMaskedEndpoint(db::JsonWriter& w, element e) {
  std::string_view url;
  if (!e.get(url)) {
    db::writeString(w, maskCredentials(url));
    return;
  }
  object obj;
  if (e.get(obj)) {
    db::writeElement(w, e);
    return;
  }
  w.StartObject();
  for (auto field : obj) {
    db::writeKey(w, field.key);
    if (field.key == "url" && !field.value.get(url)) {
      db::writeString(w, maskCredentials(url));
    } else if (field.key == "headers" || field.key == "auth") {
      // Header values (Authorization, Cookie) and auth objects are credentials, whatever their shape.
      object inner;
      if (field.value.get(inner)) {
        db::writeString(w, kMasked);
        continue;
      }
      w.StartObject();
      for (auto f : inner) {
        db::writeKey(w, f.key);
        db::writeString(w, kMasked);
      }
      w.EndObject();
    } else {
      db::writeElement(w, field.value);
    }
  }
  w.EndObject();
}

// A non-admin's GET of one document of a system database: theirs only, credentials masked.
Response ownDocument(const Call& call, const std::string& docId) {
  auto json = call.db->get(docId);
  if (!json) return errorResponse(json.status());
  simdjson::dom::parser parser;
  object doc;
  if (parser.parse(*json).get(doc))
    return errorResponse(Status(ErrorCode::Internal, "stored document is not an object"));
  std::string_view owner;
  if (doc[call.dbName == "_users" ? "name" : "owner"].get(owner) || owner != call.user.name)
    return errorResponse(notFound("missing"));  // another user's document: as if it were not there
  Response r =
      Response::json(200, writeJson([&](db::JsonWriter& w) {
                       w.StartObject();
                       for (auto field : doc) {
                         db::writeKey(w, field.key);
                         if (call.dbName == "_replicator" && (field.key == "source" || field.key == "target"))
                           writeMaskedEndpoint(w, field.value);
                         else
                           db::writeElement(w, field.value);
                       }
                       w.EndObject();
                     }));
  std::string_view rev;
  if (!doc["_rev"].get(rev)) r.setHeader("ETag", "\"" + std::string(rev) + "\"");
  return r;
}

Status forbidden(std::string reason) { return Status(ErrorCode::Forbidden, std::move(reason)); }

Result<std::string> replicatorDocBody(const Call& call, const std::string& json, element root) {
  object doc;
  if (root.get(doc) || isDeleted(doc)) return json;  // the store refuses a non-object with its own reason
  const bool admin = call.user.isAdmin();
  element given;
  const bool hasCtx = !doc["user_ctx"].get(given) && given.type() == simdjson::dom::element_type::OBJECT;
  std::string_view givenOwner;
  const bool hasOwner = !doc["owner"].get(givenOwner);
  return writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    for (auto field : doc) {
      if (field.key == "owner" || field.key == "user_ctx") continue;
      db::writeKey(w, field.key);
      db::writeElement(w, field.value);
    }
    db::writeKey(w, "owner");
    if (admin && hasOwner)
      db::writeString(w, givenOwner);
    else if (call.user.name.empty())
      w.Null();
    else
      db::writeString(w, call.user.name);
    db::writeKey(w, "user_ctx");
    if (admin && hasCtx)
      writeUserCtx(w, userCtxOf(root));
    else
      writeUserCtx(w, call.user);
    w.EndObject();
  });
}

// The user's roles, name and id are judged by `_design/_auth`'s rules (users_db.h), which run on every
// write to `_users` after this; here the password is only hashed before anything is stored.
Result<std::string> usersDocBody(std::string json) { return Auth::hashUserDoc(json); }

}  // namespace

bool isSystemDb(std::string_view dbName) { return dbName == "_users" || dbName == "_replicator"; }

Status ensureSystemDatabases(DataDir& data) {
  for (const char* name : {"_users", "_replicator"}) {
    auto db = data.open(name);
    if (!db && db.status().code() == ErrorCode::NotFound) {
      db = data.create(name);
      // Another thread may have created it between the two calls.
      if (!db && db.status().code() == ErrorCode::FileExists) db = data.open(name);
    }
    if (!db) return db.status();
    auto security = (*db)->security();
    if (!security) return security.status();
    if (*security == "{}") {
      if (Status st = (*db)->setSecurity(kAdminOnlySecurity); !st) return st;
    }
    if (std::string_view(name) == "_users") {
      if (Status st = ensureAuthDesignDoc(**db); !st) return st;
    }
  }
  return Status::ok();
}

std::optional<Response> systemDbGate(Call& call) {
  if (!isSystemDb(call.dbName) || call.user.isAdmin()) return std::nullopt;
  const auto& seg = call.req.segments;
  const std::string& method = call.req.method;
  if (seg.size() == 1 && (method == "GET" || method == "HEAD" || method == "POST")) return std::nullopt;
  const bool oneDoc = seg.size() == 2 && !seg[1].empty() && seg[1][0] != '_';
  if (oneDoc && (method == "PUT" || method == "DELETE")) return std::nullopt;
  if (oneDoc && (method == "GET" || method == "HEAD") && call.req.query.empty())
    return ownDocument(call, seg[1]);
  if (call.dbName == "_users" && seg.size() >= 2 && seg[1] == "_design" &&
      (method == "GET" || method == "HEAD"))
    return errorResponse(forbidden("Only administrators can view design docs in the users database."));
  return errorResponse(forbidden("Only admins may do this in the " + call.dbName + " database."));
}

Status checkSystemDocWrite(const Call& call, std::string_view docId) {
  if (docId.substr(0, 8) == "_design/") {
    if (Status st = call.svc->auth->authorize(call.user, call.db.get(), Access::DbAdmin); !st) return st;
  }
  if (!isSystemDb(call.dbName) || call.user.isAdmin()) return Status::ok();
  bool exists = false;
  auto owner = ownerOf(call, docId, exists);
  if (!owner) return owner.status();
  if (call.dbName == "_users") {
    // Anyone the security object lets in may sign up (create a user document); a user changes only
    // their own. What the document may say is _design/_auth's to judge.
    const bool signup = call.user.name.empty() && !exists;
    if (!signup && docId != std::string(kUserPrefix) + call.user.name)
      return forbidden("You may only update your own user document.");
  }
  if (exists && *owner != call.user.name) {
    return forbidden(call.dbName == "_replicator" ? "Can't update replication documents from other users."
                                                  : "You may only update your own user document.");
  }
  return Status::ok();
}

Result<std::string> systemDocBody(const Call& call, std::string json) {
  if (call.dbName == "_users") return usersDocBody(std::move(json));
  if (call.dbName != "_replicator") return json;
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(json).get(root)) return json;  // the store refuses it with its own reason
  return replicatorDocBody(call, json, root);
}

UserCtx userCtxOf(simdjson::dom::element doc) {
  UserCtx user;
  element ctx;
  if (doc["user_ctx"].get(ctx)) return user;
  std::string_view name;
  if (!ctx["name"].get(name)) user.name = name;
  simdjson::dom::array roles;
  if (!ctx["roles"].get(roles)) {
    for (auto r : roles) {
      std::string_view role;
      if (!r.get(role)) user.roles.emplace_back(role);
    }
  }
  return user;
}

std::string maskCredentials(std::string_view url) {
  auto parsed = Url::parse(url);
  if (!parsed) return std::string(url);
  return parsed->redacted();
}

}  // namespace settee::http
