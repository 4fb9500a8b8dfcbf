// http/absolute_url.h — the absolute URL CouchDB puts in a Location header (chttpd:absolute_uri/2).
//
// The host is the request's `X-Forwarded-Host`, else its `Host`; the scheme is https when
// `X-Forwarded-Ssl: on`, else `X-Forwarded-Proto` when sent, else http (the server speaks plain HTTP).
// Without any host header (an HTTP/1.0 client) the path alone is returned: CouchDB would use its socket
// address, which a handler here does not see. Pure function; any thread.
#pragma once

#include <string>
#include <string_view>

#include "http/request.h"

namespace settee::http {

// `path` must start with '/' and be already percent-encoded.
std::string absoluteUrl(const Request& req, std::string_view path);

}  // namespace settee::http
