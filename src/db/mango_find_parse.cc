// mango_find_parse.cc — a `_find` / `_explain` body read into a FindQuery (see mango_find.h), with
// CouchDB 3.4's error names and reasons (mango_opts.erl, mango_sort.erl, mango_fields.erl, mango_error.erl).
//
// CouchDB validates the members in a fixed order (selector first) and names an unknown member only after
// every known one passed, so a body with several faults answers the same first fault here as there.
// Reasons that quote a bad value print it as Erlang's `~w` prints the decoded JSON term (a string "x" is
// <<120>>), because that is what CouchDB's reasons say.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "db/mango_find.h"

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// `e` as Erlang's io_lib `~w` writes the term jiffy decodes it to.
void erlangTerm(element e, std::string& out) {
  switch (e.type()) {
    case element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      out += "<<";
      for (size_t i = 0; i < s.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(static_cast<unsigned char>(s[i]));
      }
      out += ">>";
      return;
    }
    case element_type::INT64:
      out += std::to_string(e.get_int64().value_unsafe());
      return;
    case element_type::UINT64:
      out += std::to_string(e.get_uint64().value_unsafe());
      return;
    case element_type::DOUBLE: {
      double d = e.get_double().value_unsafe();
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (std::strtod(buf, nullptr) == d) break;
      }
      std::string text = buf;
      // Erlang always writes a float with a fraction: 1.0, 1.0e20.
      if (text.find_first_of(".e") == std::string::npos) text += ".0";
      if (auto epos = text.find('e'); epos != std::string::npos && text.find('.') == std::string::npos)
        text.insert(epos, ".0");
      out += text;
      return;
    }
    case element_type::BOOL:
      out += e.get_bool().value_unsafe() ? "true" : "false";
      return;
    case element_type::NULL_VALUE:
      out += "null";
      return;
    case element_type::ARRAY: {
      out += '[';
      bool first = true;
      simdjson::dom::array items;  // a copy, so the loop does not bind a temporary
      if (e.get(items) != simdjson::SUCCESS) return;
      for (element item : items) {
        if (!first) out += ',';
        first = false;
        erlangTerm(item, out);
      }
      out += ']';
      return;
    }
    case element_type::OBJECT: {
      out += "{[";
      bool first = true;
      simdjson::dom::object members;
      if (e.get(members) != simdjson::SUCCESS) return;
      for (auto member : members) {
        if (!first) out += ',';
        first = false;
        out += "{<<";
        for (size_t i = 0; i < member.key.size(); ++i) {
          if (i > 0) out += ',';
          out += std::to_string(static_cast<unsigned char>(member.key[i]));
        }
        out += ">>,";
        erlangTerm(member.value, out);
        out += '}';
      }
      out += "]}";
      return;
    }
  }
}

std::string term(element e) {
  std::string out;
  erlangTerm(e, out);
  return out;
}

Status mangoError(std::string reason, const char* name) {
  return Status(ErrorCode::BadRequest, std::move(reason), name);
}

Result<bool> boolOption(element v) {
  bool b = false;
  if (v.get(b) != simdjson::SUCCESS)
    return mangoError("Invalid boolean value: " + term(v), "invalid_boolean");
  return b;
}

Result<uint64_t> nonNegInteger(element v) {
  int64_t i = 0;
  uint64_t u = 0;
  if (v.type() == element_type::INT64 && v.get(i) == simdjson::SUCCESS && i >= 0)
    return static_cast<uint64_t>(i);
  if (v.type() == element_type::UINT64 && v.get(u) == simdjson::SUCCESS) return u;
  return mangoError(term(v) + " is not an integer greater than or equal to zero", "invalid_non_neg_integer");
}

Status invalidIndexName(element v) {
  return mangoError("Invalid index name: " + term(v), "invalid_index_name");
}

// use_index: "ddoc", "_design/ddoc", "ddoc/name", "_design/ddoc/name", [ddoc], [ddoc, name], [] or null.
Result<std::vector<std::string>> useIndexOption(element v) {
  std::string_view s;
  if (v.get(s) == simdjson::SUCCESS) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t slash = s.find('/', start);
      parts.emplace_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    if (parts.size() >= 2 && parts.front() == "_design") parts.erase(parts.begin());
    if (parts.size() > 2) return invalidIndexName(v);
    for (const auto& p : parts) {
      if (p.empty()) return invalidIndexName(v);
    }
    return parts;
  }
  if (v.type() == element_type::NULL_VALUE) return std::vector<std::string>{};
  simdjson::dom::array list;
  if (v.get(list) != simdjson::SUCCESS || list.size() > 2) return invalidIndexName(v);
  std::vector<std::string> parts;
  for (element item : list) {
    std::string_view part;
    if (item.get(part) != simdjson::SUCCESS) return invalidIndexName(v);
    parts.emplace_back(part);
  }
  return parts;
}

