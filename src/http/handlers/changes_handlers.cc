// _changes endpoints: GET and POST /{db}/_changes. This file turns the request into ChangesParams (or a
// 400); changes_feed.cc streams the answer and changes_rows.cc reads the rows.
#include <string_view>

#include "http/handlers/changes_feed.h"
#include "http/handlers/handlers.h"

namespace settee::http {
namespace {

using changes::ChangesFilter;
using changes::ChangesParams;
using changes::FeedKind;

// A sequence's leading integer: "12", or an opaque CouchDB string "12-g1AAAA...".
std::optional<uint64_t> leadingInteger(std::string_view s) {
  size_t digits = 0;
  uint64_t n = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
    if (digits == 19) return std::nullopt;  // past uint64's range
    n = n * 10 + static_cast<uint64_t>(s[digits] - '0');
    ++digits;
  }
  if (digits == 0 || (digits < s.size() && s[digits] != '-')) return std::nullopt;
  return n;
}

// `since`: a number, a quoted number, `now`, a CouchDB 1.x-style `[N,"x"]`, or an opaque "N-xxx" string,
// quoted or not. Only the leading integer matters: Settee's own seqs are plain integers.
Status parseSince(std::string_view raw, ChangesParams& p) {
  Status bad = badRequest("Invalid since parameter: " + std::string(raw));
  if (raw == "now") {
    p.sinceNow = true;
    return Status::ok();
  }
  if (!raw.empty() && (raw.front() == '"' || raw.front() == '[')) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    if (parser.parse(raw.data(), raw.size()).get(e)) return bad;
    if (e.is_array()) {
      simdjson::dom::array a = e.get_array().value();
      if (a.size() == 0) return bad;
      e = a.at(0).value();
    }
    uint64_t n = 0;
    if (!e.get(n)) {
      p.since = n;
      return Status::ok();
    }
    std::string_view s;
    if (e.get(s)) return bad;
    if (s == "now") {
      p.sinceNow = true;
      return Status::ok();
    }
    auto v = leadingInteger(s);
    if (!v) return bad;
    p.since = *v;
    return Status::ok();
  }
  auto v = leadingInteger(raw);
  if (!v) return bad;
  p.since = *v;
  return Status::ok();
}

// Milliseconds for heartbeat / timeout, capped at CouchDB's changes_timeout.
Result<uint64_t> millisParam(const Request& req, std::string_view name) {
  auto v = uintParam(req, name, 0);
  if (!v) return v.status();
  return std::min(*v, changes::kDefaultTimeoutMs);
}

Status parseDocIds(simdjson::dom::element list, ChangesFilter& filter) {
  simdjson::dom::array ids;
  if (list.get(ids)) return badRequest("`doc_ids` filter parameter is not a list of doc ids.");
  for (auto id : ids) {
    std::string_view s;
    if (id.get(s)) return badRequest("`doc_ids` filter parameter is not a list of doc ids.");
    filter.docIds.emplace(s);
  }
  return Status::ok();
}

// filter=..., with doc_ids and selector from the POST body (doc_ids may also be a JSON query parameter).
Status parseFilter(const Request& req, std::optional<simdjson::dom::object> body, ChangesFilter& filter) {
  auto name = req.param("filter");
  if (!name || name->empty()) return Status::ok();
  if (*name == "_doc_ids") {
    filter.kind = ChangesFilter::Kind::DocIds;
    simdjson::dom::element list;
    if (body && !(*body)["doc_ids"].get(list)) return parseDocIds(list, filter);
    simdjson::dom::parser parser;
    auto param = jsonParam(req, "doc_ids", parser);
    if (!param) return param.status();
    if (!*param) return badRequest("`doc_ids` filter parameter is not a list of doc ids.");
    return parseDocIds(**param, filter);
  }
  if (*name == "_selector") {
    filter.kind = ChangesFilter::Kind::Selector;
    simdjson::dom::element selector;
    if (!body || (*body)["selector"].get(selector))
      return badRequest("Selector must be specified in POST payload");
    if (!selector.is_object()) return badRequest("Selector error: expected a JSON object");
    auto compiled = db::Selector::parse(selector);
    if (!compiled) return compiled.status();
    filter.selector = std::move(*compiled);
    return Status::ok();
  }
  if (*name == "_design") {
    filter.kind = ChangesFilter::Kind::Design;
    return Status::ok();
  }
  if (*name == "_view") {
    auto view = req.param("view");
    if (!view || view->empty()) return badRequest("`view` filter parameter is not provided.");
    size_t slash = view->find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == view->size())
      return badRequest("`view` must be of the form `designname/viewname`");
    filter.kind = ChangesFilter::Kind::View;
    filter.ddoc = std::string(view->substr(0, slash));
    filter.name = std::string(view->substr(slash + 1));
    return Status::ok();
  }
  size_t slash = name->find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name->size())
    return badRequest("filter parameter must be of the form `designname/filtername`");
  filter.kind = ChangesFilter::Kind::Custom;
  filter.ddoc = std::string(name->substr(0, slash));
  filter.name = std::string(name->substr(slash + 1));
  return Status::ok();
}

