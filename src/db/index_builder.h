// index_builder.h — builds json indexes in the background: the rows of documents older than an index
// (Store::updateIndex) are written by a thread of the database's own, so the first query that uses a
// new index (created, replicated, or still pending when the file was closed) need not build them.
//
// One IndexBuilder per Database, owned by it. Its worker thread starts when a committed write
// registered an index (a design document write; the Store's change listener asks
// Store::takeIndexRegistered(), which costs an atomic read, so other writes pay nothing), or at
// construction when the file holds indexes still building (a node closed mid-build). The worker builds
// every index with a backlog, chunk by chunk (each chunk holds the store's lock alone, so writers and
// readers go on in between), then ends. A query with update=true may build the same index meanwhile:
// both write exact rows, the second finds less (or nothing) left to do.
//
// Contract:
// - A build error ends the worker quietly: the next query that uses the index runs updateIndex itself
//   and reports the error.
// - The destructor stops the worker between two chunks and waits for it, so closing a database in the
//   middle of a build costs at most one chunk; the rest is built after the next open.
#pragma once

#include <memory>

namespace settee::db {

class Store;

class IndexBuilder {
 public:
  // `store` must outlive this object.
  explicit IndexBuilder(Store& store);
  ~IndexBuilder();
  IndexBuilder(const IndexBuilder&) = delete;
  IndexBuilder& operator=(const IndexBuilder&) = delete;

  struct Core;  // shared with the change listener, which may run after the builder is gone

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace settee::db
