// `rewrites` as an array of rules (deprecated in CouchDB 3.0, still answered by 3.4): the first rule
// whose method and `from` match the path after _rewrite gives the new path (`to`) and query, with
// ":name" variables bound from the path and the query, and "*" for the rest of the path — CouchDB's
// chttpd_rewrite, including the order in which it writes the new query.
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>

#include "db/json.h"
#include "http/handlers/design_rewrite.h"

namespace settee::http::detail {
namespace {

// A token of a rule's path: a literal segment, a ":name" variable, or "*" (the rest).
struct Token {
  std::string text;
  bool bind = false;  // a variable (":name") or "*" (text "*")
};

// A bound value: a string, or JSON (query values of key, startkey... and rule query values that are
// not strings).
struct Value {
  std::string text;
  bool json = false;
};
using Bindings = std::vector<std::pair<std::string, Value>>;

const Value* find(const Bindings& b, std::string_view name) {
  for (const auto& [k, v] : b)
    if (k == name) return &v;
  return nullptr;
}

bool jsonKey(std::string_view key) {
  return key == "key" || key == "startkey" || key == "start_key" || key == "endkey" || key == "end_key" ||
         key == "keys";
}

// A rule's path split on '/', empty segments dropped. More than two ".." is refused (CouchDB's
// secure_rewrites, on by default).
Result<std::vector<Token>> tokens(std::string_view path) {
  std::vector<Token> out;
  int dotdots = 0;
  while (true) {
    size_t slash = path.find('/');
    std::string_view s = path.substr(0, slash);
    if (!s.empty()) {
      if (s == "*") {
        out.push_back({"*", true});
      } else if (s == "..") {
        if (dotdots == 2)
          return Status(ErrorCode::Internal, "too many ../.. segments", "insecure_rewrite_rule");
        ++dotdots;
        out.push_back({"..", false});
      } else if (s.front() == ':') {
        out.push_back({std::string(s.substr(1)), true});
      } else {
        out.push_back({std::string(s), false});
      }
    }
    if (slash == std::string_view::npos) break;
    path = path.substr(slash + 1);
  }
  return out;
}

// Binds `from` to the request's segments: the bindings (most recent first, as CouchDB accumulates
// them) and what "*" left over, or nullopt when it does not match.
std::optional<std::pair<Bindings, std::vector<std::string>>> bindPath(const std::vector<Token>& from,
                                                                      const std::vector<std::string>& parts) {
  Bindings bound;
  size_t i = 0;
  for (size_t t = 0; t < from.size(); ++t) {
    const Token& tok = from[t];
    if (tok.bind && tok.text == "*" && t + 1 == from.size())
      return std::make_pair(std::move(bound), std::vector<std::string>(parts.begin() + i, parts.end()));
    if (i == parts.size()) return std::nullopt;
    if (tok.bind) {
      bound.insert(bound.begin(), {tok.text, Value{parts[i], false}});
    } else if (tok.text != parts[i]) {
      return std::nullopt;
    }
    ++i;
  }
  if (i != parts.size()) return std::nullopt;
  return std::make_pair(std::move(bound), std::vector<std::string>{});
}

// The value of variable `name`, or `fallback`, converted as the rule's formats say ("int", "bool").
using Formats = std::optional<simdjson::dom::object>;

Value getVar(std::string_view name, const Bindings& b, Value fallback, const Formats& formats) {
  const Value* found = find(b, name);
  Value v = found ? *found : std::move(fallback);
  std::string_view format;
  if (formats && !(*formats)[name].get_string().get(format) && !v.json) {
    if (format == "int") {
      char* end = nullptr;
      long long n = std::strtoll(v.text.c_str(), &end, 10);
      if (!v.text.empty() && end && *end == '\0') v = Value{std::to_string(n), true};
    } else if (format == "bool") {
      std::string lower = v.text;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (lower == "true" || lower == "false") v = Value{lower, true};
    }
  }
  return v;
}

Value replaceVar(std::string_view text, const Bindings& b, const Formats& formats) {
  if (text == "*") return getVar("*", b, Value{"*", false}, formats);
  if (!text.empty() && text.front() == ':')
    return getVar(text.substr(1), b, Value{std::string(text), false}, formats);
  return Value{std::string(text), false};
}

std::string valueText(const Value& v) { return v.text; }

}  // namespace

Result<Rewritten> applyRewriteRules(const Call& call, simdjson::dom::element rules) {
  const std::vector<std::string>& segs = call.req.segments;
  // The path after /{db}/_design/{ddoc}/_rewrite.
  std::vector<std::string> parts(segs.size() > 4 ? segs.begin() + 4 : segs.end(), segs.end());
  Bindings queryList;
  simdjson::dom::parser qparser;
  for (const auto& [k, v] : call.req.query) {
    simdjson::dom::element parsed;
    if (jsonKey(k)) {
      if (qparser.parse(v).get(parsed)) return badRequest("invalid UTF-8 JSON");
      queryList.push_back({k, Value{simdjson::minify(parsed), true}});
    } else {
      queryList.push_back({k, Value{v, false}});
    }
  }
  // CouchDB answers HEAD as GET, so a rule for GET serves it.
  std::string method = call.req.method == "HEAD" ? "GET" : call.req.method;
  simdjson::dom::array ruleList;
  if (rules.get_array().get(ruleList)) return notFound("missing");
  for (simdjson::dom::element rule : ruleList) {
    simdjson::dom::object r;
    if (rule.get_object().get(r)) continue;
    std::string_view ruleMethod = "*", from, to;
    if (!r["method"].get_string().get(ruleMethod) && ruleMethod != "*" && ruleMethod != method) continue;
    std::vector<Token> fromTokens{{"*", true}};
    if (!r["from"].get_string().get(from)) {
      auto parsed = tokens(from);
      if (!parsed) return parsed.status();
      fromTokens = std::move(*parsed);
    }
    if (r["to"].get_string().get(to)) return Status(ErrorCode::Internal, "invalid_rewrite_target", "error");
    auto toTokens = tokens(to);
    if (!toTokens) return toTokens.status();
    auto bound = bindPath(fromTokens, parts);
    if (!bound) continue;
    Formats formats;
    if (simdjson::dom::object f; !r["formats"].get_object().get(f)) formats = f;
    Bindings bindings1 = bound->first;
    bindings1.insert(bindings1.end(), queryList.begin(), queryList.end());
    // The rule's query, each value with its variables replaced; CouchDB builds this list backwards.
    Bindings queryArgs;
    simdjson::dom::object ruleQuery;
    if (!r["query"].get_object().get(ruleQuery)) {
      for (auto kv : ruleQuery) {
        std::string_view text;
        simdjson::dom::array list;
        Value v;
        if (!kv.value.get_string().get(text)) {
          v = replaceVar(text, bindings1, formats);
        } else if (!kv.value.get_array().get(list)) {
          std::string json = "[";
          for (simdjson::dom::element item : list) {
            if (json.size() > 1) json += ',';
            std::string_view s;
            if (!item.get_string().get(s) && !s.empty() && s.front() == ':') {
              Value got = getVar(s.substr(1), bindings1, Value{std::string(s), false}, formats);
              json +=
                  got.json ? got.text : writeJson([&](db::JsonWriter& w) { db::writeString(w, got.text); });
            } else {
              json += simdjson::minify(item);
            }
          }
          v = Value{json + "]", true};
        } else {
          v = Value{simdjson::minify(kv.value), true};
        }
        queryArgs.insert(queryArgs.begin(), {std::string(kv.key), std::move(v)});
      }
    }
    Bindings final;
    for (const auto& kv : bindings1)
      if (!find(queryArgs, kv.first)) final.push_back(kv);
    final.insert(final.end(), queryArgs.begin(), queryArgs.end());
    // The new path: literals, variables (or "undefined"), and what "*" matched.
    std::vector<std::string> newParts;
    for (const Token& tok : *toTokens) {
      if (tok.bind && tok.text == "*") {
        newParts.insert(newParts.end(), bound->second.begin(), bound->second.end());
        break;
      }
      if (tok.bind) {
        const Value* v = find(final, tok.text);
        newParts.push_back(v ? valueText(*v) : "undefined");
      } else {
        newParts.push_back(tok.text);
      }
    }
    std::string path;
    for (const auto& p : newParts) {
      if (!path.empty()) path += '/';
      path += p == ".." || p == "." ? p : quotePlus(p);
    }
    // Every binding but "*" goes into the query, JSON for key-like names, in CouchDB's (reversed) order.
    std::string query;
    for (auto it = final.rbegin(); it != final.rend(); ++it) {
      if (it->first == "*") continue;
      std::string value;
      if (jsonKey(it->first))
        value = it->second.json ? it->second.text
                                : writeJson([&](db::JsonWriter& w) { db::writeString(w, it->second.text); });
      else
        value = it->second.text;
      if (!query.empty()) query += '&';
      query += quotePlus(it->first) + "=" + quotePlus(value);
    }
    Request req;
    req.method = call.req.method;
    req.headers = call.req.headers;
    req.body = call.req.body;
    std::string target = rewriteTarget(call, path);
    if (!query.empty()) target += "?" + query;
    if (!parseTarget(target, req)) return badRequest("Invalid rewrite target");
    Rewritten out;
    out.request = std::move(req);
    return out;
  }
  return notFound("missing");
}

}  // namespace settee::http::detail
