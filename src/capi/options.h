// capi/options.h — an options object of the C API (settee.h: "options are JSON objects ... an unknown
// option is a bad_request error, never ignored"), read once and checked once, whichever way the call
// then reads its values.
//
// Options::parse reads the text (NULL or "" is the empty object) and refuses, with bad_request, text that
// is not JSON (nor valid UTF-8), anything but an object, and any key not in the list the call knows,
// naming it. The values are then read in one of two ways, each where it fits:
// - typed reads (getBool, getUint, ...) for the calls whose options are the C API's own (queries,
//   replications, syncs, nodes): each leaves the value untouched when the key is absent and answers
//   bad_request naming the key when its type is wrong;
// - asRequest() for the calls whose options are CouchDB's query parameters of an endpoint the HTTP layer
//   already reads (all_docs, changes, a document's GET, a database's open flags): the object becomes the
//   query string of a GET http::Request, each value spelled as CouchDB's query string spells it, and the
//   HTTP layer's own parser for that endpoint reads it with its checks and its error messages, so the two
//   doors never disagree on what an option means.
// Contract: a value, used by one thread; the parsed elements live as long as the Options.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"
#include "settee/status.h"

namespace settee::capi {

// The longest duration an option may give: a year. Longer ones would overflow the arithmetic of
// steady_clock deadlines (now + timeout) that the replicator and the sync do with them.
constexpr uint64_t kMaxMillis = 365ull * 24 * 3600 * 1000;

class Options {
 public:
  Options() = default;
  Options(const Options&) = delete;
  Options& operator=(const Options&) = delete;

  [[nodiscard]] Status parse(const char* json, std::initializer_list<std::string_view> known);

  // Whether an object was given (not NULL or ""); root() is that object, for readers that take a body
  // (such as the replicator's parseOptions). Both valid after a successful parse().
  bool present() const { return parsed_; }
  simdjson::dom::element root() const { return root_; }

  bool has(std::string_view key) const;
  [[nodiscard]] Status getBool(std::string_view key, bool& out) const;
  [[nodiscard]] Status getUint(std::string_view key, uint64_t& out) const;
  // A duration: a positive integer of milliseconds, at most kMaxMillis; bad_request naming the key for
  // anything else.
  [[nodiscard]] Status getMillis(std::string_view key, std::chrono::milliseconds& out) const;
  [[nodiscard]] Status getString(std::string_view key, std::string& out) const;
  // An object member, kept as its JSON text (a selector).
  [[nodiscard]] Status getObjectJson(std::string_view key, std::string& out) const;
  [[nodiscard]] Status getStrings(std::string_view key, std::vector<std::string>& out) const;
  // {name: "value"} as pairs in the object's order (headers, admins).
  [[nodiscard]] Status getStringMap(std::string_view key,
                                    std::vector<std::pair<std::string, std::string>>& out) const;

  // The options as a GET request whose query holds one parameter per member, in order. A string member
  // named in `rawStrings` is its text (rev=1-abc, style=all_docs, since=now); any other member is its JSON
  // text (include_docs=true, limit=10, startkey="a", keys=["a","b"]), which is how CouchDB's query string
  // spells those.
  http::Request asRequest(std::initializer_list<std::string_view> rawStrings = {}) const;

 private:
  bool find(std::string_view key, simdjson::dom::element& out) const;

  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
  simdjson::dom::object object_;
  bool parsed_ = false;
};

// parse() then asRequest(), for the calls that hand their options to an HTTP layer parser.
Result<http::Request> optionsRequest(const char* json, std::initializer_list<std::string_view> known,
                                     std::initializer_list<std::string_view> rawStrings = {});

}  // namespace settee::capi
