// http/handlers/design_render.h — what the render endpoints (_show, _update, _list, _rewrite) share:
// the request object CouchDB hands a render function (chttpd_external's json_req_obj) and the reading of
// the response object such a function answers (chttpd_external's parse_external_response).
//
// Plain functions over a Call; any thread but the loop's (the request object reads the database's info
// and security object).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/api.h"
#include "http/design_functions.h"

namespace settee::http::detail {

// Which members of the request object to write. A rewrite function gets neither info, uuid, id nor form.
enum class RequestFields { All, ForRewrite };

// The request object, in CouchDB's member order: info (the database's info object), uuid (a fresh one),
// id (`docId`, null without one), method, requested_path (the path the client asked for, before any
// rewrite), path (decoded segments), raw_path (with its query), query (key, startkey, endkey and
// descending read as JSON), headers (as sent), body ("undefined" when there is none), peer, form (a
// url-encoded POST or PUT body), cookie, userCtx, secObj.
Result<std::string> renderRequestJson(Call& call, std::optional<std::string_view> docId,
                                      RequestFields fields = RequestFields::All);

// The design document `_design/<name>` of the call's database: 404 not_found "missing" / "deleted"
// when there is none.
Result<DesignDocCopy> openDesignDoc(Call& call, std::string_view name);

// Whether `ddoc` holds `member`/`name` (e.g. shows/foo), as CouchDB checks before asking the query
// server: 404 not_found "missing json key: <key>" naming the first key that is absent.
Status requireFunction(const DesignDocCopy& ddoc, std::string_view member, std::string_view name);

// A render function's response object ({code, headers, body | json | base64}) as the HTTP response,
// with CouchDB's defaults: 200, and the Content-Type the body kind implies (text/html for body,
// application/json for json or nothing, application/binary for base64) unless the function gave one.
// `extraHeaders` replace the function's headers of the same name (ETag, Vary, X-Couch-Id...); `code`,
// when given, applies unless the function chose its own. A member CouchDB does not know is a 500
// external_response_error, as there.
Response externalResponse(std::string_view responseJson, const Headers& extraHeaders = {},
                          std::optional<int> code = std::nullopt);

// An error a query server answered, as CouchDB's chttpd maps it: not_found 404, not_acceptable 406,
// forbidden 403, unauthorized 401, compilation errors 400, anything else 500 with its own name.
Response renderError(const Status& status);

// An ETag over `parts` as CouchDB writes one: their MD5 as a number in base 36, upper case, quoted.
std::string etagOf(std::string_view parts);

// `text` percent-encoded except for ASCII letters, digits and "-._~" (CouchDB's url_encode of an id).
std::string urlEncode(std::string_view text);

}  // namespace settee::http::detail
