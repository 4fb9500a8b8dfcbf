// http/compat.h — two conventions of CouchDB's HTTP layer for clients that cannot speak plain HTTP:
// X-HTTP-Method-Override (a POST that stands for another method) and JSONP (a JSON answer wrapped in a
// script call, for pages that read other origins without CORS).
//
// Plain functions over values; the Api calls them on the loop thread, when a request's head arrives and
// when an answer goes out.
#pragma once

#include <string>

#include "http/api.h"

namespace settee::http {

// A POST with `X-HTTP-Method-Override: M`, M one of CouchDB's list (GET, HEAD, POST, PUT, DELETE, TRACE,
// CONNECT, COPY, exactly so spelled), is routed as M. Any other method keeps its own, as in CouchDB,
// which honours the header on POST only.
void applyMethodOverride(Request& req);

// The JSONP callback an answer to `req` is wrapped in: empty when none is (allow_jsonp off, no
// `callback`, or an empty one). bad_request "invalid_callback" for a name with a character outside
// [A-Za-z0-9._[\]], CouchDB's rule.
Result<std::string> jsonpCallback(const Request& req, const ServerConfig& config);

// Wraps a whole JSON answer as `/* CouchDB */NAME(json);` with Content-Type application/javascript.
// Answers that are not JSON (an attachment, a 304, an empty body) are left as they are.
void wrapJsonp(Response& response, const std::string& callback);

// For a streamed answer: whether its headers say JSON (so it is wrapped), and if so turns them into a
// script's; the caller then writes jsonpStart first and jsonpEnd last.
bool jsonpStream(Headers& headers);
std::string jsonpStart(const std::string& callback);
inline constexpr std::string_view kJsonpEnd = ");";

}  // namespace settee::http
