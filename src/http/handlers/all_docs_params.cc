// The options of _all_docs / _design_docs listings: from the query string (JSON-encoded values), from a
// POST body (`keys` above all, as PouchDB sends it), and from the entries of a POST .../queries body.
#include <algorithm>

#include "http/handlers/all_docs_internal.h"

namespace settee::http::detail {
namespace {

using simdjson::dom::element;

IdBound toBound(element v) {
  IdBound b;
  b.present = true;
  std::string_view s;
  if (v.get(s))
    b.belowAll = true;
  else
    b.id.assign(s);
  return b;
}

Status badBool(std::string_view name) {
  return badRequest("Invalid boolean parameter: \"" + std::string(name) + "\"");
}

// CouchDB's words for a `keys` that is not an array, after where it was given.
Status keysNotArray(OptionSource source) {
  switch (source) {
    case OptionSource::QueryString:
      return badRequest("`keys` parameter must be an array.");
    case OptionSource::Body:
      return badRequest("`keys` body member must be an array.");
    case OptionSource::QueriesEntry:
      break;
  }
  return Status(ErrorCode::BadRequest, "`keys` must be an array of strings.", "query_parse_error");
}

// One option given as a JSON value (a body member, or a query parameter's decoded value).
Status applyOption(AllDocsQuery& q, std::string_view name, element v, OptionSource source) {
  const std::pair<std::string_view, bool*> bools[] = {
      {"inclusive_end", &q.inclusiveEnd}, {"descending", &q.descending},
      {"include_docs", &q.includeDocs},   {"conflicts", &q.conflicts},
      {"attachments", &q.attachments},    {"att_encoding_info", &q.attEncodingInfo},
      {"update_seq", &q.updateSeq}};
  for (auto [n, field] : bools) {
    if (name == n) return v.get(*field) ? badBool(name) : Status::ok();
  }
  if (name == "limit" || name == "skip") {
    uint64_t n = 0;
    int64_t i = 0;
    if (v.get(n) && (v.get(i) || i < 0))
      return badRequest("Invalid value for positive integer: \"" + std::string(name) + "\"");
    if (v.get(n)) n = static_cast<uint64_t>(i);
    (name == "limit" ? q.limit : q.skip) = n;
  } else if (name == "startkey" || name == "start_key") {
    q.start = toBound(v);
  } else if (name == "endkey" || name == "end_key") {
    q.end = toBound(v);
  } else if (name == "key") {
    q.start = q.end = toBound(v);
    q.hasKey = true;
  } else if (name == "keys") {
    // An entry of `queries` replaces the query string's keys; one request giving them twice is refused.
    if (q.keys && source != OptionSource::QueriesEntry) return badRequest("`keys` was given twice");
    simdjson::dom::array list;
    if (v.get(list)) return keysNotArray(source);
    q.keys.emplace();
    q.keys->reserve(list.size());
    for (element k : list) {
      std::string_view s;
      if (!k.get(s)) {
        q.keys->push_back({true, std::string(s)});
      } else {
        db::JsonBuffer buf;
        db::JsonWriter w(buf);
        db::writeElement(w, k);
        q.keys->push_back({false, std::string(db::bufferView(buf))});
      }
    }
  }
  return Status::ok();  // other options (stale, sorted, binary, ...) mean nothing here and are ignored
}

Status applyQueryString(AllDocsQuery& q, const Request& req) {
  static constexpr std::string_view kNames[] = {
      "inclusive_end",     "descending", "include_docs", "conflicts", "attachments",
      "att_encoding_info", "update_seq", "limit",        "skip",      "startkey",
      "start_key",         "endkey",     "end_key",      "key",       "keys"};
  for (const auto& [name, value] : req.query) {
    if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames)) continue;
    // Booleans and integers must be written as JSON would write them; a parser per value, since a
    // simdjson parser holds one document at a time and applyOption copies what it keeps.
    simdjson::dom::parser parser;
    element v;
    if (parser.parse(value.data(), value.size()).get(v)) {
      if (name == "limit" || name == "skip")
        return badRequest("Invalid value for positive integer: \"" + name + "\"");
      if (name.find("key") == std::string::npos) return badBool(name);
      return badRequest("Invalid JSON in query parameter " + name);
    }
    if (Status st = applyOption(q, name, v, OptionSource::QueryString); !st) return st;
  }
  return Status::ok();
}

Status applyObject(AllDocsQuery& q, simdjson::dom::object obj, OptionSource source) {
  for (auto field : obj) {
    if (Status st = applyOption(q, field.key, field.value, source); !st) return st;
  }
  return Status::ok();
}

Status checkCombination(const AllDocsQuery& q) {
  if (q.keys && (q.hasKey || q.start.present || q.end.present))
    return badRequest("`keys` is incompatible with `key`, `start_key` and `end_key`");
  return Status::ok();
}

}  // namespace

Result<AllDocsQuery> parseAllDocsRequest(const Request& req, bool post) {
  AllDocsQuery q;
  if (Status st = applyQueryString(q, req); !st) return st;
  if (post) {
    simdjson::dom::parser parser;
    auto body = jsonBody(req, parser);
    if (!body) return body.status();
    simdjson::dom::object obj;
    if ((*body).get(obj)) return badRequest("Request body must be a JSON object");
    if (Status st = applyObject(q, obj, OptionSource::Body); !st) return st;
  }
  if (Status st = checkCombination(q); !st) return st;
  return q;
}

Result<std::vector<AllDocsQuery>> parseAllDocsQueries(const Request& req) {
  AllDocsQuery defaults;
  if (Status st = applyQueryString(defaults, req); !st) return st;
  simdjson::dom::parser parser;
  // CouchDB reads this body without checking its Content-Type (unlike POST _all_docs).
  auto body = jsonBody(req, parser, false);
  if (!body) return body.status();
  simdjson::dom::object obj;
  if ((*body).get(obj)) return badRequest("Request body must be a JSON object");
  element queries;
  if (obj["queries"].get(queries)) return badRequest("POST body must include `queries` parameter.");
  simdjson::dom::array list;
  if (queries.get(list)) return badRequest("`queries` member must be an array.");
  std::vector<AllDocsQuery> out;
  out.reserve(list.size());
  for (element entry : list) {
    simdjson::dom::object fields;
    if (entry.get(fields)) return badRequest("Each entry of `queries` must be a JSON object.");
    AllDocsQuery q = defaults;
    if (Status st = applyObject(q, fields, OptionSource::QueriesEntry); !st) return st;
    if (Status st = checkCombination(q); !st) return st;
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace settee::http::detail
