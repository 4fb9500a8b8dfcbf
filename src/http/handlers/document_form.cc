// POST /{db}/{docid} with a multipart/form-data body: CouchDB's HTML form upload (chttpd_db's POST of a
// document). The form names the document to change — a `_rev` field (that revision, as stored) or a
// `_doc` field (the document's JSON) — and carries files in `_attachments` fields, each stored as an
// attachment named after its file name, replacing one of that name; the document's other attachments
// stay as they are. Answered 201 {"ok","id","rev"} with the new revision as ETag.
//
// As CouchDB, the request must come from a page of this node (a Referer naming the Host), since a form
// post is what a page of another site could make a browser send with the user's cookie.
#include "db/database_internal.h"
#include "db/rev_id.h"
#include "http/design_functions.h"
#include "http/handlers/document_internal.h"
#include "http/system_dbs.h"

namespace settee::http::detail {
namespace {

// The parameter `param` (name, filename) of a Content-Disposition value, quotes removed; nullopt when
// absent.
std::optional<std::string> dispositionParam(std::string_view value, std::string_view param) {
  while (!value.empty()) {
    size_t semi = value.find(';');
    std::string_view item = trimWhitespace(value.substr(0, semi));
    value = semi == std::string_view::npos ? std::string_view() : value.substr(semi + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || !equalsIgnoreCase(trimWhitespace(item.substr(0, eq)), param))
      continue;
    std::string_view v = trimWhitespace(item.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return std::nullopt;
}

// The host part of a URL ("http://h:5984/db/x" -> "h:5984"), as mochiweb's urlsplit takes it.
std::string_view urlHost(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  url.remove_prefix(scheme + 3);
  return url.substr(0, url.find_first_of("/?#"));
}

// CouchDB's validate_referer: the form must come from a page of this node.
Status checkReferer(const Request& req) {
  const std::string* referer = req.header("Referer");
  if (!referer) return badRequest("Referer header required.");
  const std::string* forwarded = req.header("X-Forwarded-Host");
  const std::string* host = forwarded ? forwarded : req.header("Host");
  if (!host || urlHost(*referer) != *host) return badRequest("Referer header must match host.");
  return Status::ok();
}

struct Upload {
  std::string name;  // the file name, which names the attachment
  std::string contentType;
  std::string_view data;  // a view into the request body
};

}  // namespace

Response postDocForm(Call& call) {
  const std::string* ddoc = call.params.get("ddoc");
  std::string id = ddoc ? "_design/" + *ddoc : call.params["docid"];
  if (Status st = checkReferer(call.req); !st) return errorResponse(st);
  const std::string* type = call.req.header("Content-Type");
  constexpr std::string_view kForm = "multipart/form-data";
  if (!type || type->size() < kForm.size() ||
      !equalsIgnoreCase(std::string_view(*type).substr(0, kForm.size()), kForm))
    return errorResponse(Status(ErrorCode::BadContentType, "Content-Type must be multipart/form-data"));
  if (Status st = checkDocWriteAccess(call, id); !st) return errorResponse(st);
  auto boundary = boundaryOf(*type);
  if (!boundary) return errorResponse(badRequest("multipart/form-data without a boundary"));
  auto parts = parseMultipart(call.req.body, *boundary);
  if (!parts) return errorResponse(parts.status());

  std::optional<std::string> docField, revField;
  std::vector<Upload> uploads;
  for (const Part& part : *parts) {
    const std::string* disposition = part.header("Content-Disposition");
    if (!disposition) continue;
    auto name = dispositionParam(*disposition, "name");
    if (!name) continue;
    if (*name == "_attachments") {
      auto file = dispositionParam(*disposition, "filename");
      if (!file || file->empty()) continue;  // an empty file input: no file was chosen
      if ((*file)[0] == '_') return errorResponse(badRequest("Attachment name can't start with '_'"));
      const std::string* partType = part.header("Content-Type");
      uploads.push_back({std::move(*file), partType ? *partType : "application/octet-stream", part.body});
    } else if (*name == "_doc") {
      docField.emplace(part.body);
    } else if (*name == "_rev") {
      revField.emplace(part.body);
    }
  }

  // The document the uploads go into: the form's `_doc`, or the stored revision `_rev` names.
  std::string base;
  if (docField) {
    auto rev = writeRev(call.req);
    if (!rev) return errorResponse(rev.status());
    base = std::move(*docField);
    if (!rev->empty()) {
      simdjson::dom::parser check;
      simdjson::dom::object obj;
      if (check.parse(base).get(obj)) return errorResponse(badRequest("Document must be a JSON object"));
      std::string_view bodyRev;
      if (obj["_rev"].get(bodyRev)) {
        base = rewriteObject(obj, {}, [&](db::JsonWriter& w) {
          db::writeKey(w, "_rev");
          db::writeString(w, *rev);
        });
      } else if (bodyRev != *rev) {
        return errorResponse(
            badRequest("Document rev from request body and query string have different values"));
      }
    }
  } else {
    if (!revField || revField->empty())
      return errorResponse(badRequest("Document rev is required: a `_rev` or `_doc` field"));
    if (!db::RevId::parse(*revField)) return errorResponse(badRequest("Invalid rev format"));
    ReadOptions read;
    read.rev = *revField;
    auto stored = call.db->get(id, read);
    if (!stored) return errorResponse(stored.status());
    base = std::move(*stored);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(base).get(root);
  if (err == simdjson::UTF8_ERROR) return errorResponse(badRequest("Invalid UTF-8 in request body"));
  if (err) return errorResponse(badRequest("Invalid JSON in request body"));
  simdjson::dom::object obj;
  if (root.get(obj)) return errorResponse(badRequest("Document must be a JSON object"));

  // _attachments: the uploads (their bodies follow, as in a multipart/related PUT), then every other
  // attachment the document had, as it was.
  std::vector<AttachmentBody> bodies;
  std::string json = rewriteObject(obj, {"_id", "_attachments"}, [&](db::JsonWriter& w) {
    db::writeKey(w, "_attachments");
    w.StartObject();
    for (const Upload& up : uploads) {
      db::writeKey(w, up.name);
      w.StartObject();
      db::writeKey(w, "content_type");
      db::writeString(w, up.contentType);
      db::writeKey(w, "length");
      w.Uint64(up.data.size());
      db::writeKey(w, "follows");
      w.Bool(true);
      w.EndObject();
    }
    simdjson::dom::object old;
    if (!obj["_attachments"].get(old)) {
      for (auto field : old) {
        bool replaced = false;
        for (const Upload& up : uploads) replaced = replaced || up.name == field.key;
        if (replaced) continue;
        db::writeKey(w, field.key);
        db::writeElement(w, field.value);
      }
    }
    w.EndObject();
  });
  for (const Upload& up : uploads) bodies.push_back(AttachmentBody{up.name, std::string(up.data), nullptr});
  auto body = systemDocBody(call, std::move(json));
  if (!body) return errorResponse(body.status());
  if (Status st = validateWrite(call, id, *body); !st) return errorResponse(st);
  auto written = call.db->put(*body, {.id = id}, std::move(bodies));
  if (!written) return errorResponse(written.status());
  return writeAnswer(201, *written);
}

}  // namespace settee::http::detail
