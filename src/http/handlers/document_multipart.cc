// Documents with attachment bodies as multipart: the multipart/related and multipart/mixed answers of
// GET /db/doc (framed as CouchDB 3 frames them, as pieces whose large bodies are read later from the
// store), and the multipart/related body of PUT /db/doc.
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

std::string& textOf(Pieces& out) {
  if (out.empty() || out.back().length > 0) out.emplace_back();
  return out.back().text;
}

void appendStored(Pieces& out, std::string_view digest, uint64_t offset, uint64_t length,
                  uint64_t inflateLimit) {
  if (length == 0) return;
  if (out.empty() || out.back().length > 0) out.emplace_back();
  Piece& p = out.back();
  p.digest.assign(digest);
  p.offset = offset;
  p.length = length;
  p.inflateLimit = inflateLimit;
}

bool readsStore(const Pieces& pieces) {
  for (const Piece& p : pieces) {
    if (p.length > 0) return true;
  }
  return false;
}

std::string joinText(Pieces&& pieces) {
  if (pieces.size() == 1) return std::move(pieces.front().text);
  size_t size = 0;
  for (const Piece& p : pieces) size += p.text.size();
  std::string out;
  out.reserve(size);
  for (const Piece& p : pieces) out += p.text;
  return out;
}

void appendRelated(MultipartWriter& writer, std::string_view json, std::vector<Attachment>& atts,
                   Pieces& out) {
  writer.addPart({{"Content-Type", "application/json"}}, json, textOf(out));
  for (Attachment& att : atts) {
    const bool reference = att.data.empty() && att.storedLength > 0;  // FollowMode::Reference, not loaded
    HeaderList headers{{"Content-Disposition", "attachment; filename=" + quotedName(att.name)},
                       {"Content-Type", att.contentType},
                       {"Content-Length", std::to_string(reference ? att.storedLength : att.data.size())}};
    if (!att.encoding.empty()) headers.emplace_back("Content-Encoding", att.encoding);
    writer.beginPart(headers, textOf(out));
    if (reference) {
      appendStored(out, att.digest, 0, att.storedLength);
    } else if (att.data.size() < kInlinePiece) {
      textOf(out).append(att.data);
    } else {
      out.emplace_back().text = std::move(att.data);
      out.emplace_back();
    }
    att.data.clear();
  }
  writer.finish(textOf(out));
}

void appendOpenRevPart(MultipartWriter& mixed, const OpenRev& rev, std::vector<Attachment>& atts,
                       Pieces& out) {
  if (!rev.found) {
    std::string body = writeJson([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "missing");
      db::writeString(w, rev.rev);
      w.EndObject();
    });
    mixed.addPart({{"Content-Type", "application/json; error=\"true\""}}, body, textOf(out));
    return;
  }
  if (atts.empty()) {
    mixed.addPart({{"Content-Type", "application/json"}}, rev.json, textOf(out));
    return;
  }
  MultipartWriter related(randomBoundary());
  mixed.beginPart({{"Content-Type", related.contentType("related")}}, textOf(out));
  appendRelated(related, rev.json, atts, out);
}

bool isMultipartRelated(const Request& req) {
  const std::string* type = req.header("Content-Type");
  if (!type) return false;
  std::string_view media = trimWhitespace(std::string_view(*type).substr(0, type->find(';')));
  return equalsIgnoreCase(media, "multipart/related");
}

Result<std::vector<std::string>> followsNames(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(json.data(), json.size()).get(root);
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
  return names;
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
  auto followed = followsNames(doc.json);
  if (!followed) return followed.status();
  std::vector<std::string>& names = *followed;
  if (names.size() != parts->size() - 1)
    return badRequest("The multipart body has " + std::to_string(parts->size() - 1) +
                      " attachment parts for " + std::to_string(names.size()) + " follows entries");
  for (size_t i = 0; i < names.size(); ++i)
    doc.bodies.push_back(AttachmentBody{std::move(names[i]), std::string((*parts)[i + 1].body), nullptr});
  return doc;
}

}  // namespace settee::http::detail
