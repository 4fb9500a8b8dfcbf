// http/router.h — matches a method and decoded path segments to a registered route.
//
// Patterns are '/'-separated segment lists, each one of:
//   literal      `_changes`, `_design`, `_all_dbs`   matches that exact (decoded) segment
//   capture      `{db}`                              matches any one non-empty segment
//   greedy       `{docid...}`                        matches all remaining segments (at least one),
//                                                    joined with '/'; only as the last segment
// e.g. "/{db}/_changes", "/{db}/_design/{ddoc}", "/{db}/_local/{id}", "/{db}/{docid}/{att...}", "/".
//
// Matching is a walk down a trie, not a list where the first regex wins, so the result does not depend
// on the order of registration. At each position a literal beats a capture, which beats a greedy capture;
// the first path that reaches a registered end, in that order (backtracking if a branch dead-ends), is
// the match. That path's methods then decide: the method is there (Found), or it is not (MethodNotAllowed,
// with the methods that are), so `PUT /db/_changes` is a 405 and never a document called "_changes".
// HEAD matches wherever GET does unless HEAD is registered itself. Segments are compared after
// percent-decoding (Request::segments), so "/db/_design%2Fx" and "/db/_design/x" route alike.
//
// Contract: build the table on one thread at startup (`add` throws std::invalid_argument for a malformed
// pattern or a method registered twice for one pattern: programming errors), then `match` from any
// number of threads; matching never modifies the table. A Params value owns its strings.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"
#include "http/response.h"

namespace settee::http {

class Responder;

// The values captured by a match, by the names in the pattern.
class Params {
 public:
  // The value captured as `name`, or nullptr. Valid while this Params lives and is not modified.
  const std::string* get(std::string_view name) const;
  // The value captured as `name`, or an empty string: for names the matched pattern is known to have.
  const std::string& operator[](std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& all() const { return values_; }
  void add(std::string name, std::string value) { values_.emplace_back(std::move(name), std::move(value)); }
  bool empty() const { return values_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

enum class RouteOutcome { Found, NotFound, MethodNotAllowed };

// The patterns alone, each mapped to an id the caller chooses (Router uses the handler's index).
class RouteTable {
 public:
  struct Match {
    RouteOutcome outcome = RouteOutcome::NotFound;
    size_t id = 0;                     // the route, when Found
    Params params;                     // the captures, when Found
    std::vector<std::string> allowed;  // when MethodNotAllowed: the path's methods, sorted, HEAD included
  };

  RouteTable();
  ~RouteTable();
  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  void add(std::string_view method, std::string_view pattern, size_t id);
  Match match(std::string_view method, const std::vector<std::string>& segments) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
};

// A RouteTable whose routes carry a handler of any type `H` (a std::function, a function pointer, an
// enum naming an endpoint...). The router only stores and returns it; calling it is the caller's business.
template <class H>
class Router {
 public:
  using Handler = H;

  struct Match {
    RouteOutcome outcome = RouteOutcome::NotFound;
    const Handler* handler = nullptr;  // when Found; valid as long as the Router
    Params params;
    std::vector<std::string> allowed;
  };

  void add(std::string_view method, std::string_view pattern, Handler handler) {
    table_.add(method, pattern, handlers_.size());
    handlers_.push_back(std::move(handler));
  }

  Match match(std::string_view method, const std::vector<std::string>& segments) const {
    RouteTable::Match found = table_.match(method, segments);
    Match result;
    result.outcome = found.outcome;
    if (found.outcome == RouteOutcome::Found) result.handler = &handlers_[found.id];
    result.params = std::move(found.params);
    result.allowed = std::move(found.allowed);
    return result;
  }

 private:
  RouteTable table_;
  std::vector<Handler> handlers_;
};

// The handler type of the HTTP API: the request (which the handler may move from, e.g. into work done off
// the loop), the captures, and the Responder to answer with. Called on the loop thread.
using RouteHandler = std::function<void(Request&, const Params&, std::shared_ptr<Responder>)>;
using RequestRouter = Router<RouteHandler>;

// Matches `request` and calls its handler, or answers itself: 404 `{"error":"not_found","reason":"missing"}`
// or 405 `{"error":"method_not_allowed","reason":"Only GET,HEAD allowed"}` with an `Allow` header.
// Loop thread only (it may answer through the Responder).
void route(const RequestRouter& router, Request& request, std::shared_ptr<Responder> responder);

}  // namespace settee::http
