// What the node reads from a render function's answer (http/handlers/design_render.h): a show's or an
// update's response object becomes an HTTP response, and a design document's array of rewrite rules
// (http/handlers/design_rewrite.h) turns a request path into another. Both come from user code, so any
// JSON must give a well-formed answer: a status in 100..599, headers without line breaks, and a rewritten
// target that parses.
//
// Input: a response object or rules array on the first line, a request path (with query) on the second.
#include <simdjson.h>

#include <string>

#include "fuzz_util.h"
#include "http/handlers/design_render.h"
#include "http/handlers/design_rewrite.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static simdjson::dom::parser parser;
  auto [json, target] = fuzz::splitLine(fuzz::asText(data, size));
  http::Response r = http::detail::externalResponse(json, {{"ETag", "\"x\""}});
  FUZZ_CHECK(r.status >= 100 && r.status <= 599);
  for (const auto& [name, value] : r.headers) {
    FUZZ_CHECK(!name.empty());
    (void)value;
  }
  FUZZ_CHECK(r.header("Content-Type") != nullptr);

  http::Call call;
  if (!http::parseTarget(target.empty() ? std::string_view("/db/_design/d/_rewrite/a") : target, call.req))
    return 0;
  call.req.method = "GET";
  call.dbName = "db";
  call.params.add("ddoc", "d");
  simdjson::dom::element rules;
  if (parser.parse(json.data(), json.size()).get(rules) || !rules.is_array()) return 0;
  auto rewritten = http::detail::applyRewriteRules(call, rules);
  if (rewritten && rewritten->request) {
    FUZZ_CHECK(!rewritten->request->path.empty() && rewritten->request->path.front() == '/');
  }
  return 0;
}
