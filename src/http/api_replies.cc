// The replies every handler shares: the one table from a Status to an HTTP status and CouchDB's
// {"error","reason"}, query parameters and JSON bodies read as CouchDB reads them, a write's result row.
// Declared in api.h; apart from api.cc, which routes and runs requests.
#include <simdjson.h>

#include "http/api.h"

namespace settee::http {

int httpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::Ok:
      return 200;
    case ErrorCode::BadRequest:
      return 400;
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::Conflict:
      return 409;
    case ErrorCode::Forbidden:
      return 403;
    case ErrorCode::Unauthorized:
      return 401;
    case ErrorCode::FileExists:
      return 412;
    case ErrorCode::MissingStub:
      return 412;
    case ErrorCode::TooLarge:
      return 413;
    case ErrorCode::BadContentType:
      return 415;
    case ErrorCode::IllegalDocId:
      return 400;
    case ErrorCode::DocValidation:
      return 400;
    case ErrorCode::IllegalDatabaseName:
      return 400;
    case ErrorCode::PreconditionFailed:
      return 412;
    case ErrorCode::Internal:
      return 500;
  }
  return 500;
}

Response errorResponse(const Status& status) {
  Response r = Response::error(httpStatus(status.code()), status.error(), status.reason());
  if (status.code() == ErrorCode::Unauthorized) r.setHeader("WWW-Authenticate", "Basic realm=\"server\"");
  return r;
}

Response errorResponse(int code, std::string_view error, std::string_view reason) {
  return Response::error(code, error, reason);
}

Response jsonOk(int status) { return Response::json(status, R"({"ok":true})"); }

Result<bool> boolParam(const Request& req, std::string_view name, bool fallback) {
  auto v = req.param(name);
  if (!v) return fallback;
  if (*v == "true") return true;
  if (*v == "false") return false;
  return badRequest("Invalid boolean parameter: \"" + std::string(name) + "\"");
}

Result<uint64_t> uintParam(const Request& req, std::string_view name, uint64_t fallback) {
  auto v = req.param(name);
  if (!v) return fallback;
  uint64_t n = 0;
  if (v->empty() || v->size() > 19)
    return badRequest("Invalid value for integer parameter: " + std::string(name));
  for (char c : *v) {
    if (c < '0' || c > '9') return badRequest("Invalid value for integer parameter: " + std::string(name));
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

Result<std::optional<simdjson::dom::element>> jsonParam(const Request& req, std::string_view name,
                                                        simdjson::dom::parser& parser) {
  auto v = req.param(name);
  if (!v) return std::optional<simdjson::dom::element>();
  simdjson::dom::element e;
  if (parser.parse(v->data(), v->size()).get(e))
    return badRequest("Invalid JSON in query parameter " + std::string(name));
  return std::optional<simdjson::dom::element>(e);
}

Result<simdjson::dom::element> jsonBody(const Request& req, simdjson::dom::parser& parser, bool requireJson) {
  if (requireJson) {
    const std::string* type = req.header("Content-Type");
    if (!type || type->find("application/json") == std::string::npos)
      return Status(ErrorCode::BadContentType, "Content-Type must be application/json");
  }
  if (req.body.empty()) return badRequest("Request body must be a JSON object");
  simdjson::dom::element e;
  auto err = parser.parse(req.body.data(), req.body.size()).get(e);
  if (err == simdjson::UTF8_ERROR) return badRequest("Invalid UTF-8 in request body");
  if (err) return badRequest("Invalid JSON in request body");
  return e;
}

std::string docResultJson(const DocResult& r) {
  return writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    if (r.status) {
      db::writeKey(w, "ok");
      w.Bool(true);
    }
    db::writeKey(w, "id");
    db::writeString(w, r.id);
    if (r.status) {
      db::writeKey(w, "rev");
      db::writeString(w, r.rev);
    } else {
      if (!r.rev.empty()) {
        db::writeKey(w, "rev");
        db::writeString(w, r.rev);
      }
      db::writeKey(w, "error");
      db::writeString(w, r.status.error());
      db::writeKey(w, "reason");
      db::writeString(w, r.status.reason());
    }
    w.EndObject();
  });
}

}  // namespace settee::http
