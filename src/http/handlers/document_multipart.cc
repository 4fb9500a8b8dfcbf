// Documents with attachment bodies as multipart: the multipart/related and multipart/mixed answers of
// GET /db/doc (framed as CouchDB 3 frames them), and the multipart/related body of PUT /db/doc.
#include "http/handlers/document_internal.h"

namespace settee::http::detail {
namespace {

// Attachments smaller than this are copied into the framing text; larger ones travel as pieces of
// their own so that megabytes are moved, not copied.
constexpr size_t kInlinePiece = 16 * 1024;

// `"name"` for a Content-Disposition filename, with `"` and `\` escaped.
std::string quotedName(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

void appendRelated(MultipartWriter& writer, std::string_view json, std::vector<Attachment>& atts,
                   Pieces& out) {
  if (out.empty()) out.emplace_back();
  writer.addPart({{"Content-Type", "application/json"}}, json, out.back());
  for (Attachment& att : atts) {
    HeaderList headers{{"Content-Disposition", "attachment; filename=" + quotedName(att.name)},
                       {"Content-Type", att.contentType},
                       {"Content-Length", std::to_string(att.data.size())}};
    if (!att.encoding.empty()) headers.emplace_back("Content-Encoding", att.encoding);
    writer.beginPart(headers, out.back());
    if (att.data.size() < kInlinePiece) {
      out.back().append(att.data);
    } else {
      out.push_back(std::move(att.data));
      out.emplace_back();
    }
    att.data.clear();
  }
  writer.finish(out.back());
}

void appendOpenRevPart(MultipartWriter& mixed, const OpenRev& rev, std::vector<Attachment>& atts,
                       Pieces& out) {
  if (out.empty()) out.emplace_back();
  if (!rev.found) {
    std::string body = writeJson([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "missing");
      db::writeString(w, rev.rev);
      w.EndObject();
    });
    mixed.addPart({{"Content-Type", "application/json; error=\"true\""}}, body, out.back());
    return;
  }
  if (atts.empty()) {
    mixed.addPart({{"Content-Type", "application/json"}}, rev.json, out.back());
    return;
  }
  MultipartWriter related(randomBoundary());
  mixed.beginPart({{"Content-Type", related.contentType("related")}}, out.back());
  appendRelated(related, rev.json, atts, out);
}

bool isMultipartRelated(const Request& req) {
  const std::string* type = req.header("Content-Type");
  if (!type) return false;
  std::string_view media = trimWhitespace(std::string_view(*type).substr(0, type->find(';')));
  return equalsIgnoreCase(media, "multipart/related");
}

Result<RelatedDoc> parseRelated(const Request& req) {
  const std::string* type = req.header("Content-Type");
  auto boundary = type ? boundaryOf(*type) : std::nullopt;
  if (!boundary) return badRequest("multipart/related without a boundary");
  auto parts = parseMultipart(req.body, *boundary);
  if (!parts) return parts.status();
  if (parts->empty()) return badRequest("multipart/related body without a document part");

  RelatedDoc doc;
  doc.json.assign((*parts)[0].body);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(doc.json.data(), doc.json.size()).get(root);
  if (err == simdjson::UTF8_ERROR) return badRequest("Invalid UTF-8 in the document part");
  if (err) return badRequest("Invalid JSON in the document part");
  simdjson::dom::object obj, atts;
  if (root.get(obj)) return badRequest("Document must be a JSON object");
  std::vector<std::string> names;
  if (!obj["_attachments"].get(atts)) {
    for (auto field : atts) {
      bool follows = false;
      if (!field.value["follows"].get(follows) && follows) names.emplace_back(field.key);
    }
  }
  if (names.size() != parts->size() - 1)
    return badRequest("The multipart body has " + std::to_string(parts->size() - 1) +
                      " attachment parts for " + std::to_string(names.size()) + " follows entries");
  for (size_t i = 0; i < names.size(); ++i)
    doc.bodies.push_back(AttachmentBody{std::move(names[i]), std::string((*parts)[i + 1].body)});
  return doc;
}

}  // namespace settee::http::detail
