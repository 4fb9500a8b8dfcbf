#include "http/users_db.h"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "db/json.h"

namespace settee::http {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// The same rules as validateUserDoc, for clients that read the design document (and for a node that
// runs it, should anyone copy it elsewhere). The messages are CouchDB's: clients match on them.
constexpr std::string_view kValidateSource = R"JS(function (newDoc, oldDoc, userCtx, secObj) {
  var deny = function (why) { throw({forbidden: why}); };
  var has = function (list, item) { return !!list && list.indexOf(item) !== -1; };
  var serverAdmin = has(userCtx.roles, '_admin');
  if (newDoc._deleted === true) {
    if (serverAdmin || (oldDoc && userCtx.name == oldDoc.name)) return;
    deny('Only admins may delete other user docs.');
  }
  if (newDoc.type !== 'user') deny('doc.type must be user');
  if (!newDoc.name) deny('doc.name is required');
  if (!newDoc.roles) deny('doc.roles must exist');
  if (!Array.isArray(newDoc.roles)) deny('doc.roles must be an array');
  newDoc.roles.forEach(function (role) {
    if (typeof role !== 'string') deny('doc.roles can only contain strings');
  });
  if (newDoc._id !== 'org.couchdb.user:' + newDoc.name)
    deny('Doc ID must be of the form org.couchdb.user:name');
  if (oldDoc && oldDoc.name !== newDoc.name) deny('Usernames can not be changed.');
  if (newDoc.password_sha && !newDoc.salt)
    deny('Users with password_sha must have a salt.See /_utils/script/couch.js for example code.');
  if (newDoc.password_scheme && ['simple', 'pbkdf2', 'simple+pbkdf2'].indexOf(newDoc.password_scheme) === -1)
    deny('Password scheme `' + newDoc.password_scheme + '` not supported.');
  if (newDoc.password_scheme === 'pbkdf2') {
    if (typeof newDoc.iterations !== 'number') deny('iterations must be a number.');
    if (typeof newDoc.derived_key !== 'string') deny('derived_key must be a string.');
  }
  var admins = (secObj && secObj.admins) || {};
  var dbAdmin = has(admins.names, userCtx.name) ||
      userCtx.roles.some(function (role) { return has(admins.roles, role); });
  if (!serverAdmin && !dbAdmin) {
    if (oldDoc) {
      if (userCtx.name !== newDoc.name) deny('You may only update your own user document.');
      var before = (oldDoc.roles || []).slice().sort(), after = newDoc.roles.slice().sort();
      if (before.length !== after.length || before.some(function (r, i) { return r !== after[i]; }))
        deny('Only _admin may edit roles');
    } else if (newDoc.roles.length > 0) {
      deny('Only _admin may set roles');
    }
  }
  newDoc.roles.forEach(function (role) {
    if (role !== '_metrics' && role.charAt(0) === '_')
      deny('No system roles (starting with underscore) in users db.');
  });
  if (String(newDoc.name).charAt(0) === '_') deny('Username may not start with underscore.');
  if (String(newDoc.name).indexOf(':') !== -1) deny('Character `:` is not allowed in usernames.');
})JS";

Status deny(std::string why) { return Status(ErrorCode::Forbidden, std::move(why)); }

// JavaScript's truthiness of a JSON value (a missing member is undefined: false).
bool truthy(simdjson::simdjson_result<element> found) {
  element e;
  if (found.get(e)) return false;
  switch (e.type()) {
    case element_type::NULL_VALUE:
      return false;
    case element_type::BOOL:
      return e.get_bool().value();
    case element_type::STRING:
      return !e.get_string().value().empty();
    case element_type::INT64:
      return e.get_int64().value() != 0;
    case element_type::UINT64:
      return e.get_uint64().value() != 0;
    case element_type::DOUBLE:
      return e.get_double().value() != 0;
    default:
      return true;
  }
}

// JavaScript's String(value) for what a name may be: a string, a number (as an integer when it is one),
// a boolean; anything else gets a form no id can match.
std::string jsString(element e) {
  switch (e.type()) {
    case element_type::STRING:
      return std::string(e.get_string().value());
    case element_type::INT64:
      return std::to_string(e.get_int64().value());
    case element_type::UINT64:
      return std::to_string(e.get_uint64().value());
    case element_type::BOOL:
      return e.get_bool().value() ? "true" : "false";
    case element_type::DOUBLE: {
      double d = e.get_double().value();
      if (d == static_cast<double>(static_cast<int64_t>(d))) return std::to_string(static_cast<int64_t>(d));
      return db::toJson(e);
    }
    default:
      return "\x01" + db::toJson(e);
  }
}

