// database_internal.h — how Settee's own layers reach the Store behind a public Database.
//
// The public API (include/settee/database.h) is what an app links against and is complete on its own;
// the HTTP handlers and the replicator also need calls it does not offer (already-parsed writes, reads
// that hand attachment bodies over by reference, the revision tree, purge). They take the Store here.
//
// Contract: the Store lives as long as its Database; a reference from storeOf() must not outlive it.
// Only code in src/ (and its tests) includes this header: it is not installed with include/settee.
#pragma once

#include "db/store.h"
#include "settee/database.h"

namespace settee::db {

struct DatabaseAccess {
  static Store& store(Database& database) { return *database.store_; }
};

// The Store a Database forwards to.
inline Store& storeOf(Database& database) { return DatabaseAccess::store(database); }

}  // namespace settee::db
