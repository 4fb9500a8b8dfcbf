// validate_doc_update and the cache of validating design documents; filters are in changes_filter.cc.
#include "http/design_functions.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "db/json.h"
#include "http/api.h"
#include "http/users_db.h"

namespace settee::http {

DesignFunctions::DesignFunctions(std::vector<std::string> command, std::chrono::milliseconds timeout)
    : command_(std::move(command)), timeout_(timeout) {}

DesignFunctions::~DesignFunctions() = default;

js::QueryServerPool& DesignFunctions::pool() {
  std::lock_guard lock(mutex_);
  if (!pool_) {
    js::PoolOptions options;
    options.command = command_;
    options.timeout = timeout_;
    pool_ = std::make_unique<js::QueryServerPool>(std::move(options));
  }
  return *pool_;
}

Result<std::shared_ptr<const std::vector<DesignDocCopy>>> DesignFunctions::validators(Database& db) {
  AllDocsOptions range;
  range.startKey = "_design/";
  range.endKey = "_design0";  // '0' follows '/': every id with the prefix sorts below it
  range.inclusiveEnd = false;
  std::vector<std::pair<std::string, std::string>> revs;
  auto listed = db.allDocs(range, [&](const AllDocsRow& row) {
    revs.emplace_back(row.id, row.rev);
    return true;
  });
  if (!listed) return listed.status();
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(db.name());
    if (it != cache_.end() && it->second.revs == revs) return it->second.validators;
  }
  auto found = std::make_shared<std::vector<DesignDocCopy>>();
  const bool users = db.name() == "_users";
  if (users) found->push_back({std::string(kAuthDesignDocId), {}, true});
  if (!revs.empty()) {
    range.includeDocs = true;
    simdjson::dom::parser parser;
    auto read = db.allDocs(range, [&](const AllDocsRow& row) {
      simdjson::dom::element doc;
      std::string_view source;
      if (!row.doc.empty() && !parser.parse(row.doc).get(doc) && !doc["validate_doc_update"].get(source) &&
          !(users && row.id == kAuthDesignDocId && source == authValidateSource()))
        found->push_back({row.id, row.doc});
      return true;
    });
    if (!read) return read.status();
  }
  std::lock_guard lock(mutex_);
  Cached& entry = cache_[db.name()];
  entry.revs = std::move(revs);
  entry.validators = found;
  return std::shared_ptr<const std::vector<DesignDocCopy>>(std::move(found));
}

Status DesignFunctions::validate(const DesignDocCopy& ddoc, std::string_view newDoc, std::string_view oldDoc,
                                 std::string_view userCtx, std::string_view secObj) {
  if (ddoc.native) return validateUserDoc(newDoc, oldDoc, userCtx, secObj);
  return pool().validate({ddoc.id, ddoc.json}, newDoc, oldDoc, userCtx, secObj);
}

std::string selfBinaryPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "settee";
  return std::string(buf, static_cast<size_t>(n));
}

std::string userCtxJson(std::string_view dbName, std::string_view name, const std::vector<std::string>& roles,
                        bool serverAdmin) {
  return writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    db::writeKey(w, "db");
    db::writeString(w, dbName);
    db::writeKey(w, "name");
    if (name.empty())
      w.Null();
    else
      db::writeString(w, name);
    db::writeKey(w, "roles");
    w.StartArray();
    for (const auto& role : roles) db::writeString(w, role);
    // CouchDB lists _admin among a server admin's roles, and validate functions test for it.
    if (serverAdmin && std::find(roles.begin(), roles.end(), "_admin") == roles.end())
      db::writeString(w, "_admin");
    w.EndArray();
    w.EndObject();
  });
}

namespace {

std::string callUserCtx(const Call& call) {
  return userCtxJson(call.dbName, call.user.name, call.user.roles, call.user.isAdmin());
}

void writeStringMap(db::JsonWriter& w, const std::vector<std::pair<std::string, std::string>>& pairs) {
  w.StartObject();
  for (const auto& [key, value] : pairs) {
    db::writeKey(w, key);
    db::writeString(w, value);
  }
  w.EndObject();
}

}  // namespace

