#include "db/revision.h"

#include "db/crypto.h"

namespace settee::db {
namespace {

void writeAttachment(JsonWriter& w, const AttachmentIn& att, const RenderOptions& options) {
  const AttachmentInfo& info = att.info;
  const bool follows =
      att.kind == AttachmentIn::Kind::Follows ||
      (att.kind == AttachmentIn::Kind::Inline && options.attachments == RenderOptions::Attachments::Follows);
  w.StartObject();
  writeKey(w, "content_type");
  writeString(w, info.contentType);
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
  if (!info.encoding.empty()) {
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

// The special members' object with the body's members joined to it. Both were written by RapidJSON
// (the body minified when it was parsed), so joining their member lists needs no escaping.
void renderInto(std::string& out, const Revision& rev, const RenderOptions& options) {
  JsonBuffer buf;
  JsonWriter w(buf);
  writeSpecials(w, rev, options);
  std::string_view head = bufferView(buf);
  std::string_view body = rev.body;
  out.clear();
  if (body.size() <= 2) {
    out.assign(head);
    return;
  }
  out.reserve(head.size() + body.size());
  if (head.size() <= 2) {
    out.assign(body);
    return;
  }
  out.append(head.substr(0, head.size() - 1));
  out.push_back(',');
  out.append(body.substr(1));
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

void renderRevision(JsonWriter& w, const Revision& rev, const RenderOptions& options) {
  thread_local std::string text;
  renderInto(text, rev, options);
  writeRaw(w, text);
}

std::string renderRevision(const Revision& rev, const RenderOptions& options) {
  std::string out;
  renderInto(out, rev, options);
  return out;
}

}  // namespace settee::db
