#include "db/document.h"

#include "db/crypto.h"
#include "db/json.h"

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// The largest body whose buffer parseDocument() keeps for the next call on its thread.
constexpr size_t kKeptBodyBuffer = 64 * 1024;

Status invalid(std::string reason) { return {ErrorCode::DocValidation, std::move(reason)}; }

Status parseRevisions(element value, ParsedDoc& doc) {
  if (value.type() != element_type::OBJECT) return badRequest("_revisions must be an object");
  simdjson::dom::object obj(value);
  element start, ids;
  if (obj["start"].get(start) || obj["ids"].get(ids)) return badRequest("_revisions needs start and ids");
  if (start.type() != element_type::INT64 && start.type() != element_type::UINT64)
    return badRequest("_revisions.start must be an integer");
  int64_t s = start.type() == element_type::INT64 ? start.get_int64().value_unsafe()
                                                   : static_cast<int64_t>(start.get_uint64().value_unsafe());
  if (ids.type() != element_type::ARRAY) return badRequest("_revisions.ids must be an array");
  for (auto id : simdjson::dom::array(ids)) {
    if (id.type() != element_type::STRING) return badRequest("_revisions.ids must hold strings");
    std::string_view h = id.get_string().value_unsafe();
    if (!validRevHash(h)) return badRequest("Invalid revision id in _revisions");
    doc.revisionIds.emplace_back(h);
  }
  if (doc.revisionIds.empty()) return badRequest("_revisions.ids must not be empty");
  if (s < static_cast<int64_t>(doc.revisionIds.size())) return badRequest("_revisions.start is too small");
  doc.revisionsStart = static_cast<uint64_t>(s);
  return Status::ok();
}

Status parseUint(element obj, const char* key, uint64_t& out) {
  element v;
  if (obj[key].get(v)) return Status::ok();
  if (v.type() == element_type::UINT64) {
    out = v.get_uint64().value_unsafe();
  } else if (v.type() == element_type::INT64 && v.get_int64().value_unsafe() >= 0) {
    out = static_cast<uint64_t>(v.get_int64().value_unsafe());
  } else {
    return badRequest(std::string("attachment ") + key + " must be a non-negative integer");
  }
  return Status::ok();
}

Status parseAttachments(element value, ParsedDoc& doc) {
  if (value.type() != element_type::OBJECT) return badRequest("_attachments must be an object");
  for (auto field : simdjson::dom::object(value)) {
    if (field.value.type() != element_type::OBJECT) return badRequest("an attachment must be an object");
    AttachmentIn att;
    att.info.name.assign(field.key);
    if (att.info.name.empty()) return badRequest("attachment names must not be empty");
    element a = field.value;
    std::string_view s;
    if (!a["content_type"].get(s)) att.info.contentType.assign(s);
    if (!a["digest"].get(s)) att.info.digest.assign(s);
    if (!a["encoding"].get(s)) att.info.encoding.assign(s);
    if (Status st = parseUint(a, "length", att.info.length); !st) return st;
    if (Status st = parseUint(a, "encoded_length", att.info.encodedLength); !st) return st;
    if (Status st = parseUint(a, "revpos", att.info.revpos); !st) return st;
    bool flag = false;
    element data;
    if (!a["data"].get(data)) {
      if (data.type() != element_type::STRING) return badRequest("attachment data must be a base64 string");
      auto bytes = base64Decode(data.get_string().value_unsafe());
      if (!bytes) return badRequest("Invalid attachment data for " + att.info.name);
      att.kind = AttachmentIn::Kind::Inline;
      att.data = std::move(*bytes);
    } else if (!a["follows"].get(flag) && flag) {
      att.kind = AttachmentIn::Kind::Follows;
    } else if (!a["stub"].get(flag) && flag) {
      att.kind = AttachmentIn::Kind::Stub;
    } else {
      return badRequest("attachment " + att.info.name + " has neither data, stub nor follows");
    }
    if (att.kind != AttachmentIn::Kind::Stub && att.info.contentType.empty())
      att.info.contentType = "application/octet-stream";
    doc.attachments.push_back(std::move(att));
  }
  return Status::ok();
}

}  // namespace

Status validateDocId(std::string_view id) {
  if (id.empty()) return badRequest("Document id must not be empty");
  if (id.front() == '_') {
    for (std::string_view prefix : {"_design/", "_local/"}) {
      if (id.substr(0, prefix.size()) == prefix && id.size() > prefix.size()) return Status::ok();
    }
    return {ErrorCode::IllegalDocId, "Only reserved document ids may start with underscore."};
  }
  return Status::ok();
}