Result<ChangesParams> parseParams(const Request& req) {
  ChangesParams p;
  if (auto feed = req.param("feed")) {
    if (*feed == "normal")
      p.feed = FeedKind::Normal;
    else if (*feed == "longpoll")
      p.feed = FeedKind::Longpoll;
    else if (*feed == "continuous" || *feed == "live")
      p.feed = FeedKind::Continuous;
    else if (*feed == "eventsource")
      p.feed = FeedKind::EventSource;
    else
      return badRequest("Invalid feed: " + std::string(*feed));
  }
  if (req.method == "HEAD") p.feed = FeedKind::Normal;  // headers only: nothing to wait for

  // An EventSource that reconnects sends the id of the last event it saw.
  const std::string* lastEventId = req.header("Last-Event-ID");
  if (auto since = req.param("since")) {
    if (Status st = parseSince(*since, p); !st) return st;
  } else if (p.feed == FeedKind::EventSource && lastEventId) {
    if (Status st = parseSince(*lastEventId, p); !st) return st;
  }

  auto limit = uintParam(req, "limit", UINT64_MAX);
  if (!limit) return limit.status();
  p.limit = *limit == 0 ? 1 : *limit;

  if (auto style = req.param("style")) {
    if (*style == "all_docs")
      p.allLeaves = true;
    else if (*style != "main_only")
      return badRequest("Invalid style: " + std::string(*style));
  }

  struct Flag {
    const char* name;
    bool* out;
  };
  for (Flag f : {Flag{"descending", &p.descending}, Flag{"include_docs", &p.includeDocs},
                 Flag{"conflicts", &p.docOptions.conflicts}, Flag{"attachments", &p.docOptions.attachments},
                 Flag{"att_encoding_info", &p.docOptions.attEncodingInfo}}) {
    auto v = boolParam(req, f.name, false);
    if (!v) return v.status();
    *f.out = *v;
  }

  if (auto hb = req.param("heartbeat")) {
    if (*hb == "true") {
      p.heartbeatMs = changes::kDefaultTimeoutMs;
    } else if (*hb != "false") {
      auto ms = millisParam(req, "heartbeat");
      if (!ms) return ms.status();
      p.heartbeatMs = std::max(*ms, changes::kMinHeartbeatMs);
    }
  }
  if (req.param("timeout")) {
    auto ms = millisParam(req, "timeout");
    if (!ms) return ms.status();
    p.timeoutMs = *ms;
  }
  // seq_interval (PouchDB sends it) only thins out CouchDB's opaque seqs; integer seqs cost nothing.
  if (req.param("seq_interval")) {
    auto v = uintParam(req, "seq_interval", 0);
    if (!v) return v.status();
  }

  // The POST body carries doc_ids or a selector.
  simdjson::dom::parser parser;
  std::optional<simdjson::dom::object> body;
  if (req.method == "POST" && !req.body.empty()) {
    auto parsed = jsonBody(req, parser);
    if (!parsed) return parsed.status();
    simdjson::dom::object obj;
    if ((*parsed).get(obj)) return badRequest("Request body must be a JSON object");
    body = obj;
  }
  if (Status st = parseFilter(req, body, p.filter); !st) return st;
  return p;
}

void changesHandler(std::shared_ptr<Call> call) {
  auto params = parseParams(call->req);
  if (!params) return call->send(errorResponse(params.status()));
  auto kind = params->filter.kind;
  if (kind == ChangesFilter::Kind::Custom || kind == ChangesFilter::Kind::View) {
    auto js = std::make_shared<ChangesFilter::JsContext>();
    js->design = call->svc->design;
    js->dbName = call->dbName;
    js->method = call->req.method;
    js->rawPath = call->req.path;
    js->body = call->req.body;
    js->peer = call->req.peer;
    js->userCtx = userCtxJson(call->dbName, call->user.name, call->user.roles, call->user.isAdmin());
    js->query = call->req.query;
    js->headers = call->req.headers;
    params->filter.js = std::move(js);
  }
  changes::startFeed(std::move(call), std::move(*params));
}

}  // namespace

Result<changes::ChangesParams> changes::parseChangesRequest(const Request& req) { return parseParams(req); }

void registerChangesRoutes(Api& api) {
  api.async("GET", "/{db}/_changes", Access::Reader, changesHandler);
  api.async("POST", "/{db}/_changes", Access::Reader, changesHandler);
}

}  // namespace settee::http
