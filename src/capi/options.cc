// An options object as a query string (capi/options.h).
#include "capi/options.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "db/json.h"

namespace settee::capi {

Result<http::Request> optionsRequest(const char* json, std::initializer_list<std::string_view> known,
                                     std::initializer_list<std::string_view> rawStrings) {
  http::Request req;
  req.method = "GET";
  if (!json || !*json) return req;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json, std::strlen(json)).get(root))
    return badRequest(std::string("options are not valid JSON: ") + simdjson::error_message(error));
  simdjson::dom::object obj;
  if (root.get(obj)) return badRequest("options must be a JSON object");
  for (auto field : obj) {
    if (std::find(known.begin(), known.end(), field.key) == known.end())
      return badRequest("unknown option \"" + std::string(field.key) + "\"");
    std::string_view text;
    const bool raw = std::find(rawStrings.begin(), rawStrings.end(), field.key) != rawStrings.end();
    if (raw && !field.value.get(text))
      req.query.emplace_back(std::string(field.key), std::string(text));
    else
      req.query.emplace_back(std::string(field.key), db::toJson(field.value));
  }
  return req;
}

}  // namespace settee::capi