Status sortOption(element v, std::vector<SortField>& out) {
  simdjson::dom::array specs;
  if (v.get(specs) != simdjson::SUCCESS)
    return mangoError("Sort must be an array of sort specs, not: " + term(v), "invalid_sort_json");
  for (element spec : specs) {
    std::string_view name;
    if (spec.get(name) == simdjson::SUCCESS) {
      if (name.empty()) return mangoError("Invalid sort field: <<>>", "invalid_sort_field");
      out.push_back({std::string(name), false});
      continue;
    }
    simdjson::dom::object obj;
    if (spec.get(obj) != simdjson::SUCCESS || obj.size() != 1)
      return mangoError("Invalid sort field: " + term(spec), "invalid_sort_field");
    auto member = *obj.begin();
    std::string_view dir;
    if (member.value.get(dir) != simdjson::SUCCESS || (dir != "asc" && dir != "desc"))
      return mangoError("Invalid sort direction: " + term(member.value), "invalid_sort_dir");
    out.push_back({std::string(member.key), dir == "desc"});
  }
  return Status::ok();
}

Status fieldsOption(element v, std::vector<std::string>& out) {
  simdjson::dom::array list;
  if (v.get(list) != simdjson::SUCCESS)
    return mangoError("Fields must be an array of strings, not: " + term(v), "invalid_fields");
  for (element item : list) {
    std::string_view name;
    if (item.get(name) != simdjson::SUCCESS)
      return mangoError("Invalid JSON for field spec: " + term(item), "invalid_field");
    out.emplace_back(name);
  }
  return Status::ok();
}

// What every query is checked for, whichever door it came in by.
Status checkOptions(const FindOptions& options) {
  if (options.useIndex.size() > 2)
    return mangoError("Invalid index name: use_index names a design document and at most an index",
                      "invalid_index_name");
  for (const auto& f : options.sort) {
    if (f.descending != options.sort.front().descending)
      return mangoError("Sorts currently only support a single direction for all fields.",
                        "unsupported_mixed_sort");
  }
  return Status::ok();
}

Result<Selector> selectorOf(element v) {
  if (v.type() != element_type::OBJECT)
    return mangoError("Selector must be a JSON object, not: " + term(v), "invalid_selector_json");
  return Selector::parse(v);
}

// A request body that must be a JSON object, parsed by `parser` (which owns what the object points into).
Result<simdjson::dom::object> bodyObject(simdjson::dom::parser& parser, std::string_view body) {
  element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS)
    return badRequest("invalid UTF-8 JSON");
  simdjson::dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return badRequest("Request body must be a JSON object");
  return obj;
}

}  // namespace

