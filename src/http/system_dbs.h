// http/system_dbs.h — the rules CouchDB's system databases add on top of their security objects.
//
// `_users` and `_replicator` exist from the node's first start, with CouchDB 3's admin-only security
// object (members and admins: the `_admin` role). Whatever an admin later opens them to, these rules hold:
// - `_users`: a `password` is hashed before anything is stored (Auth::hashUserDoc).
// - `_replicator`: a document records who asked for the replication — `owner` and `user_ctx` (name and
//   roles) — and the replication runs with exactly that user's rights (CouchDB's user_ctx). A non-admin
//   writes only documents that are theirs, and their user_ctx is always stamped as their own; an admin may
//   name any user_ctx, and gets their own when they name none. Non-admins read only their own documents,
//   one at a time, with credentials masked; listings, feeds and replicated writes (new_edits=false) into
//   a system database are for admins only.
// All functions run on the thread pool (they may read the database); none keeps a reference to `call`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/api.h"

namespace settee::http {

// The security object a database gets when it is created (CouchDB 3's default_security = admin_only).
inline constexpr std::string_view kAdminOnlySecurity =
    R"({"members":{"roles":["_admin"]},"admins":{"roles":["_admin"]}})";

// Creates `_users` and `_replicator` when missing, with kAdminOnlySecurity. A system database whose
// security object was never set (an older Settee created `_replicator` without one) gets it too.
Status ensureSystemDatabases(DataDir& data);

bool isSystemDb(std::string_view dbName);

// After the route's own access check: refuses what a non-admin may not do in a system database even when
// its security object lets them in (listings, feeds, attachments of `_replicator`). nullopt when allowed;
// otherwise the answer to send (for a non-admin's GET of a `_replicator` document: the document itself,
// masked, or the refusal).
std::optional<Response> systemDbGate(Call& call);

// May `call.user` write (create, update or delete) document `docId` of the call's database? Adds the
// system databases' ownership rule to the design-document rule every database has.
Status checkSystemDocWrite(const Call& call, std::string_view docId);

// The body to store for a document written to a system database by `call.user`: the password hashed in
// `_users`, owner and user_ctx stamped in `_replicator`. Other databases get `json` back unchanged.
Result<std::string> systemDocBody(const Call& call, std::string json);

// A user context as stored in a `_replicator` document's `user_ctx`; anonymous when absent or malformed.
UserCtx userCtxOf(simdjson::dom::element doc);

// `url` with any password in it replaced by "*****".
std::string maskCredentials(std::string_view url);

}  // namespace settee::http
