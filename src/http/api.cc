#include "http/api.h"

#include <chrono>
#include <cstdio>

#include "db/metrics.h"
#include "http/auth.h"
#include "http/compat.h"
#include "http/system_dbs.h"
#include "http/work.h"

namespace settee::http {

uint64_t nowMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool UserCtx::isAdmin() const {
  for (const auto& r : roles) {
    if (r == "_admin") return true;
  }
  return false;
}

namespace {

// Every answer passes here once (Call::send, Call::end, or a refusal when the head arrived), before it is
// handed to the connection, so a client that has its answer finds it counted in the node's metrics
// (CouchDB's names).
void countRequest(const Call& call) {
  char name[64];
  std::snprintf(name, sizeof name, "couchdb.httpd_request_methods.%s", call.req.method.c_str());
  metrics::count(name);
  std::snprintf(name, sizeof name, "couchdb.httpd_status_codes.%d", call.status);
  metrics::count(name);
  metrics::count("couchdb.httpd.requests");
  metrics::observe("couchdb.request_time", static_cast<double>(nowMicros() - call.startedUs) / 1000.0);
}

void logRequest(const Call& call) {
  const auto config = call.svc->config.snapshot();
  if (config->logLevel != "info" && config->logLevel != "debug") return;
  double ms = static_cast<double>(nowMicros() - call.startedUs) / 1000.0;
  std::fprintf(stderr, "[info] %s %s %s %d %.1fms\n", call.req.peer.c_str(), call.req.method.c_str(),
               call.req.target.c_str(), call.status, ms);
}

void mergeHeaders(Headers& into, const Headers& extra) {
  for (const auto& [k, v] : extra) {
    if (!findHeader(into, k)) into.emplace_back(k, v);
  }
}

// CORS as CouchDB configures it: echo an allowed Origin, allow credentials when configured.
void addCors(Call& call) {
  const auto config = call.svc->config.snapshot();
  const CorsConfig& cors = config->cors;
  const std::string* origin = call.req.header("Origin");
  if (!cors.enabled || !origin) return;
  bool any = false, listed = false;
  for (const auto& o : cors.origins) {
    if (o == "*") any = true;
    if (o == *origin) listed = true;
  }
  if (!any && !listed) return;
  // With credentials the origin must be echoed, never "*".
  call.extraHeaders.emplace_back("Access-Control-Allow-Origin", cors.credentials || listed ? *origin : "*");
  if (cors.credentials) call.extraHeaders.emplace_back("Access-Control-Allow-Credentials", "true");
  call.extraHeaders.emplace_back("Access-Control-Expose-Headers",
                                 "content-type, cache-control, accept-ranges, etag, server, x-couch-request-id, "
                                 "x-couch-update-newrev, x-couchdb-body-time");
}

}  // namespace

void Call::send(Response response) {
  // JSONP is decided per answer, as CouchDB decides it per send_json; a refused callback is the answer.
  if (auto callback = jsonpCallback(req, *svc->config.snapshot()); !callback)
    response = errorResponse(callback.status());
  else if (!callback->empty())
    wrapJsonp(response, *callback);
  mergeHeaders(response.headers, extraHeaders);
  status = response.status;
  countRequest(*this);
  res->send(std::move(response));
  logRequest(*this);
}

void Call::start(int code, Headers headers) {
  mergeHeaders(headers, extraHeaders);
  // A streamed JSON answer is wrapped too, its head and tail written around the handler's chunks.
  if (auto callback = jsonpCallback(req, *svc->config.snapshot()); callback && !callback->empty() && jsonpStream(headers))
    jsonp = std::move(*callback);
  status = code;
  res->start(code, std::move(headers));
  if (!jsonp.empty()) res->write(jsonpStart(jsonp));
}

void Call::end() {
  if (!jsonp.empty()) res->write(kJsonpEnd);
  countRequest(*this);
  res->end();
  logRequest(*this);
}

void Api::sync(std::string_view method, std::string_view pattern, Access access, SyncHandler fn, Cost cost,
               BodyKind body) {
  router_.add(method, pattern, std::make_shared<Route>(Route{.access = access, .sync = std::move(fn), .body = body, .cost = cost}));
}

void Api::async(std::string_view method, std::string_view pattern, Access access, AsyncHandler fn, Cost cost) {
  router_.add(method, pattern,
              std::make_shared<Route>(Route{.access = access, .async = std::move(fn), .cost = cost}));
}

void Api::staged(std::string_view method, std::string_view pattern, Access access, StagedHandler fn,
                 Cost cost) {
  router_.add(method, pattern,
              std::make_shared<Route>(Route{.access = access, .cost = cost, .staged = std::move(fn)}));
}

void Api::streamed(std::string_view method, std::string_view pattern, Access access, BodyFactory body,
                   SyncHandler fn, BodyKind kind, Cost cost) {
  router_.add(method, pattern,
              std::make_shared<Route>(Route{.access = access, .sync = std::move(fn), .body = kind, .streamBody = std::move(body), .cost = cost}));
}

namespace {

// A password check costs a PBKDF2 of CouchDB's 600,000 iterations: a request that may need one is slow
// work, whatever its route, so a flood of logins cannot take the threads quick requests need.
bool mayHashPassword(const Request& req, Auth& auth) {
  if (req.method == "POST" && req.segments.size() == 1 && req.segments[0] == "_session") return true;
  // A user document written with a password is hashed before it is stored.
  if ((req.method == "PUT" || req.method == "POST") && !req.segments.empty() && req.segments[0] == "_users")
    return true;
  const std::string* authorization = req.header("Authorization");
  return authorization && authorization->rfind("Basic ", 0) == 0 && !auth.knownCredentials(req);
}

}  // namespace

void Api::offLoop(const std::shared_ptr<Call>& call, const Route& route, std::function<void()> work,
                  std::function<void()> done) {
  // The call's own Services: those of the loop its connection is on.
  Services& svc = *call->svc;
  if (route.cost == Cost::Quick && !mayHashPassword(call->req, *svc.auth)) {
    runOffLoop(svc.loop, std::move(work), std::move(done));
    return;
  }
  // Slow work waits its turn at the gate; a request whose client has gone meanwhile is dropped without
  // doing it. (While its head is being checked there is no Responder yet: nothing to ask.)
  svc.slowWork->run([call] { return !call->res || !call->closed(); }, std::move(work), std::move(done));
}

std::optional<Response> Api::prepare(Call& call, const Route& route) {
  auto who = svc_.auth->authenticate(call.req);
  if (!who) return errorResponse(who.status());
  if (*who) call.user = std::move(**who);
  // [chttpd] require_valid_user: no anonymous request at all, whatever the route (but /_up, if so told).
  else if (auto config = svc_.config.snapshot();
           config->requireValidUser ||
           (config->requireValidUserExceptForUp && !(call.req.segments.size() == 1 && call.req.segments[0] == "_up")))
    return errorResponse(Status(ErrorCode::Unauthorized, "Authentication required."));
  if (svc_.auth->adminParty()) call.user.roles.push_back("_admin");

  const std::string* db = call.params.get("db");
  bool creating = call.req.method == "PUT" && call.req.segments.size() == 1;
  if (db && !creating) {
    call.dbName = *db;
    auto opened = svc_.data->open(*db);
    if (!opened) return errorResponse(opened.status());
    call.db = std::move(*opened);
  }
  if (Status st = svc_.auth->authorize(call.user, call.db.get(), route.access); !st) return errorResponse(st);
  return systemDbGate(call);
}

namespace {

bool isPreflight(const Call& call) {
  return call.req.method == "OPTIONS" && call.svc->config->cors.enabled && call.req.header("Origin");
}

Response preflight(const Call& call) {
  Response r;
  r.status = 204;
  r.setHeader("Access-Control-Allow-Methods", call.svc->config->cors.methods);
  r.setHeader("Access-Control-Allow-Headers", call.svc->config->cors.headers);
  r.setHeader("Access-Control-Max-Age", "600");
  return r;
}

bool isMultipartRelated(const Request& req) {
  const std::string* type = req.header("Content-Type");
  if (!type) return false;
  std::string_view t = trimWhitespace(*type);
  constexpr std::string_view kRelated = "multipart/related";
  return t.size() >= kRelated.size() && equalsIgnoreCase(t.substr(0, kRelated.size()), kRelated);
}

// A request whose whole body is small and declared up front: no body, or a Content-Length of at most
// what a connection reads ahead while a head is being decided (kBusyInputLimit in connection.cc), sent
// as is (no chunks, no encoding to inflate) and without Expect: 100-continue, whose client waits to be
// accepted before it sends a byte.
bool smallBody(const Request& head) {
  constexpr size_t kSmallBody = 64 * 1024;
  if (head.header("Transfer-Encoding") || head.header("Content-Encoding") || head.header("Expect"))
    return false;
  const std::string* length = head.header("Content-Length");
  if (!length) return true;
  if (length->empty() || length->size() > 9) return false;
  size_t n = 0;
  for (char c : *length) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n <= kSmallBody;
}

}  // namespace

std::optional<Response> Api::match(Call& call, std::shared_ptr<Route>& route) {
  auto found = router_.match(call.req.method, call.req.segments);
  if (found.outcome == RouteOutcome::NotFound) return errorResponse(404, "not_found", "missing");
  if (found.outcome == RouteOutcome::MethodNotAllowed) {
    std::string allowed;
    for (const auto& m : found.allowed) allowed += (allowed.empty() ? "" : ",") + m;
    Response r = errorResponse(405, "method_not_allowed", "Only " + allowed + " allowed");
    r.setHeader("Allow", allowed);
    return r;
  }
  call.params = std::move(found.params);
  route = *found.handler;
  return std::nullopt;
}

HeadDecision Api::bodyPlan(Call& call, const Route& route) const {
  HeadDecision plan;
  if (route.streamBody) call.body = route.streamBody(call);
  if (call.body) {
    plan.sink = call.body;
    return plan;
  }
  if (route.body == BodyKind::Document && !isMultipartRelated(call.req)) {
    // CouchDB counts max_document_size on the document without its attachments; a JSON body is that.
    plan.maxBodySize = svc_.config->maxDocumentSize;
    plan.tooLargeReason = "Document exceeds max_document_size";
  }
  return plan;
}

void Api::head(const Request& head, std::function<void(HeadDecision)> decide) {
  this->head(svc_, head, std::move(decide));
}

void Api::handle(Request&& request, std::shared_ptr<Responder> responder) {
  handle(svc_, std::move(request), std::move(responder));
}

void Api::head(Services& loop, const Request& head, std::function<void(HeadDecision)> decide) {
  auto call = std::make_shared<Call>();
  call->req = head;
  applyMethodOverride(call->req);
  call->svc = &loop;
  call->startedUs = nowMicros();
  addCors(*call);
  // Refused with the response as the Server sends it, so CORS headers and the log line are added here.
  auto refuse = [call](Response response) {
    mergeHeaders(response.headers, call->extraHeaders);
    call->status = response.status;
    countRequest(*call);
    logRequest(*call);
    HeadDecision refused;
    refused.reject = std::move(response);
    return refused;
  };
  if (isPreflight(*call)) {
    decide(HeadDecision{});  // answered by handle(), which has nothing to prepare
    return;
  }
  std::shared_ptr<Route> route;
  if (auto missing = match(*call, route)) {
    decide(refuse(std::move(*missing)));
    return;
  }
  if (smallBody(head) && !route->streamBody) {
    // Accepted now and prepared with its handler in one trip off the loop once the body is in: a body
    // this small is read into the connection's input while any head is decided anyway, so checking the
    // caller first would save no reading, and costs a second trip through the thread pool.
    HeadDecision plan = bodyPlan(*call, *route);
    plan.context = std::make_shared<Prepared>(Prepared{call, route, false});
    decide(std::move(plan));
    return;
  }
  auto refused = std::make_shared<std::optional<Response>>();
  offLoop(
      call, *route,
      [this, call, route, refused] {
        try {
          *refused = prepare(*call, *route);
        } catch (const std::exception& e) {
          *refused = errorResponse(500, "internal_server_error", e.what());
        }
      },
      [this, call, route, refused, refuse, decide = std::move(decide)] {
        if (*refused) {
          decide(refuse(std::move(**refused)));
          return;
        }
        HeadDecision plan = bodyPlan(*call, *route);
        plan.context = std::make_shared<Prepared>(Prepared{call, route, true});
        decide(std::move(plan));
      });
}

void Api::run(std::shared_ptr<Call> call, std::shared_ptr<Route> route) {
  if (call->body) {
    // The callback holds the Call (and so the body) only until it runs.
    call->body->finish([this, call, route] { runHandler(call, route); });
    return;
  }
  runHandler(std::move(call), std::move(route));
}

void Api::runHandler(std::shared_ptr<Call> call, std::shared_ptr<Route> route) {
  if (route->staged) {
    auto then = std::make_shared<AsyncHandler>();
    auto failed = std::make_shared<std::optional<Response>>();
    offLoop(
        call, *route,
        [call, route, then, failed] {
          try {
            *then = route->staged(*call);
          } catch (const std::exception& e) {
            *failed = errorResponse(500, "internal_server_error", e.what());
          }
        },
        [call, then, failed] {
          if (*failed) {
            call->send(std::move(**failed));
          } else if (*then) {
            (*then)(call);
          }
        });
    return;
  }
  if (!route->sync) {
    route->async(std::move(call));
    return;
  }
  auto response = std::make_shared<std::optional<Response>>();
  offLoop(
      call, *route,
      [call, route, response] {
        try {
          *response = route->sync(*call);
        } catch (const std::exception& e) {
          *response = errorResponse(500, "internal_server_error", e.what());
        }
      },
      [call, response] {
        if (*response) call->send(std::move(**response));  // none when the client left before it ran
      });
}

void Api::handle(Services& loop, Request&& request, std::shared_ptr<Responder> responder) {
  if (request.context) {
    // Accepted when its head arrived; only the body is new.
    auto prepared = std::static_pointer_cast<Prepared>(request.context);
    prepared->call->req.body = std::move(request.body);
    prepared->call->res = std::move(responder);
    if (prepared->checked) {
      run(prepared->call, prepared->route);
    } else {
      prepareAndRun(prepared->call, prepared->route);
    }
    return;
  }
  auto call = std::make_shared<Call>();
  call->req = std::move(request);
  applyMethodOverride(call->req);
  call->res = std::move(responder);
  call->svc = &loop;
  call->startedUs = nowMicros();
  addCors(*call);

  if (isPreflight(*call)) {
    call->send(preflight(*call));
    return;
  }
  std::shared_ptr<Route> route;
  if (auto missing = match(*call, route)) {
    call->send(std::move(*missing));
    return;
  }
  prepareAndRun(std::move(call), std::move(route));
}

void Api::prepareAndRun(std::shared_ptr<Call> call, std::shared_ptr<Route> route) {
  // A sync or staged route without a streamed body runs its handler's work in the same trip off the loop
  // as the checks: one hand-over to the pool and back per request instead of two.
  const bool together = (route->sync || route->staged) && !call->body;
  auto response = std::make_shared<std::optional<Response>>();
  auto then = std::make_shared<AsyncHandler>();
  offLoop(
      call, *route,
      [this, call, route, response, then, together] {
        try {
          *response = prepare(*call, *route);
          if (*response || !together) return;
          if (route->sync) {
            *response = route->sync(*call);
          } else {
            *then = route->staged(*call);
          }
        } catch (const std::exception& e) {
          *response = errorResponse(500, "internal_server_error", e.what());
        }
      },
      [this, call, route, response, then, together] {
        if (call->closed()) return;  // the client left: its work was skipped or its answer has nowhere to go
        if (*response) {
          call->send(std::move(**response));
        } else if (*then) {
          (*then)(call);
        } else if (!together) {
          run(call, route);
        }
        // Otherwise a handler ran and its client left before its work was done: nothing to send.
      });
}

}  // namespace settee::http