Result<DesignDocCopy> filterDesignDoc(Database& db, const JsFilter& filter) {
  std::string id = "_design/" + filter.ddoc;
  auto json = db.get(id);
  if (!json) return notFound("missing");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view source;
  if (filter.view) {
    if (parser.parse(*json).get(root) || root["views"][filter.name]["map"].get(source))
      return notFound("missing json view function");
  } else if (parser.parse(*json).get(root) || root["filters"][filter.name].get(source)) {
    return notFound("missing json filter function");
  }
  return DesignDocCopy{std::move(id), std::move(*json)};
}

Result<std::vector<bool>> runFilter(DesignFunctions& design, const DesignDocCopy& ddoc,
                                    const JsFilter& filter, const std::vector<std::string_view>& docs,
                                    std::string_view req) {
  if (docs.empty()) return std::vector<bool>{};
  if (filter.view) return design.pool().filterView({ddoc.id, ddoc.json}, filter.name, docs);
  return design.pool().filter({ddoc.id, ddoc.json}, filter.name, docs, req);
}

std::string filterRequestJson(std::string_view dbName, std::string_view method, std::string_view rawPath,
                              const std::vector<std::pair<std::string, std::string>>& query,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view body, std::string_view peer, std::string_view userCtx,
                              std::string_view secObj) {
  return writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    db::writeKey(w, "info");
    w.StartObject();
    db::writeKey(w, "db_name");
    db::writeString(w, dbName);
    w.EndObject();
    db::writeKey(w, "id");
    w.Null();
    db::writeKey(w, "method");
    db::writeString(w, method);
    db::writeKey(w, "path");
    w.StartArray();
    std::string_view rest = rawPath.substr(0, rawPath.find('?'));
    while (!rest.empty()) {
      if (rest.front() == '/') {
        rest.remove_prefix(1);
        continue;
      }
      size_t slash = rest.find('/');
      std::string_view segment = rest.substr(0, slash);
      auto decoded = percentDecode(segment, false);
      db::writeString(w, decoded ? std::string_view(*decoded) : segment);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    }
    w.EndArray();
    db::writeKey(w, "raw_path");
    db::writeString(w, rawPath);
    db::writeKey(w, "query");
    writeStringMap(w, query);
    db::writeKey(w, "headers");
    writeStringMap(w, headers);
    db::writeKey(w, "body");
    db::writeString(w, body.empty() ? std::string_view("undefined") : body);
    db::writeKey(w, "peer");
    db::writeString(w, peer);
    db::writeKey(w, "form");
    w.StartObject();
    w.EndObject();
    db::writeKey(w, "cookie");
    w.StartObject();
    w.EndObject();
    db::writeKey(w, "userCtx");
    db::writeRaw(w, userCtx);
    db::writeKey(w, "secObj");
    db::writeRaw(w, secObj);
    w.EndObject();
  });
}

Status validateWrite(Call& call, std::string_view id, std::string_view newDoc) {
  if (!call.svc->design) return Status::ok();
  auto validators = call.svc->design->validators(*call.db);
  if (!validators) return validators.status();
  if ((*validators)->empty()) return Status::ok();
  return validateWrite(call, **validators, id, newDoc);
}

Status validateWrite(Call& call, const std::vector<DesignDocCopy>& validators, std::string_view id,
                     std::string_view newDoc) {
  // CouchDB checks design documents for an admin instead, and runs no validate function on them.
  if (validators.empty() || id.rfind("_design/", 0) == 0) return Status::ok();
  // The function sees the document with its id, which a PUT or a POST may give outside the body.
  std::string withId;
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  std::string_view sentId;
  if (!parser.parse(newDoc.data(), newDoc.size()).get(body) && body["_id"].get(sentId)) {
    withId = writeJson([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "_id");
      db::writeString(w, id);
      for (auto field : body) {
        if (field.key == "_id") continue;
        db::writeKey(w, field.key);
        db::writeElement(w, field.value);
      }
      w.EndObject();
    });
    newDoc = withId;
  }
  std::string oldDoc = "null";
  if (auto current = call.db->get(id)) oldDoc = std::move(*current);
  std::string secObj = "{}";
  if (auto security = call.db->security(); security && !security->empty()) secObj = std::move(*security);
  std::string userCtx = callUserCtx(call);
  for (const auto& ddoc : validators) {
    Status st = call.svc->design->validate(ddoc, newDoc, oldDoc, userCtx, secObj);
    if (!st) return st;
  }
  return Status::ok();
}

}  // namespace settee::http
