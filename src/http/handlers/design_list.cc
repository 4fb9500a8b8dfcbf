// GET|POST /{db}/_design/{ddoc}/_list/{func}/{view} and .../_list/{func}/{other ddoc}/{view}.
//
// Until the node answers _view over HTTP, a list has no rows to run over: the routes check what CouchDB
// checks first (the design document, its list function — 404 "missing json key: <name>" — and the
// view's design document) and then answer CouchDB's error for a view it cannot find, 404 not_found
// "missing_named_view". The paths are routed here, not to the attachment handler, and answer CouchDB's
// list_error "Invalid path." when they are too short or too long.
#include <simdjson.h>

#include "db/view_index.h"
#include "http/handlers/design_render.h"
#include "http/handlers/handlers.h"

namespace settee::http {
namespace {

Response listError(std::string_view reason) { return Response::error(404, "list_error", reason); }

Response runList(Call& call) {
  auto ddoc = detail::openDesignDoc(call, call.params["ddoc"]);
  if (!ddoc) return errorResponse(ddoc.status());
  if (Status st = detail::requireFunction(*ddoc, "lists", call.params["func"]); !st) return errorResponse(st);
  const std::string* other = call.params.get("vddoc");
  auto viewDdoc = other ? detail::openDesignDoc(call, *other) : Result<DesignDocCopy>(*ddoc);
  if (!viewDdoc) return errorResponse(viewDdoc.status());
  auto spec = db::parseViewGroup(viewDdoc->id, viewDdoc->json);
  if (!spec) return errorResponse(spec.status());
  return errorResponse(notFound("missing_named_view"));
}

Response invalidPath(Call&) { return listError("Invalid path."); }

}  // namespace

void registerListRoutes(Api& api) {
  for (const char* pattern :
       {"/{db}/_design/{ddoc}/_list/{func}/{view}", "/{db}/_design/{ddoc}/_list/{func}/{vddoc}/{view}"}) {
    api.sync("GET", pattern, Access::Reader, runList);
    api.sync("POST", pattern, Access::Reader, runList);
  }
  // Paths too short or too long for a list, as CouchDB answers them.
  for (const char* pattern : {"/{db}/_design/{ddoc}/_list", "/{db}/_design/{ddoc}/_list/{func}",
                              "/{db}/_design/{ddoc}/_list/{func}/{vddoc}/{view}/{rest...}"}) {
    api.sync("GET", pattern, Access::Reader, invalidPath, Cost::Quick);
    api.sync("POST", pattern, Access::Reader, invalidPath, Cost::Quick);
  }
}

}  // namespace settee::http
