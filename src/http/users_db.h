// http/users_db.h — the rules of CouchDB's `_users` database, as its design document `_design/_auth`
// states them, checked in C++.
//
// CouchDB creates `_users/_design/_auth` with a validate_doc_update function, and tools wait for it.
// The node creates the same document (and brings its function back when it differs, as CouchDB does at
// start), but never runs that JavaScript: the validators of `_users` (DesignFunctions::validators) carry
// a native entry in its place, which checks the same rules with the same messages, on every write path
// (PUT, POST, DELETE, COPY, _bulk_docs, attachments, replicated writes), with or without a JavaScript
// query server:
// - a deletion: by a server admin or the document's own user ("Only admins may delete other user docs.");
// - `type` "user", a `name`, `roles` an array of strings, `_id` "org.couchdb.user:" + name, a name that
//   does not change, a known password scheme with its fields;
// - a caller who is neither a server admin nor an admin of `_users` (its _security) may create a
//   document only without roles (a signup), and change only their own, never its roles;
// - no system roles (starting with "_", `_metrics` aside), no name starting with "_" or holding ":".
// Refusals are Status forbidden with CouchDB's reasons. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "settee/database.h"
#include "settee/status.h"

namespace settee::http {

inline constexpr std::string_view kAuthDesignDocId = "_design/_auth";

// The validate_doc_update `_design/_auth` holds (JavaScript; what a query server would run).
std::string_view authValidateSource();

// Creates `_design/_auth` in `users`, or puts its validate_doc_update back when it differs. A
// max_document_size too small for it leaves it out (the rules are checked natively whatever).
Status ensureAuthDesignDoc(Database& users);

// The rules above for a write of `newDoc` over `oldDoc` ("null" when there is none) by `userCtx`
// ({"name","roles"}, as validate functions get it) in a database whose security object is `secObj`.
Status validateUserDoc(std::string_view newDoc, std::string_view oldDoc, std::string_view userCtx,
                       std::string_view secObj);

}  // namespace settee::http
