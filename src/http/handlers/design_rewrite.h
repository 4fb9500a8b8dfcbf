// http/handlers/design_rewrite.h — the parts of _rewrite its two files share: the request a rewrite
// makes (or the answer it gives at once), the path it leads to, and the deprecated array of rules.
// Plain functions; any thread.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "http/api.h"

namespace settee::http {

// /{db}/_design/{ddoc}/_rewrite[/{path...}] for every method.
void registerRewriteRoutes(Api& api);

namespace detail {

// What a rewrite made of a request: the request to answer instead, or an answer to give at once.
struct Rewritten {
  std::optional<Request> request;
  std::optional<Response> answer;
};

// `path` (which may hold "?query") taken relative to the call's design document and with "." and ".."
// resolved: "../../doc" from /db/_design/app is "/db/doc".
std::string rewriteTarget(const Call& call, std::string_view path);

// The first of the `rules` (an array of {from, to, method, query, formats}) that matches the call's
// method and path after _rewrite, applied as CouchDB's chttpd_rewrite applies it: the new request, or
// 404 not_found "missing" when none matches.
Result<Rewritten> applyRewriteRules(const Call& call, simdjson::dom::element rules);

// mochiweb's quote_plus: letters, digits and "-_.~" stay, a space becomes '+', the rest %XX.
std::string quotePlus(std::string_view text);

}  // namespace detail
}  // namespace settee::http
