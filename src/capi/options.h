// capi/options.h — an options object of the C API read as the HTTP layer reads CouchDB's query string.
//
// settee.h spells options as CouchDB's query parameters in a JSON object ({"include_docs":true,
// "startkey":"a"}). Rather than parse each option a second time, the object becomes the query string of
// an http::Request — each value as CouchDB's query string carries it — and the HTTP layer's own parser
// for that endpoint reads it (parseAllDocsRequest, parseChangesRequest, readOptions), with its checks and
// its error messages. What the query string cannot say is checked here: the text is JSON (valid UTF-8),
// an object, and names only options the call knows (an unknown one is bad_request naming it).
// Contract: plain functions; any thread.
#pragma once

#include <initializer_list>
#include <string_view>

#include "http/request.h"
#include "settee/status.h"

namespace settee::capi {

// `json` (NULL or "" for no options) as a GET request whose query holds one parameter per member, in
// order. A string member named in `rawStrings` is its text (rev=1-abc, style=all_docs, since=now); any
// other member is its JSON text (include_docs=true, limit=10, startkey="a", keys=["a","b"]), which is
// how CouchDB's query string spells those.
Result<http::Request> optionsRequest(const char* json, std::initializer_list<std::string_view> known,
                                     std::initializer_list<std::string_view> rawStrings = {});

}  // namespace settee::capi
