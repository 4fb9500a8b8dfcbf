// replicator/replication_spec.h — a replication as a POST /_replicate body or a `_replicator` document
// describes it, read with the rights of the user who asked for it (CouchDB's user_ctx).
//
// parseSpec checks the fields (CouchDB's names and types), opens local databases and refuses at once a
// local database the user may not read, or a target they would have to create without being a server
// admin; every later read and write of a local database is checked again through the peer's LocalAccess,
// so a security object changed while the replication runs takes effect. Remote peers are URLs whose own
// credentials decide what the peer allows. Runs on any thread; keeps no state.
#pragma once

#include <simdjson.h>

#include <string>

#include "http/api.h"
#include "http/auth.h"
#include "settee/replicator.h"

namespace settee::repl {

// Who may run replications that touch this node's databases, and with which rights.
struct Requester {
  http::Auth& auth;
  http::UserCtx user;
};

// A replication as a request or a `_replicator` document describes it.
struct Spec {
  ReplicationPeer source, target;
  ReplicationOptions options;
  std::string sourceDesc, targetDesc;
  bool cancel = false;
};

// Reads the options of a replication from `body` (continuous, create_target, filter, selector,
// query_params, since_seq, worker_processes, worker_batch_size, connection_timeout, retries_per_request,
// checkpoint_interval, http_connections, use_checkpoints, doc_ids; other members are left for the caller),
// over what `options` holds; bad_request naming the field when a field is wrong. The C API reads its
// replication options with it too.
Status parseOptions(simdjson::dom::element body, ReplicationOptions& options);

// Reads `body`; bad_request naming the field when a field is wrong, forbidden/unauthorized when the user
// may not touch a local database it names.
Result<Spec> parseSpec(simdjson::dom::element body, DataDir& data, const Requester& who);

}  // namespace settee::repl
