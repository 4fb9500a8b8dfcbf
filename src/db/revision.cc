#include "db/revision.h"

#include <cstring>

#include "db/crypto.h"

namespace settee::db {
namespace {

void writeAttachment(JsonWriter& w, const AttachmentIn& att, const RenderOptions& options) {
  const AttachmentInfo& info = att.info;
  const bool follows =
      att.kind == AttachmentIn::Kind::Follows ||
      (att.kind == AttachmentIn::Kind::Inline && options.attachments == RenderOptions::Attachments::Follows);
  w.StartObject();
  if (!info.contentType.empty()) {  // parseDocument() gives one to every attachment with bytes
    writeKey(w, "content_type");
    writeString(w, info.contentType);
  }
  if (!info.digest.empty()) {
    writeKey(w, "digest");
    writeString(w, info.digest);
  }
  if (info.revpos) {
    writeKey(w, "revpos");
    w.Uint64(info.revpos);
  }
  // Held bytes decide the lengths; otherwise what the revision said of them.
  const bool held = att.kind == AttachmentIn::Kind::Inline;
  uint64_t length = info.length;
  if (held && (info.encoding.empty() || length == 0)) length = att.data.size();
  if (att.kind != AttachmentIn::Kind::Inline || follows || length) {
    writeKey(w, "length");
    w.Uint64(length);
  }
  // A stub's bytes do not travel, so neither does their encoding (as the store renders a stub).
  if (!info.encoding.empty() && att.kind != AttachmentIn::Kind::Stub) {
    writeKey(w, "encoding");
    writeString(w, info.encoding);
    writeKey(w, "encoded_length");
    w.Uint64(held ? att.data.size() : info.encodedLength);
  }
  if (follows) {
    writeKey(w, "follows");
    w.Bool(true);
  } else if (held) {
    writeKey(w, "data");
    writeString(w, base64Encode(att.data));
  } else {
    writeKey(w, "stub");
    w.Bool(true);
  }
  w.EndObject();
}

// The special members of `rev` as a JSON object (the body's members are joined to it after).
void writeSpecials(JsonWriter& w, const Revision& rev, const RenderOptions& options) {
  w.StartObject();
  if (!rev.id.empty()) {
    writeKey(w, "_id");
    writeString(w, rev.id);
  }
  if (rev.rev || !rev.localRev.empty()) {
    writeKey(w, "_rev");
    writeString(w, rev.revString());
  }
  if (rev.deleted) {
    writeKey(w, "_deleted");
    w.Bool(true);
  }
  if (!rev.attachments.empty()) {
    writeKey(w, "_attachments");
    w.StartObject();
    for (const auto& att : rev.attachments) {
      writeKey(w, att.info.name);
      writeAttachment(w, att, options);
    }
    w.EndObject();
  }
  if (options.revisions && !rev.revisionIds.empty()) {
    writeKey(w, "_revisions");
    w.StartObject();
    writeKey(w, "start");
    w.Uint64(rev.revisionsStart);
    writeKey(w, "ids");
    w.StartArray();
    for (const auto& id : rev.revisionIds) writeString(w, id);
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
}

// Appends the special members' object with the body's members joined to it. Both are written by
// RapidJSON (the body minified when it was parsed), so joining their member lists needs no escaping; the
// body goes in with one copy.
void appendRevision(JsonBuffer& buf, const Revision& rev, const RenderOptions& options) {
  const size_t start = buf.GetSize();
  JsonWriter head(buf);
  writeSpecials(head, rev, options);
  std::string_view body = rev.body;
  if (body.size() <= 2) return;
  const bool noSpecials = buf.GetSize() - start == 2;  // "{}"
  buf.Pop(noSpecials ? 2 : 1);
  if (noSpecials) {
    std::memcpy(buf.Push(body.size()), body.data(), body.size());
    return;
  }
  *buf.Push(1) = ',';
  body.remove_prefix(1);
  std::memcpy(buf.Push(body.size()), body.data(), body.size());
}

}  // namespace

uint64_t Revision::stubBytes() const {
  uint64_t total = 0;
  for (const auto& att : attachments) total += att.info.length;
  return total;
}

uint64_t Revision::inlineBytes() const {
  uint64_t total = 0;
  for (const auto& att : attachments) total += att.data.size();
  return total;
}

void renderRevision(JsonWriter& w, JsonBuffer& buf, const Revision& rev, const RenderOptions& options) {
  // The writer puts the separator before a value; the text then goes straight into its buffer (RapidJSON
  // copies a raw value a byte at a time).
  w.RawValue("", 0, rapidjson::kObjectType);
  appendRevision(buf, rev, options);
}

std::string renderRevision(const Revision& rev, const RenderOptions& options) {
  JsonBuffer buf;
  appendRevision(buf, rev, options);
  return std::string(bufferView(buf));
}

}  // namespace settee::db
