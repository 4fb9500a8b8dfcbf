// Render endpoints of design documents: _show and _update (here), _list (design_list.cc) and _rewrite
// (design_rewrite.cc). Each opens the design document, checks that it holds the function as CouchDB
// does (404 "missing json key: ..." otherwise), builds the request object and asks the query server
// pool; the function's response object becomes the HTTP answer (design_render.h).
//
// Every route is a sync handler: the query server is asked from libuv's thread pool, never from a loop
// thread, and a runaway function costs that request its os_process_timeout, not the node.
#include <simdjson.h>

#include "http/design_functions.h"
#include "http/handlers/design_render.h"
#include "http/handlers/design_rewrite.h"
#include "http/handlers/document_internal.h"
#include "http/handlers/handlers.h"
#include "http/system_dbs.h"

namespace settee::http {
namespace {

using detail::externalResponse;
using detail::openDesignDoc;
using detail::renderError;
using detail::renderRequestJson;
using detail::requireFunction;

std::string revOf(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view rev;
  if (parser.parse(json.data(), json.size()).get(root) || root["_rev"].get(rev)) return {};
  return std::string(rev);
}

// What a show's answer depends on, as CouchDB's show_etag: the design document's and the document's
// revisions, the Accept header and who asks.
std::string showEtag(const Call& call, const std::string& ddocRev, const std::string& docRev) {
  std::string parts = ddocRev + '\0' + docRev + '\0';
  if (const std::string* accept = call.req.header("Accept")) parts += *accept;
  parts += '\0' + call.user.name;
  for (const auto& role : call.user.roles) parts += '\0' + role;
  return detail::etagOf(parts);
}

Status needQueryServer(const Call& call) {
  if (call.svc->design) return Status::ok();
  return Status(ErrorCode::Internal, "this node runs no JavaScript query server", "os_process_error");
}

// The document a show or update function is given: the one the path names with its _conflicts, or "null"
// when the path names none or it does not exist.
Result<std::string> targetDoc(Call& call, const std::string* docId) {
  if (!docId) return std::string("null");
  ReadOptions read;
  read.conflicts = true;
  auto got = call.db->get(*docId, read);
  if (got || got.status().code() != ErrorCode::NotFound) return got;
  return std::string("null");
}

// GET/POST /{db}/_design/{ddoc}/_show/{func}[/{docid}]: the show function over the document (null when
// there is none or it does not exist; a function that then fails is a 404 "document not found").
Response show(Call& call) {
  if (Status st = needQueryServer(call); !st) return errorResponse(st);
  auto ddoc = openDesignDoc(call, call.params["ddoc"]);
  if (!ddoc) return errorResponse(ddoc.status());
  const std::string& func = call.params["func"];
  if (Status st = requireFunction(*ddoc, "shows", func); !st) return errorResponse(st);
  const std::string* docId = call.params.get("docid");
  auto target = targetDoc(call, docId);
  if (!target) return errorResponse(target.status());
  std::string doc = std::move(*target);
  std::string etag = showEtag(call, revOf(ddoc->json), doc == "null" ? std::string() : revOf(doc));
  if (const std::string* match = call.req.header("If-None-Match"); match && trimWhitespace(*match) == etag) {
    Response r;
    r.status = 304;
    r.setHeader("ETag", etag);
    return r;
  }
  auto req = renderRequestJson(call, docId ? std::optional<std::string_view>(*docId) : std::nullopt);
  if (!req) return errorResponse(req.status());
  auto resp = call.svc->design->pool().show({ddoc->id, ddoc->json}, func, doc, *req);
  if (!resp) return renderError(resp.status());
  return externalResponse(*resp, {{"ETag", etag}, {"Vary", "Accept"}});
}

// POST/PUT /{db}/_design/{ddoc}/_update/{func}[/{docid}]: the update function over the document (null
// when absent); the document it returns is written as a PUT would write it (access, validate_doc_update,
// conflicts), answered 201 with X-Couch-Id and X-Couch-Update-NewRev; without one, 200.
Response update(Call& call) {
  if (Status st = needQueryServer(call); !st) return errorResponse(st);
  auto ddoc = openDesignDoc(call, call.params["ddoc"]);
  if (!ddoc) return errorResponse(ddoc.status());
  const std::string& func = call.params["func"];
  if (Status st = requireFunction(*ddoc, "updates", func); !st) return errorResponse(st);
  const std::string* docId = call.params.get("docid");
  auto target = targetDoc(call, docId);
  if (!target) return errorResponse(target.status());
  std::string doc = std::move(*target);
  auto req = renderRequestJson(call, docId ? std::optional<std::string_view>(*docId) : std::nullopt);
  if (!req) return errorResponse(req.status());
  auto up = call.svc->design->pool().update({ddoc->id, ddoc->json}, func, doc, *req);
  if (!up) return renderError(up.status());
  simdjson::dom::parser parser;
  simdjson::dom::object newDoc;
  if (parser.parse(up->doc).get(newDoc)) return externalResponse(up->response, {}, 200);
  std::string_view id;
  if (newDoc["_id"].get(id) || id.empty())
    return errorResponse(Status(ErrorCode::IllegalDocId, "Document id must not be empty"));
  std::string docIdWritten(id);
  if (Status st = detail::checkDocWriteAccess(call, docIdWritten); !st) return errorResponse(st);
  auto body = systemDocBody(call, std::move(up->doc));
  if (!body) return errorResponse(body.status());
  if (Status st = validateWrite(call, docIdWritten, *body); !st) return errorResponse(st);
  auto written = call.db->put(*body, {.id = docIdWritten});
  if (!written) return errorResponse(written.status());
  return externalResponse(
      up->response, {{"X-Couch-Update-NewRev", written->rev}, {"X-Couch-Id", detail::urlEncode(written->id)}},
      201);
}

// _show and _update without a function name, as CouchDB answers them.
Response showWithoutName(Call&) { return Response::error(404, "show_error", "Invalid path."); }
Response updateWithoutName(Call&) { return Response::error(404, "update_error", "Invalid path."); }

}  // namespace

void registerDesignRoutes(Api& api) {
  for (const char* method : {"GET", "POST"})
    api.sync(method, "/{db}/_design/{ddoc}/_show", Access::Reader, showWithoutName, Cost::Quick);
  for (const char* method : {"GET", "POST", "PUT", "DELETE"})
    api.sync(method, "/{db}/_design/{ddoc}/_update", Access::Reader, updateWithoutName, Cost::Quick);
  for (const char* pattern :
       {"/{db}/_design/{ddoc}/_show/{func}", "/{db}/_design/{ddoc}/_show/{func}/{docid...}"}) {
    api.sync("GET", pattern, Access::Reader, show);
    api.sync("POST", pattern, Access::Reader, show);
  }
  // CouchDB hands every method to the update function's query server, which refuses GET itself
  // (500 method_not_allowed "Update functions do not allow GET").
  for (const char* pattern :
       {"/{db}/_design/{ddoc}/_update/{func}", "/{db}/_design/{ddoc}/_update/{func}/{docid...}"}) {
    for (const char* method : {"GET", "POST", "PUT", "DELETE"})
      api.sync(method, pattern, Access::Reader, update);
  }
  registerRewriteRoutes(api);
  registerListRoutes(api);
}

}  // namespace settee::http
