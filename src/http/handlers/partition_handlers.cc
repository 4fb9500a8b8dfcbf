// Partitioned databases, refused as CouchDB 3.4 refuses them when its `partitioned` feature flag is off:
// every database here is unpartitioned, so `/{db}/_partition/...` gives chttpd_db's answers for a database
// that is not partitioned, and `PUT /{db}?partitioned=true` is refused by createDb (database_handlers.cc)
// through partitionedOptionStatus() before anything is created. Never silently ignored: a client that
// asked for partitions must not believe it has them.
#include <string_view>

#include "http/handlers/handlers.h"

namespace settee::http {
namespace {

Response notPartitioned() { return Response::error(400, "bad_request", "database is not partitioned"); }

// couch_partition:validate_partition/1, in its order; empty when `p` is a valid partition name.
std::string_view partitionProblem(std::string_view p) {
  if (p.empty()) return "Partition must not be empty";
  if (p.front() == '_') return "Partition must not start with an underscore";
  if (p.find(':') != std::string_view::npos) return "Partition must not contain a colon";
  return {};
}

// GET /{db}/_partition/{p}: the partition's info on a partitioned database; here, the name is checked
// first (illegal_partition), then the database is found not to be partitioned.
Response partitionInfo(Call& call) {
  if (auto problem = partitionProblem(call.params["partition"]); !problem.empty())
    return Response::error(400, "illegal_partition", problem);
  return notPartitioned();
}

// POST /{db}/_partition/{p}: CouchDB names an underscore partition illegal, and allows only GET otherwise.
Response partitionPost(Call& call) {
  if (call.params["partition"].starts_with("_"))
    return Response::error(400, "illegal_partition", "Partition must not start with an underscore");
  return Response::error(405, "method_not_allowed", "Only GET allowed");
}

}  // namespace

void registerPartitionRoutes(Api& api) {
  for (const char* method : {"GET", "POST", "PUT", "DELETE"}) {
    api.sync(
        method, "/{db}/_partition", Access::Reader,
        [](Call&) { return Response::error(400, "bad_request", "invalid_partition_req"); }, Cost::Quick);
    // `_all_docs`, `_find`, `_explain`, `_design/{ddoc}/_view/...` scoped to a partition.
    api.sync(
        method, "/{db}/_partition/{partition}/{rest...}", Access::Reader,
        [](Call&) { return notPartitioned(); }, Cost::Quick);
  }
  api.sync("GET", "/{db}/_partition/{partition}", Access::Reader, partitionInfo, Cost::Quick);
  api.sync("POST", "/{db}/_partition/{partition}", Access::Reader, partitionPost, Cost::Quick);
}

Status partitionedOptionStatus(const Request& req) {
  auto value = req.param("partitioned");
  if (!value || *value == "false") return Status::ok();
  if (*value == "true") return badRequest("Partitioned feature is not enabled.");
  return badRequest("Invalid `partitioned` parameter");
}

}  // namespace settee::http
