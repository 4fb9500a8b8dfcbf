#include "http/router.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "http/server.h"

namespace settee::http {

const std::string* Params::get(std::string_view name) const {
  for (const auto& [key, value] : values_) {
    if (key == name) return &value;
  }
  return nullptr;
}

const std::string& Params::operator[](std::string_view name) const {
  static const std::string kEmpty;
  const std::string* value = get(name);
  return value ? *value : kEmpty;
}

namespace {

// One registered route at the node where its pattern ends.
struct Entry {
  std::string method;
  size_t id;
  std::vector<std::string> names;  // one per capture, in order; a greedy capture is the last
};

// A capture's span of segments [first, last): one segment, or the rest of the path for a greedy one.
struct Span {
  size_t first, last;
};

[[noreturn]] void badPattern(std::string_view pattern, std::string_view why) {
  throw std::invalid_argument("route pattern \"" + std::string(pattern) + "\": " + std::string(why));
}

}  // namespace

struct RouteTable::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> capture;  // any one non-empty segment
  std::vector<Entry> exact;       // patterns that end here
  std::vector<Entry> greedy;      // patterns that end here with a greedy capture of what is left
};

RouteTable::RouteTable() : root_(std::make_unique<Node>()) {}
RouteTable::~RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;

void RouteTable::add(std::string_view method, std::string_view pattern, size_t id) {
  if (method.empty()) badPattern(pattern, "empty method");
  if (pattern.empty() || pattern.front() != '/') badPattern(pattern, "must start with '/'");
  Node* node = root_.get();
  std::vector<std::string> names;
  std::vector<Entry>* ends = &node->exact;
  std::string_view rest = pattern.substr(1);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (segment.empty()) badPattern(pattern, "empty segment");
    if (ends == &node->greedy) badPattern(pattern, "a greedy capture must be the last segment");
    if (segment.front() == '{') {
      if (segment.back() != '}' || segment.size() < 3) badPattern(pattern, "malformed capture");
      std::string_view name = segment.substr(1, segment.size() - 2);
      bool isGreedy = name.size() > 3 && name.substr(name.size() - 3) == "...";
      if (isGreedy) name.remove_suffix(3);
      if (name.empty() || name.find_first_of("{}./") != std::string_view::npos) {
        badPattern(pattern, "malformed capture name");
      }
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        badPattern(pattern, "capture name used twice");
      }
      names.emplace_back(name);
      if (isGreedy) {
        ends = &node->greedy;
        continue;
      }
      if (!node->capture) node->capture = std::make_unique<Node>();
      node = node->capture.get();
    } else {
      if (segment.find_first_of("{}") != std::string_view::npos) badPattern(pattern, "stray brace");
      auto it = node->literals.find(segment);
      if (it == node->literals.end()) {
        it = node->literals.emplace(std::string(segment), std::make_unique<Node>()).first;
      }
      node = it->second.get();
    }
    ends = &node->exact;
  }
  if (pattern.size() > 1 && pattern.back() == '/') badPattern(pattern, "trailing '/'");
  for (const Entry& entry : *ends) {
    if (entry.method == method) badPattern(pattern, "method " + std::string(method) + " registered twice");
  }
  ends->push_back(Entry{std::string(method), id, std::move(names)});
}

namespace {

// Depth-first in precedence order: literal, then capture, then greedy. Returns the entries of the first
// end reached, with `spans` holding the captures along that path.
template <class Node>
const std::vector<Entry>* findEnd(const Node& node, const std::vector<std::string>& segments, size_t at,
                                  std::vector<Span>& spans) {
  if (at == segments.size()) return node.exact.empty() ? nullptr : &node.exact;
  if (auto it = node.literals.find(segments[at]); it != node.literals.end()) {
    if (auto* found = findEnd(*it->second, segments, at + 1, spans)) return found;
  }
  if (node.capture && !segments[at].empty()) {
    spans.push_back({at, at + 1});
    if (auto* found = findEnd(*node.capture, segments, at + 1, spans)) return found;
    spans.pop_back();
  }
  if (!node.greedy.empty()) {
    spans.push_back({at, segments.size()});
    return &node.greedy;
  }
  return nullptr;
}

}  // namespace

RouteTable::Match RouteTable::match(std::string_view method, const std::vector<std::string>& segments) const {
  Match result;
  std::vector<Span> spans;
  const std::vector<Entry>* entries = findEnd(*root_, segments, 0, spans);
  if (!entries) return result;

  const Entry* chosen = nullptr;
  for (const Entry& entry : *entries) {
    if (entry.method == method) chosen = &entry;
  }
  if (!chosen && method == "HEAD") {
    for (const Entry& entry : *entries) {
      if (entry.method == "GET") chosen = &entry;
    }
  }
  if (!chosen) {
    result.outcome = RouteOutcome::MethodNotAllowed;
    for (const Entry& entry : *entries) {
      result.allowed.push_back(entry.method);
      if (entry.method == "GET") result.allowed.emplace_back("HEAD");
    }
    std::sort(result.allowed.begin(), result.allowed.end());
    result.allowed.erase(std::unique(result.allowed.begin(), result.allowed.end()), result.allowed.end());
    return result;
  }

  result.outcome = RouteOutcome::Found;
  result.id = chosen->id;
  for (size_t i = 0; i < spans.size(); ++i) {
    std::string value = segments[spans[i].first];
    for (size_t s = spans[i].first + 1; s < spans[i].last; ++s) (value += '/') += segments[s];
    result.params.add(chosen->names[i], std::move(value));
  }
  return result;
}

void route(const RequestRouter& router, Request& request, std::shared_ptr<Responder> responder) {
  RequestRouter::Match match = router.match(request.method, request.segments);
  switch (match.outcome) {
    case RouteOutcome::Found:
      (*match.handler)(request, match.params, std::move(responder));
      return;
    case RouteOutcome::NotFound:
      responder->send(Response::error(404, "not_found", "missing"));
      return;
    case RouteOutcome::MethodNotAllowed: {
      std::string allowed;
      for (const std::string& method : match.allowed) {
        if (!allowed.empty()) allowed += ',';
        allowed += method;
      }
      Response response = Response::error(405, "method_not_allowed", "Only " + allowed + " allowed");
      response.setHeader("Allow", allowed);
      responder->send(std::move(response));
      return;
    }
  }
}

}  // namespace settee::http
