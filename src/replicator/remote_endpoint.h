// replicator/remote_endpoint.h — a database at a URL (CouchDB, pouchdb-server, Settee) as a
// replication endpoint, over the HTTP client.
#pragma once

#include <memory>

#include "replicator/endpoint.h"

namespace settee::repl {

Result<std::unique_ptr<Endpoint>> makeRemoteEndpoint(const std::string& url, const EndpointOptions& options);

}  // namespace settee::repl
