#include "replicator/replication_spec.h"

#include <functional>

#include "http/client_url.h"
#include "http/system_dbs.h"

namespace settee::repl {
namespace {

using simdjson::dom::element;

// The rights a replication runs with on a local database: those of the user who asked for it (CouchDB's
// user_ctx). Reading needs membership; writing a design document needs a database admin; replicated
// writes into a system database are an admin's only, as over HTTP (a replicated `_replicator` document
// would otherwise carry whatever user_ctx its source gave it). Null for an admin, who may do anything.
std::shared_ptr<const LocalAccess> accessFor(http::Auth& auth, const http::UserCtx& user,
                                             std::shared_ptr<Database> db) {
  if (user.isAdmin()) return nullptr;
  auto access = std::make_shared<LocalAccess>();
  access->read = [&auth, user, db] { return auth.authorize(user, db.get(), http::Access::Reader); };
  access->write = [&auth, user, db](std::string_view id) {
    if (http::isSystemDb(db->name()) && id.substr(0, 7) != "_local/")
      return Status(ErrorCode::Forbidden, "Only admins may replicate into " + db->name() + ".");
    const bool design = id.substr(0, 8) == "_design/";
    return auth.authorize(user, db.get(), design ? http::Access::DbAdmin : http::Access::Reader);
  };
  return access;
}

Result<ReplicationPeer> peerOf(element e, DataDir& data, const Requester& who, bool create, std::string& desc,
                               ReplicationOptions& o) {
  std::string_view url, user, password;
  element obj;
  if (!e.get(url)) {
  } else if (e.type() == simdjson::dom::element_type::OBJECT && !e["url"].get(url)) {
    simdjson::dom::object headers;
    if (!e["headers"].get(headers)) {
      for (auto h : headers) {
        std::string_view v;
        if (!h.value.get(v)) o.headers.emplace_back(std::string(h.key), std::string(v));
      }
    }
    // CouchDB 3's {"auth": {"basic": {"username": ..., "password": ...}}}, instead of user:pass@ in the URL.
    element basic;
    if (!e["auth"]["basic"].get(basic) && (basic["username"].get(user) || basic["password"].get(password)))
      return badRequest("auth.basic needs string username and password");
  } else {
    return badRequest("source and target must be a URL, a database name, or {\"url\": ...}");
  }
  std::string spec(url);
  if (spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0) {
    auto parsed = http::Url::parse(spec);
    if (!parsed) return badRequest("bad URL " + spec);
    if (!user.empty() || !password.empty()) {
      parsed->user = user;
      parsed->password = password;
      spec = parsed->toString();
    }
    desc = parsed->redacted();
    return ReplicationPeer::remote(spec);
  }
  desc = spec;
  auto db = data.open(spec);
  if (!db && create && db.status().code() == ErrorCode::NotFound) {
    // Creating a database is a server admin's right, over HTTP as here.
    if (Status st = who.auth.authorize(who.user, nullptr, http::Access::ServerAdmin); !st) return st;
    db = data.create(spec);
    if (db) {
      if (Status st = (*db)->setSecurity(http::kAdminOnlySecurity); !st) return st;
    }
  }
  if (!db) return Status(db.status().code(), "could not open " + spec + ": " + db.status().reason());
  // Refused at once when the user may not even read it; each later read and write is checked again, so a
  // security object changed while the replication runs takes effect.
  if (Status st = who.auth.authorize(who.user, db->get(), http::Access::Reader); !st) return st;
  return ReplicationPeer::local(*db, accessFor(who.auth, who.user, *db));
}

}  // namespace

Status parseOptions(element body, ReplicationOptions& options) {
  if (body.type() != simdjson::dom::element_type::OBJECT)
    return badRequest("Request body must be a JSON object");
  bool b = false;
  if (!body["continuous"].get(b)) options.continuous = b;
  if (!body["create_target"].get(b)) options.createTarget = b;
  std::string_view s;
  if (!body["filter"].get(s)) options.filter = s;
  element e;
  if (!body["selector"].get(e)) options.selector = db::toJson(e);
  if (!body["query_params"].get(e)) options.queryParams = db::toJson(e);
  if (!body["since_seq"].get(e)) options.sinceSeq = db::toJson(e);
  // CouchDB's per-replication tuning fields.
  const std::pair<const char*, std::function<void(uint64_t)>> numbers[] = {
      {"worker_processes", [&](uint64_t v) { options.workers = v; }},
      {"worker_batch_size", [&](uint64_t v) { options.batchSize = v; }},
      {"connection_timeout", [&](uint64_t v) { options.timeout = std::chrono::milliseconds(v); }},
      {"retries_per_request",
       [&](uint64_t v) { options.retries = static_cast<int>(std::min<uint64_t>(v, 1000000)); }},
      {"checkpoint_interval", [&](uint64_t v) { options.checkpointInterval = std::chrono::milliseconds(v); }},
      {"http_connections", [](uint64_t) {}},  // the client pools connections per peer itself
  };
  for (const auto& [name, set] : numbers) {
    if (body[name].get(e)) continue;
    uint64_t v = 0;
    if (e.get(v) || (v == 0 && std::string_view(name) != "retries_per_request"))
      return badRequest(std::string(name) + " must be a positive integer");
    set(v);
  }
  if (!body["use_checkpoints"].get(e)) {
    if (e.get(b)) return badRequest("use_checkpoints must be a boolean");
    options.useCheckpoints = b;
  }
  simdjson::dom::array ids;
  if (!body["doc_ids"].get(ids)) {
    for (element id : ids) {
      if (id.get(s)) return badRequest("doc_ids must be strings");
      options.docIds.emplace_back(s);
    }
  }
  return Status::ok();
}

Result<Spec> parseSpec(element body, DataDir& data, const Requester& who) {
  if (body.type() != simdjson::dom::element_type::OBJECT)
    return badRequest("Request body must be a JSON object");
  Spec spec;
  bool b = false;
  if (!body["cancel"].get(b)) spec.cancel = b;
  if (Status st = parseOptions(body, spec.options); !st) return st;
  element src, dst;
  if (body["source"].get(src) || body["target"].get(dst)) return badRequest("source and target are required");
  auto source = peerOf(src, data, who, false, spec.sourceDesc, spec.options);
  if (!source) return source.status();
  auto target = peerOf(dst, data, who, spec.options.createTarget, spec.targetDesc, spec.options);
  if (!target) return target.status();
  spec.source = std::move(*source);
  spec.target = std::move(*target);
  return spec;
}

}  // namespace settee::repl
