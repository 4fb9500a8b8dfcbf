// http/api.h — what every CouchDB endpoint handler stands on.
//
// A handler family (handlers/*.cc) registers its routes on an Api with `registerXxx(Api&)`. Two kinds:
// - sync: `Response fn(Call&)`, run on libuv's thread pool (SQLite is allowed there), its Response sent
//   back on the loop thread. Most endpoints are this.
// - async: `void fn(std::shared_ptr<Call>)`, run on the loop thread, for answers that wait or stream
//   (longpoll and continuous changes). Such a handler must move any SQLite work off the loop itself
//   (runOffLoop) and answer through call->start/write/end or call->send on the loop thread.
// Before a handler runs, the Api has authenticated the caller, checked its access level, and, for routes
// with a `{db}` capture, opened the database (404 when it does not exist) and checked its _security.
// With the Server's head hook wired to `head()`, all of that happens when the request's head has
// arrived and before any of its body is read: a refused request never makes the node read, hold or
// store its body, and each route's body limit (BodyKind) is enforced as the body arrives. The exception
// is a small body (at most 64 KiB, declared by Content-Length, no Expect): the connection reads that
// much ahead while a head is decided anyway, so such a request is checked together with its handler,
// in one trip through the thread pool instead of two.
// Handlers never parse HTTP framing and never write SQL; errors are Status values turned into CouchDB's
// `{"error","reason"}` by `errorResponse` — the one table that maps a Status to an HTTP status.
#pragma once

#include <simdjson.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/config.h"
#include "http/live_config.h"
#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "settee/database.h"

namespace settee::http {

class Auth;
class DesignFunctions;
class WorkGate;

// The name this node answers to: /_node/{name}/..., /_membership, /_scheduler's and /_active_tasks'
// "node". CouchDB's single node in its own development setup and HTTP test suite is named so, and tools
// written against CouchDB 2+ often name it in their URLs.
inline constexpr std::string_view kNodeName = "node1@127.0.0.1";

// An authenticated caller; no name means anonymous.
struct UserCtx {
  std::string name;
  std::vector<std::string> roles;
  bool isAdmin() const;
};

// What handlers share; owned by the CouchServer, alive as long as the server. With several loops each
// has its own copy, whose `server`, `loop` and `slowWork` are that loop's (a Call's `svc` is the one of
// the loop its connection is on); everything else points to the same, thread-safe, objects.
struct Services {
  DataDir* data = nullptr;
  ConfigView config;  // the configuration in force (live_config.h)
  Auth* auth = nullptr;
  Server* server = nullptr;
  uv_loop_t* loop = nullptr;
  // Long work (slow routes, password hashes, the batches of scans) runs through this gate, so it never
  // holds every thread of the pool (http/work.h).
  WorkGate* slowWork = nullptr;
  std::string uuid;      // this node's uuid, 32 hex characters, stable across restarts
  std::string version = "3.3.3";
  // The JSON array /_active_tasks answers; set by modules that run tasks (the replicator), so http
  // never depends on them. Called on the thread pool.
  std::function<std::string()> activeTasks;
  // What `GET /` lists in `features`: only what this node does, since clients take the list at its
  // word. Modules add theirs as they register their routes (the replicator adds "scheduler"), before
  // the node listens. Shared, not copied: every loop's Services answers the same list, whenever its copy
  // was made.
  std::shared_ptr<std::vector<std::string>> features = std::make_shared<std::vector<std::string>>();
  // The JavaScript of design documents (validate_doc_update, filters; http/design_functions.h), shared
  // by every loop; null runs none (a Services made by a test or a tool that wires no query server).
  std::shared_ptr<DesignFunctions> design;
};

// Who may call a route.
enum class Access {
  Public,       // anyone (/, /_up, /_session)
  Authenticated,  // any user who gave valid credentials (POST /_replicate)
  Reader,       // a member of the database (or anyone when it has no members), or an admin
  DbAdmin,      // an admin of the database or a server admin
  ServerAdmin,  // a server admin
};

// What a route's work costs. Quick routes answer from a bounded amount of work (one document, the
// database's info, the session); everything else is Slow and runs behind the WorkGate, so quick routes
// keep answering however many slow requests are in flight.
enum class Cost { Quick, Slow };

// How a route takes its request body.
enum class BodyKind {
  Request,   // whole, up to max_http_request_size
  Document,  // whole, one JSON document: up to max_document_size (413 as soon as the length is known);
             // a multipart/related body (the document and its attachments) keeps max_http_request_size
};

// The body of a streamed route (Api::streamed), fed by the server as it arrives (see BodySink); `finish`
// calls `done` on the loop thread once everything it was given is where it keeps it, and only then does
// the route's handler run.
class StreamedBody : public BodySink {
 public:
  virtual void finish(std::function<void()> done) = 0;
};

// One request being answered.
struct Call {
  Request req;
  Params params;
  Services* svc = nullptr;
  std::shared_ptr<Database> db;  // for routes with {db}
  std::string dbName;
  UserCtx user;
  Headers extraHeaders;  // CORS and the like, added to whatever the handler answers
  // For a streamed route: its body, as the route's factory made it (then `req.body` is empty).
  std::shared_ptr<StreamedBody> body;

  // Answer (loop thread only). They add extraHeaders and log the request.
  void send(Response response);
  void start(int status, Headers headers = {});
  void write(std::string_view chunk) { res->write(chunk); }
  void end();
  bool closed() const { return res->closed(); }

