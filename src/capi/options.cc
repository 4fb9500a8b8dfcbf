// An options object of the C API, checked once and read typed or as a query string (capi/options.h).
#include "capi/options.h"

#include <algorithm>
#include <cstring>

#include "db/json.h"

namespace settee::capi {

Status Options::parse(const char* json, std::initializer_list<std::string_view> known) {
  parsed_ = false;
  if (!json || !*json) return Status::ok();
  // simdjson validates UTF-8 while it parses, so text that is not UTF-8 is refused here as not JSON.
  if (auto error = parser_.parse(json, std::strlen(json)).get(root_))
    return badRequest(std::string("options are not valid JSON: ") + simdjson::error_message(error));
  if (root_.get(object_) != simdjson::SUCCESS) return badRequest("options must be a JSON object");
  for (auto field : object_) {
    if (std::find(known.begin(), known.end(), field.key) == known.end())
      return badRequest("unknown option \"" + std::string(field.key) + "\"");
  }
  parsed_ = true;
  return Status::ok();
}

bool Options::find(std::string_view key, simdjson::dom::element& out) const {
  if (!parsed_) return false;
  return object_.at_key(key).get(out) == simdjson::SUCCESS;
}

bool Options::has(std::string_view key) const {
  simdjson::dom::element e;
  return find(key, e);
}

Status Options::getBool(std::string_view key, bool& out) const {
  simdjson::dom::element e;
  if (!find(key, e)) return Status::ok();
  if (e.get(out) != simdjson::SUCCESS) return badRequest(std::string(key) + " must be a boolean");
  return Status::ok();
}

Status Options::getUint(std::string_view key, uint64_t& out) const {
  simdjson::dom::element e;
  if (!find(key, e)) return Status::ok();
  if (e.get(out) != simdjson::SUCCESS)
    return badRequest(std::string(key) + " must be a non-negative integer");
  return Status::ok();
}

Status Options::getMillis(std::string_view key, std::chrono::milliseconds& out) const {
  simdjson::dom::element e;
  if (!find(key, e)) return Status::ok();
  uint64_t ms = 0;
  if (e.get(ms) != simdjson::SUCCESS || ms == 0 || ms > kMaxMillis)
    return badRequest(std::string(key) + " must be a positive integer of milliseconds, at most " +
                      std::to_string(kMaxMillis));
  out = std::chrono::milliseconds(static_cast<int64_t>(ms));
  return Status::ok();
}

Status Options::getString(std::string_view key, std::string& out) const {
  simdjson::dom::element e;
  if (!find(key, e)) return Status::ok();
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS) return badRequest(std::string(key) + " must be a string");
  out.assign(s);
  return Status::ok();
}

Status Options::getObjectJson(std::string_view key, std::string& out) const {
  simdjson::dom::element e;
  if (!find(key, e)) return Status::ok();
  if (e.type() != simdjson::dom::element_type::OBJECT)
    return badRequest(std::string(key) + " must be an object");
  out = db::toJson(e);
  return Status::ok();
}

Status Options::getStrings(std::string_view key, std::vector<std::string>& out) const {
  simdjson::dom::element e;
  if (!find(key, e)) return Status::ok();
  const Status wrong = badRequest(std::string(key) + " must be an array of strings");
  simdjson::dom::array a;
  if (e.get(a) != simdjson::SUCCESS) return wrong;
  out.clear();
  for (auto item : a) {
    std::string_view s;
    if (item.get(s) != simdjson::SUCCESS) return wrong;
    out.emplace_back(s);
  }
  return Status::ok();
}

Status Options::getStringMap(std::string_view key,
                             std::vector<std::pair<std::string, std::string>>& out) const {
  simdjson::dom::element e;
  if (!find(key, e)) return Status::ok();
  const Status wrong = badRequest(std::string(key) + " must be an object of strings");
  simdjson::dom::object o;
  if (e.get(o) != simdjson::SUCCESS) return wrong;
  out.clear();
  for (auto field : o) {
    std::string_view v;
    if (field.value.get(v) != simdjson::SUCCESS) return wrong;
    out.emplace_back(std::string(field.key), std::string(v));
  }
  return Status::ok();
}

http::Request Options::asRequest(std::initializer_list<std::string_view> rawStrings) const {
  http::Request req;
  req.method = "GET";
  if (!parsed_) return req;
  for (auto field : object_) {
    std::string_view text;
    const bool raw = std::find(rawStrings.begin(), rawStrings.end(), field.key) != rawStrings.end();
    if (raw && field.value.get(text) == simdjson::SUCCESS)
      req.query.emplace_back(std::string(field.key), std::string(text));
    else
      req.query.emplace_back(std::string(field.key), db::toJson(field.value));
  }
  return req;
}

Result<http::Request> optionsRequest(const char* json, std::initializer_list<std::string_view> known,
                                     std::initializer_list<std::string_view> rawStrings) {
  Options options;
  if (Status st = options.parse(json, known); !st) return st;
  return options.asRequest(rawStrings);
}

}  // namespace settee::capi
