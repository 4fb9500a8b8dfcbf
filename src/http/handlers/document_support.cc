// What the document and attachment families share: revisions named by a write, Accept matching,
// Location and write answers, and rewriting a document's JSON object.
#include "http/system_dbs.h"
#include "db/rev_id.h"
#include "http/absolute_url.h"
#include "http/auth.h"
#include "http/client_url.h"
#include "http/handlers/document_internal.h"

namespace settee::http::detail {

Result<std::string> writeRev(const Request& req, bool local) {
  std::string rev;
  if (auto q = req.param("rev")) rev.assign(*q);
  if (const std::string* match = req.header("If-Match")) {
    std::string_view v = trimWhitespace(*match);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (!rev.empty() && !v.empty() && v != rev)
      return badRequest("Document rev and etag have different values");
    if (!v.empty()) rev.assign(v);
  }
  if (!rev.empty() && !local && !db::RevId::parse(rev)) return badRequest("Invalid rev format");
  return rev;
}

Result<std::string> readRev(const Request& req, std::string_view name) {
  auto v = req.param(name);
  if (!v || v->empty()) return std::string();
  if (!db::RevId::parse(*v)) return badRequest("Invalid rev format");
  return std::string(*v);
}

bool acceptsType(const Request& req, std::string_view type) {
  const std::string* accept = req.header("Accept");
  if (!accept) return false;
  std::string_view rest = *accept;
  while (!rest.empty()) {
    size_t end = rest.find_first_of(", ");
    std::string_view token = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    token = trimWhitespace(token.substr(0, token.find(';')));
    if (!token.empty() && equalsIgnoreCase(token, type)) return true;
  }
  return false;
}

std::string locationOf(const Call& call, std::string_view docId, std::string_view att) {
  std::string path = "/" + encodePathSegment(call.dbName) + "/" + encodePathSegment(docId);
  if (!att.empty()) path += "/" + encodePathSegment(att);
  return absoluteUrl(call.req, path);
}

Response writeAnswer(int status, const DocResult& result, const std::string& location) {
  Response r = Response::json(status, docResultJson(result));
  r.setHeader("ETag", "\"" + result.rev + "\"");
  if (!location.empty()) r.setHeader("Location", location);
  return r;
}

Status checkDocWriteAccess(Call& call, std::string_view docId) { return checkSystemDocWrite(call, docId); }

std::string rewriteObject(simdjson::dom::object doc, std::initializer_list<std::string_view> drop,
                          const std::function<void(db::JsonWriter&)>& more) {
  return writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    for (auto field : doc) {
      bool skip = false;
      for (std::string_view d : drop) skip = skip || field.key == d;
      if (skip) continue;
      db::writeKey(w, field.key);
      db::writeElement(w, field.value);
    }
    if (more) more(w);
    w.EndObject();
  });
}

}  // namespace settee::http::detail