  std::shared_ptr<Responder> res;
  std::string jsonp;  // the JSONP callback a streamed answer is wrapped in (http/compat.h), if any
  uint64_t startedUs = 0;
  int status = 0;
};

using SyncHandler = std::function<Response(Call&)>;
using AsyncHandler = std::function<void(std::shared_ptr<Call>)>;
// A staged handler: its work runs on the thread pool (as a sync handler's does) and returns what to do
// with the result on the loop thread, where the answer may stream (a document with its attachments).
using StagedHandler = std::function<AsyncHandler(Call&)>;
// Makes the body of a streamed route once the request's head has been accepted (loop thread); null to
// have this request's body held whole instead.
using BodyFactory = std::function<std::shared_ptr<StreamedBody>(const Call&)>;

class Api {
 public:
  explicit Api(Services& services) : svc_(services) {}
  void sync(std::string_view method, std::string_view pattern, Access access, SyncHandler fn,
            Cost cost = Cost::Slow, BodyKind body = BodyKind::Request);
  void async(std::string_view method, std::string_view pattern, Access access, AsyncHandler fn,
             Cost cost = Cost::Slow);
  // A route whose pool work runs in the same trip as the caller's checks, and whose answer is then
  // given on the loop thread by what the work returned (never null).
  void staged(std::string_view method, std::string_view pattern, Access access, StagedHandler fn,
              Cost cost = Cost::Slow);
  // A sync route whose body is not held but handed, as it arrives, to what `body` makes; `fn` runs once
  // all of it has arrived and the body has finished. When the factory makes nothing (or the head hook
  // is not wired), the body is held in `req.body` as on any route, with the limit `kind` gives.
  void streamed(std::string_view method, std::string_view pattern, Access access, BodyFactory body,
                SyncHandler fn, BodyKind kind = BodyKind::Request, Cost cost = Cost::Slow);
  // Entry points for the Server (loop thread): `head` as its HeadHandler, `handle` as its Handler. A
  // request whose head was prepared by `head` is not prepared again by `handle`.
  void head(const Request& head, std::function<void(HeadDecision)> decide);
  void handle(Request&& request, std::shared_ptr<Responder> responder);
  // The same for a Server on another loop: `loop` are that loop's Services (its loop, Server and
  // WorkGate; the rest as the Api's own), which its calls then use. The routes are shared, so all of
  // them must be registered before any loop serves a request.
  void head(Services& loop, const Request& head, std::function<void(HeadDecision)> decide);
  void handle(Services& loop, Request&& request, std::shared_ptr<Responder> responder);
  Services& services() { return svc_; }

 private:
  struct Route {
    Access access{};
    SyncHandler sync{};
    AsyncHandler async{};
    BodyKind body = BodyKind::Request;
    BodyFactory streamBody{};
    Cost cost = Cost::Slow;
    StagedHandler staged{};
  };
  // What head() hands the Server to give back to handle().
  struct Prepared {
    std::shared_ptr<Call> call;
    std::shared_ptr<Route> route;
    // True when the caller was checked (prepare) before the body was read; false for a small body,
    // whose checks run with the handler once it has arrived (prepareAndRun).
    bool checked = true;
  };
  // Runs `work` off the loop as runOffLoop does: quick routes at once, slow ones (and any request that may
  // hash a password) through the WorkGate.
  void offLoop(const std::shared_ptr<Call>& call, const Route& route, std::function<void()> work,
               std::function<void()> done);
  // Runs on the thread pool: authenticate, authorise, open the db. nullopt when all is well.
  std::optional<Response> prepare(Call& call, const Route& route);
  // The answer when no route matches (404 or 405), or nullopt with `call.params` filled and the route.
  std::optional<Response> match(Call& call, std::shared_ptr<Route>& route);
  // Checks the caller (prepare) off the loop, then runs the route: a sync handler in the same trip.
  void prepareAndRun(std::shared_ptr<Call> call, std::shared_ptr<Route> route);
  // Runs the route's handler on a prepared call (once its streamed body, if any, has finished).
  void run(std::shared_ptr<Call> call, std::shared_ptr<Route> route);
  void runHandler(std::shared_ptr<Call> call, std::shared_ptr<Route> route);
  HeadDecision bodyPlan(Call& call, const Route& route) const;
  Services& svc_;
  Router<std::shared_ptr<Route>> router_;
};

// ---- Helpers for handlers ----

// The HTTP status and `{"error","reason"}` body for a Status.
int httpStatus(ErrorCode code);
Response errorResponse(const Status& status);
Response errorResponse(int httpStatus, std::string_view error, std::string_view reason);
Response jsonOk(int status = 200);  // {"ok":true}

// Query parameters, validated: a bad value is a bad_request naming the parameter.
Result<bool> boolParam(const Request& req, std::string_view name, bool fallback);
Result<uint64_t> uintParam(const Request& req, std::string_view name, uint64_t fallback);
// A parameter holding JSON (startkey="abc", open_revs=["1-a"]): parsed into `parser`'s document.
Result<std::optional<simdjson::dom::element>> jsonParam(const Request& req, std::string_view name,
                                                        simdjson::dom::parser& parser);

// The request body as JSON; 400 bad_request for malformed JSON or invalid UTF-8. With `requireJson`, a
// Content-Type other than application/json is 415 bad_content_type.
Result<simdjson::dom::element> jsonBody(const Request& req, simdjson::dom::parser& parser, bool requireJson = true);

// Writes a value with a RapidJSON writer into a string; for small response bodies.
template <class F>
std::string writeJson(F&& fn);

// A DocResult as CouchDB's `{"ok":true,"id","rev"}` or `{"id","error","reason"}`.
std::string docResultJson(const DocResult& r);

// Microseconds since the epoch (request timing, logs).
uint64_t nowMicros();

}  // namespace settee::http

#include "db/json.h"

template <class F>
std::string settee::http::writeJson(F&& fn) {
  settee::db::JsonBuffer buf;
  settee::db::JsonWriter w(buf);
  fn(w);
  return std::string(buf.GetString(), buf.GetSize());
}
