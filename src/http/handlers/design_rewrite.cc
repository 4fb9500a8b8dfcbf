// /{db}/_design/{ddoc}/_rewrite/{path...}: the design document's `rewrites` turns the request into
// another request of this node, which is then answered as if the client had sent it (authentication and
// access are checked again for the new path), or answers it directly ({code, body, headers}).
//
// `rewrites` as a JavaScript function (CouchDB 2.0+) runs in the query server; as an array of rules
// (deprecated since CouchDB 3.0) it is matched here (design_rewrite_rules.cc). The rewrite function's
// work runs off the loop; the new request is handed back to the Api on the loop thread.
#include "http/handlers/design_rewrite.h"

#include <simdjson.h>

#include <cctype>
#include <cstdlib>

#include "http/handlers/design_render.h"
#include "http/handlers/handlers.h"

namespace settee::http {
namespace {

using detail::renderError;

// CouchDB's [httpd] rewrite_limit: a rewrite that leads to a rewrite, and so on, stops here.
constexpr int kRewriteLimit = 100;
// How many rewrites led to this request; carried on the request rewritten, as CouchDB carries it in the
// request's process.
constexpr std::string_view kDepthHeader = "X-Settee-Rewrite-Depth";

Response rewriteError(std::string_view reason, int status = 404) {
  return Response::error(status, "rewrite_error", reason);
}

using detail::quotePlus;
using detail::Rewritten;

// The new request a rewrite object {path, query, method, headers, body} makes of `call`'s, or the
// direct answer of one with a `code`.
Result<Rewritten> applyRewrite(const Call& call, std::string_view rewriteJson) {
  simdjson::dom::parser parser;
  simdjson::dom::object r;
  if (parser.parse(rewriteJson).get(r)) return Status(ErrorCode::Internal, "bad rewrite", "rewrite_error");
  Rewritten out;
  simdjson::dom::element code;
  if (!r["code"].get(code)) {
    int64_t status = 0;
    if (code.get_int64().get(status) || status < 100 || status > 599)
      return Status(ErrorCode::Internal, "bad rewrite", "rewrite_error");
    Response answer;
    answer.status = static_cast<int>(status);
    simdjson::dom::object headers;
    if (!r["headers"].get_object().get(headers)) {
      for (auto h : headers) {
        std::string_view v;
        answer.headers.emplace_back(std::string(h.key),
                                    h.value.get_string().get(v) ? simdjson::minify(h.value) : std::string(v));
      }
    }
    std::string_view body;
    if (!r["body"].get_string().get(body))
      answer.body.assign(body);
    else
      answer.body = call.req.body;
    out.answer = std::move(answer);
    return out;
  }
  std::string_view path;
  if (r["path"].get_string().get(path))
    return Status(ErrorCode::Internal, "Rewrite result must produce a new path.", "rewrite_error");
  Request req;
  std::string_view method = call.req.method;
  if (!r["method"].get_string().get(method) && method.empty())
    return Status(ErrorCode::Internal, "bad rewrite", "rewrite_error");
  req.method.assign(method);
  std::string query;
  simdjson::dom::object q;
  if (!r["query"].get_object().get(q)) {
    for (auto kv : q) {
      std::string_view v;
      std::string value = kv.value.get_string().get(v) ? simdjson::minify(kv.value) : std::string(v);
      if (!query.empty()) query += '&';
      query += quotePlus(kv.key) + "=" + quotePlus(value);
    }
  } else {
    for (const auto& [k, v] : call.req.query) {
      if (!query.empty()) query += '&';
      query += quotePlus(k) + "=" + quotePlus(v);
    }
  }
  std::string target = detail::rewriteTarget(call, path);
  if (!query.empty()) target += (target.find('?') == std::string::npos ? "?" : "&") + query;
  req.headers = call.req.headers;
  simdjson::dom::object headers;
  if (!r["headers"].get_object().get(headers)) {
    for (auto h : headers) {
      std::string_view v;
      std::string value = h.value.get_string().get(v) ? simdjson::minify(h.value) : std::string(v);
      std::erase_if(req.headers, [&](const auto& p) { return equalsIgnoreCase(p.first, h.key); });
      req.headers.emplace_back(std::string(h.key), std::move(value));
    }
  }
  std::string_view body;
  if (!r["body"].get_string().get(body))
    req.body.assign(body);
  else
    req.body = call.req.body;
  if (!parseTarget(target, req)) return badRequest("Invalid rewrite target");
  out.request = std::move(req);
  return out;
}

// The rewrites count of this request, or an error past the limit.
Result<int> rewriteDepth(const Request& req) {
  int depth = 0;
  for (const auto& [name, value] : req.headers)
    if (equalsIgnoreCase(name, kDepthHeader)) depth = std::atoi(value.c_str());
  if (depth >= kRewriteLimit) return badRequest("Exceeded rewrite recursion limit");
  return depth;
}

AsyncHandler answerWith(Response r) {
  return [r = std::move(r)](std::shared_ptr<Call> call) mutable { call->send(std::move(r)); };
}

StagedHandler rewriteHandler(Api& api) {
  return [&api](Call& call) -> AsyncHandler {
    auto depth = rewriteDepth(call.req);
    if (!depth) return answerWith(errorResponse(depth.status()));
    auto ddoc = detail::openDesignDoc(call, call.params["ddoc"]);
    if (!ddoc) return answerWith(errorResponse(ddoc.status()));
    simdjson::dom::parser parser;
    simdjson::dom::element root, rules;
    if (parser.parse(ddoc->json).get(root) || root["rewrites"].get(rules))
      return answerWith(rewriteError("Invalid path."));
    Result<Rewritten> rewritten = Status::ok();
    if (rules.is_string()) {
      if (!call.svc->design)
        return answerWith(errorResponse(
            Status(ErrorCode::Internal, "this node runs no JavaScript query server", "os_process_error")));
      auto req = detail::renderRequestJson(call, std::nullopt, detail::RequestFields::ForRewrite);
      if (!req) return answerWith(errorResponse(req.status()));
      auto answer = call.svc->design->pool().rewrite({ddoc->id, ddoc->json}, *req);
      if (!answer) return answerWith(renderError(answer.status()));
      if (answer->empty()) return answerWith(rewriteError("Invalid path."));
      rewritten = applyRewrite(call, *answer);
    } else if (rules.is_array()) {
      rewritten = detail::applyRewriteRules(call, rules);
    } else {
      return answerWith(rewriteError("Invalid path."));
    }
    if (!rewritten) {
      const Status& st = rewritten.status();
      if (std::string_view(st.error()) == "rewrite_error")
        return answerWith(Response::error(500, "rewrite_error", st.reason()));
      return answerWith(errorResponse(st));
    }
    if (rewritten->answer) return answerWith(std::move(*rewritten->answer));
    Request next = std::move(*rewritten->request);
    std::erase_if(next.headers, [](const auto& p) { return equalsIgnoreCase(p.first, kDepthHeader); });
    next.headers.emplace_back(std::string(kDepthHeader), std::to_string(*depth + 1));
    next.peer = call.req.peer;
    next.httpMinor = call.req.httpMinor;
    return [&api, next = std::move(next)](std::shared_ptr<Call> call) mutable {
      // The rewritten request is answered on the same connection, as a request of its own.
      api.handle(*call->svc, std::move(next), call->res);
    };
  };
}

}  // namespace

std::string detail::quotePlus(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string detail::rewriteTarget(const Call& call, std::string_view path) {
  // Relative to the design document, then "." and ".." resolved: "../../doc" from
  // /db/_design/app is /db/doc, and three levels up reach the node's root.
  std::string_view query;
  if (size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q);
    path = path.substr(0, q);
  }
  std::string full = "/" + urlEncode(call.dbName) + "/_design/" + urlEncode(call.params["ddoc"]) + "/";
  full += path;
  std::vector<std::string_view> kept;
  std::string_view rest = full;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view s = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (s.empty() || s == ".") continue;
    if (s == "..") {
      if (!kept.empty() && kept.back() != "..")
        kept.pop_back();
      else
        kept.push_back(s);
      continue;
    }
    kept.push_back(s);
  }
  std::string out;
  for (std::string_view s : kept) {
    out += '/';
    out += s;
  }
  if (out.empty()) out = "/";
  return out + std::string(query);
}

void registerRewriteRoutes(Api& api) {
  for (const char* pattern : {"/{db}/_design/{ddoc}/_rewrite", "/{db}/_design/{ddoc}/_rewrite/{path...}"}) {
    for (const char* method : {"GET", "POST", "PUT", "DELETE", "COPY", "HEAD"})
      api.staged(method, pattern, Access::Reader, rewriteHandler(api));
  }
}

}  // namespace settee::http
