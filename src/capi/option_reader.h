// capi/option_reader.h — an options object of the C API (settee.h: "options are JSON objects ... an
// unknown option is a bad_request error, never ignored"), read once and checked field by field.
//
// OptionReader parses the text (NULL or "" is the empty object), refuses anything but an object and any
// key not in the list the caller knows, then answers typed reads; each read leaves the value untouched
// when the key is absent and answers bad_request naming the key when its type is wrong. The JSON writing
// helper beside it renders an answer with a RapidJSON writer (never by concatenation).
// Contract: a value, used by one thread; the parsed elements live as long as the reader.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/json.h"
#include "settee/status.h"

namespace settee::capi {

class OptionReader {
 public:
  OptionReader() = default;
  OptionReader(const OptionReader&) = delete;
  OptionReader& operator=(const OptionReader&) = delete;

  Status parse(const char* json, std::initializer_list<std::string_view> known) {
    if (!json || !*json) return Status::ok();
    if (parser_.parse(json, std::strlen(json)).get(root_) != simdjson::SUCCESS)
      return badRequest("options are not valid JSON");
    if (root_.get(object_) != simdjson::SUCCESS) return badRequest("options must be a JSON object");
    for (auto field : object_) {
      bool found = false;
      for (std::string_view k : known) found = found || k == field.key;
      if (!found) return badRequest("unknown option " + std::string(field.key));
    }
    parsed_ = true;
    return Status::ok();
  }

  // The whole object (for readers that take a body, such as the replicator's); valid after parse().
  bool present() const { return parsed_; }
  simdjson::dom::element root() const { return root_; }

  bool has(std::string_view key) const {
    simdjson::dom::element e;
    return find(key, e);
  }
  Status getBool(std::string_view key, bool& out) const {
    simdjson::dom::element e;
    if (!find(key, e)) return Status::ok();
    if (e.get(out) != simdjson::SUCCESS) return badRequest(std::string(key) + " must be a boolean");
    return Status::ok();
  }
  Status getUint(std::string_view key, uint64_t& out) const {
    simdjson::dom::element e;
    if (!find(key, e)) return Status::ok();
    if (e.get(out) != simdjson::SUCCESS)
      return badRequest(std::string(key) + " must be a non-negative integer");
    return Status::ok();
  }
  Status getString(std::string_view key, std::string& out) const {
    simdjson::dom::element e;
    if (!find(key, e)) return Status::ok();
    std::string_view s;
    if (e.get(s) != simdjson::SUCCESS) return badRequest(std::string(key) + " must be a string");
    out.assign(s);
    return Status::ok();
  }
  // An object member, kept as its JSON text (a selector).
  Status getObjectJson(std::string_view key, std::string& out) const {
    simdjson::dom::element e;
    if (!find(key, e)) return Status::ok();
    if (e.type() != simdjson::dom::element_type::OBJECT)
      return badRequest(std::string(key) + " must be an object");
    out = db::toJson(e);
    return Status::ok();
  }
  Status getStrings(std::string_view key, std::vector<std::string>& out) const {
    simdjson::dom::element e;
    if (!find(key, e)) return Status::ok();
    simdjson::dom::array a;
    if (e.get(a) != simdjson::SUCCESS) return badRequest(std::string(key) + " must be an array of strings");
    out.clear();
    for (auto item : a) {
      std::string_view s;
      if (item.get(s) != simdjson::SUCCESS)
        return badRequest(std::string(key) + " must be an array of strings");
      out.emplace_back(s);
    }
    return Status::ok();
  }
  // {name: "value"} as pairs in the object's order (headers, admins).
  Status getStringMap(std::string_view key, std::vector<std::pair<std::string, std::string>>& out) const {
    simdjson::dom::element e;
    if (!find(key, e)) return Status::ok();
    simdjson::dom::object o;
    if (e.get(o) != simdjson::SUCCESS) return badRequest(std::string(key) + " must be an object of strings");
    out.clear();
    for (auto field : o) {
      std::string_view v;
      if (field.value.get(v) != simdjson::SUCCESS)
        return badRequest(std::string(key) + " must be an object of strings");
      out.emplace_back(std::string(field.key), std::string(v));
    }
    return Status::ok();
  }

 private:
  bool find(std::string_view key, simdjson::dom::element& out) const {
    if (!parsed_) return false;
    return object_.at_key(key).get(out) == simdjson::SUCCESS;
  }

  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
  simdjson::dom::object object_;
  bool parsed_ = false;
};

// `fn(JsonWriter&)` rendered to a string.
template <class F>
std::string renderJson(F&& fn) {
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  fn(w);
  return std::string(db::bufferView(buf));
}

}  // namespace settee::capi
