// GET|POST /{db}/_design/{ddoc}/_list/{func}/{view} and .../_list/{func}/{other
// ddoc}/{view}: a list function over a view's answer, as CouchDB's chttpd_show
// and couch_mrview_show run it. The view is queried with every option of _view
// (view_internal.h, so keys, reduce, include_docs... behave alike); a list may
// also read /{db}/_all_docs as the view "_all_docs". The function gets the head
// ({total_rows, offset[, update_seq]}, or {} for reduced rows) and the request,
// then the rows one at a time as it asks for them with getRow().
//
// The answer is assembled before it is sent (CouchDB streams it chunked): its
// code and headers are the ones in force when the first non-empty chunk was
// written, as CouchDB starts its response then; an error after that chunk ends
// the body with CouchDB's "\n{code, error, reason}\n" line. A list that writes
// nothing is a bare 200, as CouchDB's last_chunk answers it.
#include <simdjson.h>

#include "http/design_functions.h"
#include "http/handlers/all_docs_internal.h"
#include "http/handlers/design_render.h"
#include "http/handlers/handlers.h"
#include "http/handlers/view_internal.h"

namespace settee::http {
namespace {

using detail::externalResponse;
using detail::renderError;

Response listError(std::string_view reason) { return Response::error(404, "list_error", reason); }

// The view's whole answer, parsed: the head the list function gets and each row
// as minified JSON.
struct ViewRows {
  std::string head;
  std::vector<std::string> rows;
};

// The whole answer of GET|POST .../_view/{view} (or /{db}/_all_docs, which
// CouchDB lets a list read as the view "_all_docs") for the call's query
// options.
Result<std::string> viewAnswerText(Call &call, const std::string &ddoc, const std::string &view,
                                   std::string &signature) {
  const bool post = call.req.method == "POST";
  std::string text;
  if (view == "_all_docs") {
    auto q = detail::parseAllDocsRequest(call.req, post);
    if (!q) return q.status();
    signature = "_all_docs";
    detail::AllDocsListing listing(call.db, std::move(*q), detail::DocNamespace::All);
    for (bool done = false; !done;) {
      if (Status st = listing.page(text, done); !st) return st;
    }
    return text;
  }
  auto target = detail::openViewTarget(*call.svc, call.db, ddoc, view);
  if (!target) return target.status();
  auto q = detail::parseViewRequest(call.req, post);
  if (!q) return q.status();
  if (Status st = detail::validateViewQuery(*q, *target); !st) return st;
  signature = target->spec.signature;
  detail::ViewAnswer answer(std::make_shared<detail::ViewTarget>(std::move(*target)), std::move(*q));
  for (bool done = false; !done;) {
    if (Status st = answer.page(text, done); !st) return st;
  }
  return text;
}

Result<ViewRows> readView(Call &call, const std::string &ddoc, const std::string &view,
                          std::string &signature) {
  auto answer = viewAnswerText(call, ddoc, view, signature);
  if (!answer) return answer.status();
  const std::string &text = *answer;
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(text).get(root)) return Status(ErrorCode::Internal, "unreadable view answer");
  ViewRows out;
  out.head = writeJson([&](db::JsonWriter &w) {
    w.StartObject();
    for (const char *member : {"total_rows", "offset", "update_seq"}) {
      simdjson::dom::element value;
      if (root[member].get(value) || value.is_null()) continue;
      db::writeKey(w, member);
      db::writeElement(w, value);
    }
    w.EndObject();
  });
  simdjson::dom::array rows;
  if (!root["rows"].get_array().get(rows))
    for (simdjson::dom::element row : rows) out.rows.push_back(simdjson::minify(row));
  return out;
}

// As CouchDB's list ETag: the view's signature and rows, the list's design
// document, Accept and who asks.
std::string listEtag(const Call &call, const std::string &ddocRev, const std::string &signature,
                     const ViewRows &rows) {
  std::string parts = signature + '\0' + ddocRev + '\0' + rows.head + '\0';
  for (const auto &r : rows.rows) parts += r + '\n';
  if (const std::string *accept = call.req.header("Accept")) parts += *accept;
  parts += '\0' + call.user.name;
  for (const auto &role : call.user.roles) parts += '\0' + role;
  return detail::etagOf(parts);
}

Response runList(Call &call) {
  if (!call.svc->design)
    return errorResponse(
        Status(ErrorCode::Internal, "this node runs no JavaScript query server", "os_process_error"));
  auto ddoc = detail::openDesignDoc(call, call.params["ddoc"]);
  if (!ddoc) return errorResponse(ddoc.status());
  const std::string &func = call.params["func"];
  if (Status st = detail::requireFunction(*ddoc, "lists", func); !st) return errorResponse(st);
  if (call.req.method == "POST") {
    const std::string *type = call.req.header("Content-Type");
    if (!type || trimWhitespace(*type).substr(0, 16) != "application/json")
      return errorResponse(Status(ErrorCode::BadContentType, "Content-Type must be application/json"));
  }
  const std::string *other = call.params.get("vddoc");
  std::string signature;
  auto rows = readView(call, other ? *other : call.params["ddoc"], call.params["view"], signature);
  if (!rows) return errorResponse(rows.status());
  simdjson::dom::parser parser;
  std::string_view ddocRev;
  simdjson::dom::element ddocRoot;
  if (!parser.parse(ddoc->json).get(ddocRoot) && ddocRoot["_rev"].get(ddocRev)) ddocRev = {};
  std::string etag = listEtag(call, std::string(ddocRev), signature, *rows);
  if (const std::string *match = call.req.header("If-None-Match"); match && trimWhitespace(*match) == etag) {
    Response r;
    r.status = 304;
    r.setHeader("ETag", etag);
    return r;
  }
  auto req = detail::renderRequestJson(call, std::nullopt);
  if (!req) return errorResponse(req.status());
  std::vector<std::string_view> views(rows->rows.begin(), rows->rows.end());
  js::ListAnswer answer =
      call.svc->design->pool().list({ddoc->id, ddoc->json}, func, rows->head, *req, views);
  // Nothing came back at all: the function failed before it started its answer.
  if (answer.outputs.empty()) return renderError(answer.status);
  std::string response;  // the response object in force
  std::string body;
  bool started = false;  // a non-empty chunk has been written: code and headers are fixed
  for (const js::ListOutput &out : answer.outputs) {
    if (!started && !out.response.empty()) response = out.response;
    for (const std::string &chunk : out.chunks) {
      if (!chunk.empty()) started = true;
      body += chunk;
    }
  }
  if (!answer.status) {
    Response failed = renderError(answer.status);
    std::string line = "\n" + writeJson([&](db::JsonWriter &w) {
                         w.StartObject();
                         db::writeKey(w, "code");
                         w.Int(failed.status);
                         db::writeKey(w, "error");
                         db::writeString(w, answer.status.error());
                         db::writeKey(w, "reason");
                         db::writeString(w, answer.status.reason());
                         w.EndObject();
                       }) +
                       "\n";
    if (!started) {
      // CouchDB starts the response with the error's code and the list's
      // headers, then the error line.
      Response r = externalResponse(response.empty() ? "{}" : response, {{"ETag", etag}, {"Vary", "Accept"}});
      r.status = failed.status;
      r.body = body + line;
      return r;
    }
    body += line;
  }
  if (!started && answer.status) {
    Response empty;
    empty.status = 200;
    return empty;
  }
  Response r = externalResponse(response.empty() ? "{}" : response, {{"ETag", etag}, {"Vary", "Accept"}});
  r.body = std::move(body);
  return r;
}

Response invalidPath(Call &) { return listError("Invalid path."); }

}  // namespace

void registerListRoutes(Api &api) {
  for (const char *pattern :
       {"/{db}/_design/{ddoc}/_list/{func}/{view}", "/{db}/_design/{ddoc}/_list/{func}/{vddoc}/{view}"}) {
    api.sync("GET", pattern, Access::Reader, runList);
    api.sync("POST", pattern, Access::Reader, runList);
  }
  // Paths too short or too long for a list, as CouchDB answers them.
  for (const char *pattern : {"/{db}/_design/{ddoc}/_list", "/{db}/_design/{ddoc}/_list/{func}",
                              "/{db}/_design/{ddoc}/_list/{func}/{vddoc}/{view}/{rest...}"}) {
    api.sync("GET", pattern, Access::Reader, invalidPath, Cost::Quick);
    api.sync("POST", pattern, Access::Reader, invalidPath, Cost::Quick);
  }
}

}  // namespace settee::http
