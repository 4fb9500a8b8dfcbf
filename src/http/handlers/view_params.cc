// The options of a view query, as CouchDB 3.4 reads them (couch_mrview_http:parse_params): from the query
// string (strings; keys as JSON), from a POST body or an entry of `queries` (JSON values), and the
// combinations it refuses (couch_mrview_util:validate_args), worded as CouchDB words them.
#include <algorithm>
#include <cctype>

#include "db/collate_key.h"
#include "http/handlers/view_internal.h"

namespace settee::http::detail {
namespace {

using simdjson::dom::element;

Status parseError(std::string reason) {
  return Status(ErrorCode::BadRequest, std::move(reason), "query_parse_error");
}

// One option's value: the query string's text, or a JSON value of a body.
struct Given {
  bool decoded = false;
  std::string_view text;  // when !decoded
  element value;          // when decoded
};

// Erlang's ~p of the value, as CouchDB's messages print it: a string in double quotes, else its JSON.
std::string shown(const Given& g) {
  std::string_view s;
  if (!g.decoded) return "\"" + std::string(g.text) + "\"";
  if (!g.value.get(s)) return "\"" + std::string(s) + "\"";
  return db::toJson(g.value);
}

Result<bool> asBool(const Given& g) {
  bool b = false;
  if (g.decoded && !g.value.get(b)) return b;
  std::string_view text = g.text;
  if (g.decoded && g.value.get(text)) return parseError("Invalid boolean parameter: " + shown(g));
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true") return true;
  if (lower == "false") return false;
  return parseError("Invalid boolean parameter: " + shown(g));
}

Result<uint64_t> asPosInt(const Given& g) {
  int64_t n = 0;
  bool negative = false;
  if (g.decoded) {
    uint64_t u = 0;
    if (!g.value.get(u)) return u;
    if (g.value.get(n)) return parseError("Invalid value for integer: " + shown(g));
    negative = true;
  } else {
    // Erlang's list_to_integer: an optional sign, then at least one digit and nothing else.
    std::string_view t = g.text;
    bool minus = false;
    if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
      minus = t[0] == '-';
      t.remove_prefix(1);
    }
    if (t.empty() || t.size() > 18 ||
        !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return parseError("Invalid value for integer: " + shown(g));
    uint64_t u = std::stoull(std::string(t));
    if (!minus || u == 0) return u;
    negative = true;
  }
  if (negative) return parseError("Invalid value for positive integer: " + shown(g));
  return static_cast<uint64_t>(n);
}

// A JSON value (keys): the query string's text parsed, or the body's value, minified.
Result<std::string> asJson(const Given& g, std::string_view name) {
  if (g.decoded) return db::toJson(g.value);
  simdjson::dom::parser parser;
  element v;
  if (parser.parse(g.text.data(), g.text.size()).get(v))
    return badRequest("Invalid JSON in query parameter " + std::string(name));
  return db::toJson(v);
}

// couch_util:to_binary: a string as it is (a body's JSON string unquoted).
std::string asText(const Given& g) {
  std::string_view s;
  if (!g.decoded) return std::string(g.text);
  if (!g.value.get(s)) return std::string(s);
  return db::toJson(g.value);
}

Status applyOption(ViewQuery& q, std::string_view name, const Given& g) {
  auto setBool = [&](bool& field) -> Status {
    auto b = asBool(g);
    if (!b) return b.status();
    field = *b;
    return Status::ok();
  };
  auto setInt = [&](uint64_t& field) -> Status {
    auto n = asPosInt(g);
    if (!n) return n.status();
    field = *n;
    return Status::ok();
  };
  auto setKey = [&](std::optional<std::string>& field) -> Status {
    auto json = asJson(g, name);
    if (!json) return json.status();
    field = std::move(*json);
    return Status::ok();
  };
  if (name == "reduce") {
    bool b = false;
    if (Status st = setBool(b); !st) return st;
    q.reduce = b;
  } else if (name == "key") {
    if (Status st = setKey(q.startKey); !st) return st;
    q.endKey = q.startKey;
  } else if (name == "keys") {
    auto json = asJson(g, name);
    if (!json) return json.status();
    simdjson::dom::parser parser;
    simdjson::dom::array list;
    if (parser.parse(*json).get(list)) return parseError("`keys` must be an array of strings.");
    q.keys.emplace();
    for (element k : list) q.keys->push_back(db::toJson(k));
  } else if (name == "startkey" || name == "start_key") {
    return setKey(q.startKey);
  } else if (name == "endkey" || name == "end_key") {
    return setKey(q.endKey);
  } else if (name == "startkey_docid" || name == "start_key_doc_id") {
    q.startKeyDocId = asText(g);
  } else if (name == "endkey_docid" || name == "end_key_doc_id") {
    q.endKeyDocId = asText(g);
  } else if (name == "limit") {
    return setInt(q.limit);
  } else if (name == "skip") {
    return setInt(q.skip);
  } else if (name == "stale") {
    const std::string v = asText(g);
    if (v == "ok") {
      q.stable = true;
      q.update = ViewUpdate::Never;
    } else if (v == "update_after") {
      q.stable = true;
      q.update = ViewUpdate::After;
    } else {
      return parseError("Invalid value for `stale`.");
    }
  } else if (name == "stable") {
    const std::string v = asText(g);
    if (v != "true" && v != "false") return parseError("Invalid value for `stable`.");
    q.stable = v == "true";
  } else if (name == "update") {
    const std::string v = asText(g);
    if (v == "true")
      q.update = ViewUpdate::Now;
    else if (v == "false")
      q.update = ViewUpdate::Never;
    else if (v == "lazy")
      q.update = ViewUpdate::After;
    else
      return parseError("Invalid value for `update`.");
  } else if (name == "descending") {
    return setBool(q.descending);
  } else if (name == "group") {
    bool b = false;
    if (Status st = setBool(b); !st) return st;
    q.group = b;
  } else if (name == "group_level") {
    uint64_t n = 0;
    if (Status st = setInt(n); !st) return st;
    q.groupLevel = n;
  } else if (name == "inclusive_end") {
    return setBool(q.inclusiveEnd);
  } else if (name == "include_docs") {
    return setBool(q.includeDocs);
  } else if (name == "attachments") {
    return setBool(q.attachments);
  } else if (name == "att_encoding_info") {
    return setBool(q.attEncodingInfo);
  } else if (name == "update_seq") {
    return setBool(q.updateSeq);
  } else if (name == "conflicts") {
    bool b = false;
    if (Status st = setBool(b); !st) return st;
    q.conflicts = b;
  } else if (name == "sorted") {
    return setBool(q.sorted);
  }
  return Status::ok();  // anything else CouchDB keeps as an `extra` no view reads
}

Status applyQueryString(ViewQuery& q, const Request& req) {
  for (const auto& [name, value] : req.query) {
    Given g;
    g.text = value;
    if (Status st = applyOption(q, name, g); !st) return st;
  }
  return Status::ok();
}

Status applyObject(ViewQuery& q, simdjson::dom::object obj) {
  for (auto field : obj) {
    Given g;
    g.decoded = true;
    g.value = field.value;
    if (Status st = applyOption(q, field.key, g); !st) return st;
  }
  return Status::ok();
}

Result<simdjson::dom::object> bodyObject(const Request& req, simdjson::dom::parser& parser) {
  auto body = jsonBody(req, parser);
  if (!body) return body.status();
  simdjson::dom::object obj;
  if ((*body).get(obj)) return badRequest("Request body must be a JSON object");
  return obj;
}

// CouchDB's collation of two view keys (JSON text): negative, zero or positive.
int collate(const std::string& a, const std::string& b) {
  simdjson::dom::parser pa, pb;
  element ea, eb;
  if (pa.parse(a).get(ea) || pb.parse(b).get(eb)) return a.compare(b);
  std::string ka, kb;
  db::appendCollationKey(ea, ka);
  db::appendCollationKey(eb, kb);
  return ka.compare(kb);
}

}  // namespace

Result<ViewQuery> parseViewRequest(const Request& req, bool post) {
  ViewQuery q;
  if (post) {
    simdjson::dom::parser parser;
    auto obj = bodyObject(req, parser);
    if (!obj) return obj.status();
    element member;
    if (!(*obj)["queries"].get(member))
      return badRequest("The `queries` parameter is no longer supported at this endpoint");
    if (!(*obj)["keys"].get(member) && !member.is_array())
      return badRequest("`keys` member must be an array.");
    if (Status st = applyObject(q, *obj); !st) return st;
  }
  if (Status st = applyQueryString(q, req); !st) return st;
  return q;
}

Result<std::vector<ViewQuery>> parseViewQueries(const Request& req) {
  ViewQuery defaults;
  if (Status st = applyQueryString(defaults, req); !st) return st;
  // Each entry is read over the query string's options, but not its keys or grouping (CouchDB resets
  // those before it reads an entry).
  defaults.keys.reset();
  defaults.group.reset();
  defaults.groupLevel.reset();
  simdjson::dom::parser parser;
  auto obj = bodyObject(req, parser);
  if (!obj) return obj.status();
  element queries;
  if ((*obj)["queries"].get(queries)) return badRequest("POST body must include `queries` parameter.");
  simdjson::dom::array list;
  if (queries.get(list)) return badRequest("`queries` member must be an array.");
  std::vector<ViewQuery> out;
  out.reserve(list.size());
  for (element entry : list) {
    simdjson::dom::object fields;
    if (entry.get(fields)) return badRequest("Each entry of `queries` must be a JSON object.");
    ViewQuery q = defaults;
    if (Status st = applyObject(q, fields); !st) return st;
    out.push_back(std::move(q));
  }
  return out;
}

Status validateViewQuery(const ViewQuery& q, const ViewTarget& target) {
  const bool hasReduce = !target.spec.views[target.view].reduce.empty();
  const bool red = hasReduce && q.reduce != std::optional<bool>(false);
  // determine_group_level: 0, a level, or exact (group=true).
  const bool exact = q.group == std::optional<bool>(true) && !q.groupLevel;
  const uint64_t level = q.groupLevel.value_or(0);
  if (q.group == std::optional<bool>(false) && level > 0)
    return parseError("Can't specify group=false and group_level>0 at the same time");
  if (!hasReduce && q.reduce == std::optional<bool>(true))
    return parseError("Reduce is invalid for map-only views.");
  if (red && !exact && q.keys) return parseError("Multi-key fetchs for reduce views must use `group=true`");
  if (q.keys && !q.keys->empty() && (q.startKey || q.endKey))
    return parseError("`keys` is incompatible with `key`, `start_key` and `end_key`");
  if (!red && (exact || level > 0)) return parseError("Invalid use of grouping on a map view.");
  if (red && q.includeDocs) return parseError("`include_docs` is invalid for reduce");
  if (red && q.conflicts) return parseError("`conflicts` is invalid for reduce views.");
  // check_range: the range must run the way the rows are read ((key, docid) pairs; ids compare as bytes,
  // and an absent docid is the lowest id at the start of an ascending range, the highest at its end).
  if (q.startKey && q.endKey && *q.startKey != *q.endKey) {
    const std::string low = "", high = "\xff";
    const std::string sd = q.startKeyDocId.value_or(q.descending ? high : low);
    const std::string ed = q.endKeyDocId.value_or(q.descending ? low : high);
    int c = collate(*q.startKey, *q.endKey);
    const bool less = c < 0 || (c == 0 && sd < ed);
    if (!q.descending && !less)
      return parseError(
          "No rows can match your key range, reverse your start_key and end_key or set descending=true");
    if (q.descending && less)
      return parseError(
          "No rows can match your key range, reverse your start_key and end_key or set descending=false");
  }
  return Status::ok();
}

}  // namespace settee::http::detail