Result<FindQuery> parseFindRequest(std::string_view body) {
  simdjson::dom::parser parser;
  Result<simdjson::dom::object> parsed = bodyObject(parser, body);
  if (!parsed) return parsed.status();
  simdjson::dom::object obj = *parsed;

  auto member = [&](std::string_view name) -> std::optional<element> {
    element v;
    if (obj.at_key(name).get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  };

  auto sel = member("selector");
  if (!sel) return mangoError("Missing required key: selector", "missing_required_key");
  auto selector = selectorOf(*sel);
  if (!selector) return selector.status();
  FindQuery q{std::move(*selector), toJson(*sel), {}};
  FindOptions& o = q.options;

  if (auto v = member("use_index")) {
    auto parts = useIndexOption(*v);
    if (!parts) return parts.status();
    o.useIndex = std::move(*parts);
  }
  if (auto v = member("bookmark")) {
    std::string_view s;
    if (v->type() == element_type::NULL_VALUE) {
      // none: the first page
    } else if (v->get(s) == simdjson::SUCCESS) {
      o.bookmark.assign(s);
    } else {
      return mangoError("Invalid bookmark value: " + toJson(*v), "invalid_bookmark");
    }
  }
  for (auto [name, field] : {std::pair{"limit", &o.limit}, std::pair{"skip", &o.skip}}) {
    if (auto v = member(name)) {
      auto n = nonNegInteger(*v);
      if (!n) return n.status();
      *field = *n;
    }
  }
  if (auto v = member("sort")) {
    if (Status st = sortOption(*v, o.sort); !st) return st;
  }
  if (auto v = member("fields")) {
    if (Status st = fieldsOption(*v, o.fields); !st) return st;
  }
  if (auto v = member("partition")) {
    std::string_view p;
    if (v->get(p) != simdjson::SUCCESS || !p.empty())
      return badRequest("`partition` parameter is not supported in this db.");
  }
  if (auto v = member("r")) {
    int64_t r = 0;
    if (v->type() != element_type::INT64 || v->get(r) != simdjson::SUCCESS || r <= 0)
      return mangoError(term(*v) + " is not an integer greater than zero", "invalid_pos_integer");
    o.r = static_cast<uint32_t>(std::min<int64_t>(r, UINT32_MAX));
  }
  if (auto v = member("conflicts")) {
    auto b = boolOption(*v);
    if (!b) return b.status();
    o.conflicts = *b;
  }
  if (auto v = member("stale")) {
    std::string_view s;
    bool b = true;
    if (v->get(s) == simdjson::SUCCESS && s == "ok") {
      q.stale = true;
    } else if (!((v->get(s) == simdjson::SUCCESS && s == "false") ||
                 (v->get(b) == simdjson::SUCCESS && !b))) {
      return badRequest("Invalid value for stale: " + term(*v) + ", should be \"ok\" or false");
    }
  }
  const std::pair<const char*, bool*> flags[] = {{"update", &o.update},
                                                 {"stable", &o.stable},
                                                 {"execution_stats", &o.executionStats},
                                                 {"allow_fallback", &o.allowFallback}};
  for (auto [name, field] : flags) {
    if (auto v = member(name)) {
      auto b = boolOption(*v);
      if (!b) return b.status();
      *field = *b;
    }
  }
  if (q.stale) {
    o.update = false;
    o.stable = true;
  }
  static constexpr std::string_view kKnown[] = {
      "selector",      "use_index", "bookmark",  "limit", "skip",   "sort",   "fields",
      "partition",     "r",         "conflicts", "stale", "update", "stable", "execution_stats",
      "allow_fallback"};
  for (auto m : obj) {
    if (std::find(std::begin(kKnown), std::end(kKnown), m.key) == std::end(kKnown))
      return mangoError("Invalid key " + std::string(m.key) + " for this request.", "invalid_key");
  }
  if (Status st = checkOptions(o); !st) return st;
  return q;
}

Result<IndexDefinition> parseIndexRequest(std::string_view body) {
  simdjson::dom::parser parser;
  Result<simdjson::dom::object> parsed = bodyObject(parser, body);
  if (!parsed) return parsed.status();
  simdjson::dom::object obj = *parsed;
  auto member = [&](simdjson::dom::object o, std::string_view name) -> std::optional<element> {
    element v;
    if (o.at_key(name).get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  };
  IndexDefinition def;
  // mango_opts:validate_idx_create's order: index, type, name, ddoc, w, partitioned; then unknown keys.
  auto index = member(obj, "index");
  if (!index) return mangoError("Missing required key: index", "missing_required_key");
  if (auto v = member(obj, "type")) {
    std::string_view type;
    if (v->get(type) != simdjson::SUCCESS) return mangoError("Invalid string: " + term(*v), "invalid_string");
    if (type != "json") return mangoError("Invalid type for index: " + std::string(type), "invalid_index");
  }
  for (auto [name, field] : {std::pair{"name", &def.name}, std::pair{"ddoc", &def.ddoc}}) {
    if (auto v = member(obj, name)) {
      std::string_view s;
      if (v->get(s) != simdjson::SUCCESS) return mangoError("Invalid string: " + term(*v), "invalid_string");
      field->assign(s);
    }
  }
  if (auto v = member(obj, "w")) {
    int64_t w = 0;
    if (v->type() != element_type::INT64 || v->get(w) != simdjson::SUCCESS || w <= 0)
      return mangoError(term(*v) + " is not an integer greater than zero", "invalid_pos_integer");
  }
  if (auto v = member(obj, "partitioned")) {
    bool partitioned = false;
    if (v->get(partitioned) != simdjson::SUCCESS || partitioned)
      return mangoError("Invalid value for partitioned: " + term(*v), "invalid_partitioned_value");
  }
  static constexpr std::string_view kKnown[] = {"index", "type", "name", "ddoc", "w", "partitioned"};
  for (auto m : obj) {
    if (std::find(std::begin(kKnown), std::end(kKnown), m.key) == std::end(kKnown))
      return mangoError("Invalid key " + std::string(m.key) + " for this request.", "invalid_key");
  }
  simdjson::dom::object idx;
  if (index->get(idx) != simdjson::SUCCESS)
    return mangoError("JSON indexes must be an object, not: " + term(*index), "invalid_index");
  auto fields = member(idx, "fields");
  if (!fields) return mangoError("Missing required key: fields", "missing_required_key");
  if (Status st = sortOption(*fields, def.fields); !st) return st;
  for (const auto& f : def.fields) {
    if (f.descending != def.fields.front().descending)
      return mangoError("Sorts currently only support a single direction for all fields.",
                        "unsupported_mixed_sort");
  }
  if (auto v = member(idx, "partial_filter_selector")) {
    auto partial = selectorOf(*v);
    if (!partial) return partial.status();
    simdjson::dom::object p;
    if (v->get(p) == simdjson::SUCCESS && p.size() > 0) def.partialFilterSelector = toJson(*v);
  }
  return def;
}

Result<FindQuery> makeFindQuery(std::string_view selectorJson, const FindOptions& options) {
  simdjson::dom::parser parser;
  element sel;
  if (parser.parse(selectorJson.data(), selectorJson.size()).get(sel) != simdjson::SUCCESS)
    return badRequest("invalid selector JSON");
  auto selector = selectorOf(sel);
  if (!selector) return selector.status();
  if (Status st = checkOptions(options); !st) return st;
  return FindQuery{std::move(*selector), toJson(sel), options};
}

}  // namespace settee::db