std::vector<std::string> strings(simdjson::simdjson_result<element> found) {
  std::vector<std::string> out;
  array items;
  if (found.get(items)) return out;
  for (element item : items) {
    std::string_view s;
    if (!item.get(s)) out.emplace_back(s);
  }
  return out;
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

std::string_view authValidateSource() { return kValidateSource; }

Status ensureAuthDesignDoc(Database& users) {
  std::string rev;
  if (auto current = users.get(std::string(kAuthDesignDocId))) {
    simdjson::dom::parser parser;
    object doc;
    std::string_view source, currentRev;
    if (!parser.parse(*current).get(doc) && !doc["validate_doc_update"].get(source) &&
        source == kValidateSource)
      return Status::ok();
    if (!doc["_rev"].get(currentRev)) rev = std::string(currentRev);
  }
  std::string json = [&] {
    db::JsonBuffer buf;
    db::JsonWriter w(buf);
    w.StartObject();
    db::writeKey(w, "_id");
    db::writeString(w, kAuthDesignDocId);
    if (!rev.empty()) {
      db::writeKey(w, "_rev");
      db::writeString(w, rev);
    }
    db::writeKey(w, "language");
    db::writeString(w, "javascript");
    db::writeKey(w, "validate_doc_update");
    db::writeString(w, kValidateSource);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
  }();
  auto written = users.put(json);
  // Another start (or an admin) wrote it meanwhile: theirs stands until the next start. A node whose
  // max_document_size is below the document's size goes without it: its rules hold natively anyway.
  if (!written &&
      (written.status().code() == ErrorCode::Conflict || written.status().code() == ErrorCode::TooLarge))
    return Status::ok();
  return written ? Status::ok() : written.status();
}

Status validateUserDoc(std::string_view newJson, std::string_view oldJson, std::string_view ctxJson,
                       std::string_view secJson) {
  simdjson::dom::parser newParser, oldParser, ctxParser, secParser;
  object doc;
  if (newParser.parse(newJson.data(), newJson.size()).get(doc)) return deny("doc.type must be user");
  std::optional<object> old;
  if (object o; !oldParser.parse(oldJson.data(), oldJson.size()).get(o)) old = o;
  element ctx;
  if (ctxParser.parse(ctxJson.data(), ctxJson.size()).get(ctx))
    return Status(ErrorCode::Internal, "bad userCtx");
  std::string_view userName;
  const bool anonymous = ctx["name"].get(userName) != simdjson::SUCCESS;
  const std::vector<std::string> userRoles = strings(ctx["roles"]);
  const bool serverAdmin = contains(userRoles, "_admin");

  if (bool deleted = false; !doc["_deleted"].get(deleted) && deleted) {
    std::string_view oldName;
    const bool oldNamed = old && !(*old)["name"].get(oldName);
    // JavaScript's `userCtx.name == oldDoc.name`: null equals a missing name too.
    if (serverAdmin || (old && (oldNamed ? !anonymous && userName == oldName : anonymous)))
      return Status::ok();
    return deny("Only admins may delete other user docs.");
  }
  if (std::string_view type; doc["type"].get(type) || type != "user") return deny("doc.type must be user");
  if (!truthy(doc["name"])) return deny("doc.name is required");
  if (!truthy(doc["roles"])) return deny("doc.roles must exist");
  array roles;
  if (doc["roles"].get(roles)) return deny("doc.roles must be an array");
  for (element role : roles) {
    if (role.type() != element_type::STRING) return deny("doc.roles can only contain strings");
  }
  const std::string name = jsString(doc["name"].value());
  std::string_view id;
  if (doc["_id"].get(id) || id != "org.couchdb.user:" + name)
    return deny("Doc ID must be of the form org.couchdb.user:name");
  if (old) {
    element oldName;  // JavaScript's `!==`: the same type and value, which for these is the same JSON
    if ((*old)["name"].get(oldName) || db::toJson(oldName) != db::toJson(doc["name"].value()))
      return deny("Usernames can not be changed.");
  }
  if (truthy(doc["password_sha"]) && !truthy(doc["salt"]))
    return deny("Users with password_sha must have a salt.See /_utils/script/couch.js for example code.");
  std::string_view scheme;
  if (truthy(doc["password_scheme"])) {
    element given = doc["password_scheme"].value();
    if (given.get(scheme) || (scheme != "simple" && scheme != "pbkdf2" && scheme != "simple+pbkdf2"))
      return deny("Password scheme `" + jsString(given) + "` not supported.");
  }
  if (scheme == "pbkdf2") {
    element iterations, key;
    if (doc["iterations"].get(iterations) || !iterations.is_number())
      return deny("iterations must be a number.");
    if (doc["derived_key"].get(key) || key.type() != element_type::STRING)
      return deny("derived_key must be a string.");
  }

  bool dbAdmin = false;
  if (element sec; !secParser.parse(secJson.data(), secJson.size()).get(sec)) {
    const auto adminNames = strings(sec["admins"]["names"]);
    const auto adminRoles = strings(sec["admins"]["roles"]);
    dbAdmin = (!anonymous && contains(adminNames, userName)) ||
              std::any_of(userRoles.begin(), userRoles.end(),
                          [&](const std::string& r) { return contains(adminRoles, r); });
  }
  std::vector<std::string> newRoles;
  for (element role : roles) newRoles.emplace_back(role.get_string().value());
  if (!serverAdmin && !dbAdmin) {
    if (old) {
      if (anonymous || userName != name) return deny("You may only update your own user document.");
      std::vector<std::string> before = strings((*old)["roles"]), after = newRoles;
      std::sort(before.begin(), before.end());
      std::sort(after.begin(), after.end());
      if (before != after) return deny("Only _admin may edit roles");
    } else if (!newRoles.empty()) {
      return deny("Only _admin may set roles");
    }
  }
  for (const auto& role : newRoles) {
    if (role != "_metrics" && !role.empty() && role[0] == '_')
      return deny("No system roles (starting with underscore) in users db.");
  }
  if (!name.empty() && name[0] == '_') return deny("Username may not start with underscore.");
  if (name.find(':') != std::string::npos) return deny("Character `:` is not allowed in usernames.");
  return Status::ok();
}

}  // namespace settee::http