Result<ParsedDoc> parseDocument(element root, bool local) {
  if (root.type() != element_type::OBJECT) return badRequest("Document must be a JSON object");
  ParsedDoc doc;
  // One buffer per thread, reused: a body grown a piece at a time in a fresh one costs several
  // reallocations per document, which a replicator parsing thousands a second pays on every one.
  thread_local JsonBuffer buf;
  buf.Clear();
  // A large body's capacity is not kept for the thread's lifetime, whichever way the call ends.
  struct Shrink {
    ~Shrink() {
      if (buf.GetSize() <= kKeptBodyBuffer) return;
      buf.Clear();
      buf.ShrinkToFit();
    }
  } shrink;
  JsonWriter w(buf);
  w.StartObject();
  for (auto field : simdjson::dom::object(root)) {
    std::string_view key = field.key;
    element value = field.value;
    if (key.empty() || key.front() != '_') {
      writeKey(w, key);
      writeElement(w, value);
    } else if (key == "_id") {
      if (value.type() != element_type::STRING) return badRequest("Document id must be a string");
      doc.id.assign(value.get_string().value_unsafe());
      if (Status st = validateDocId(doc.id); !st) return st;
    } else if (key == "_rev") {
      if (value.type() != element_type::STRING) return badRequest("_rev must be a string");
      if (local) {
        doc.localRev.assign(value.get_string().value_unsafe());
        continue;
      }
      std::string_view text = value.get_string().value_unsafe();
      doc.rev = RevId::parse(text);
      if (!doc.rev) {
        if (!RevId::couchSyntax(text)) return badRequest("Invalid rev format");
        doc.unmatchableRev = true;
      }
    } else if (key == "_deleted") {
      if (value.type() != element_type::BOOL) return badRequest("_deleted must be a boolean");
      doc.deleted = value.get_bool().value_unsafe();
    } else if (key == "_revisions") {
      if (Status st = parseRevisions(value, doc); !st) return st;
    } else if (key == "_attachments") {
      if (Status st = parseAttachments(value, doc); !st) return st;
    } else if (key == "_conflicts" || key == "_deleted_conflicts" || key == "_revs_info" ||
               key == "_local_seq") {
      // Read-only members a client may echo back; CouchDB ignores them on input.
    } else if (key.substr(0, 13) == "_replication_") {
      // The scheduler's state fields of `_replicator` documents are kept as body members.
      writeKey(w, key);
      writeElement(w, value);
    } else {
      return invalid("Bad special document member: " + std::string(key));
    }
  }
  w.EndObject();
  doc.body.assign(bufferView(buf));
  const bool revOnPath =
      !doc.unmatchableRev &&
      (!doc.rev || (doc.rev->gen == doc.revisionsStart && doc.rev->hash == doc.revisionIds.front()));
  if (doc.revisionsStart && !revOnPath) return badRequest("_rev does not match _revisions");
  return doc;
}

std::string encodeAttachments(const std::vector<AttachmentInfo>& atts) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  for (const auto& a : atts) {
    w.StartObject();
    writeKey(w, "name");
    writeString(w, a.name);
    writeKey(w, "content_type");
    writeString(w, a.contentType);
    writeKey(w, "digest");
    writeString(w, a.digest);
    if (!a.encoding.empty()) {
      writeKey(w, "encoding");
      writeString(w, a.encoding);
      writeKey(w, "encoded_length");
      w.Uint64(a.encodedLength);
    }
    writeKey(w, "length");
    w.Uint64(a.length);
    writeKey(w, "revpos");
    w.Uint64(a.revpos);
    w.EndObject();
  }
  w.EndArray();
  return std::string(bufferView(buf));
}

std::vector<AttachmentInfo> decodeAttachments(std::string_view json) {
  std::vector<AttachmentInfo> out;
  if (json.empty()) return out;
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(json.data(), json.size()).get(root) || root.type() != element_type::ARRAY) return out;
  for (auto a : simdjson::dom::array(root)) {
    AttachmentInfo info;
    std::string_view s;
    uint64_t n = 0;
    if (!a["name"].get(s)) info.name.assign(s);
    if (!a["content_type"].get(s)) info.contentType.assign(s);
    if (!a["digest"].get(s)) info.digest.assign(s);
    if (!a["encoding"].get(s)) info.encoding.assign(s);
    if (!a["encoded_length"].get(n)) info.encodedLength = n;
    if (!a["length"].get(n)) info.length = n;
    if (!a["revpos"].get(n)) info.revpos = n;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace settee::db
