#include "replicator/remote_writes.h"

#include <algorithm>

#include "http/multipart.h"
#include "replicator/spool.h"
#include "replicator/tuning.h"

namespace settee::repl {
namespace {

using Kind = db::AttachmentIn::Kind;

const AttachmentBody* bodyOf(const std::vector<AttachmentBody>& bodies, std::string_view name) {
  auto it =
      std::find_if(bodies.begin(), bodies.end(), [&](const AttachmentBody& b) { return b.name == name; });
  return it == bodies.end() ? nullptr : &*it;
}

}  // namespace

bool wantsMultipart(const db::Revision& rev, const std::vector<AttachmentBody>& bodies) {
  return !bodies.empty() || rev.inlineBytes() >= tuning::kMultipartThreshold;
}

Result<db::Revision> withInlineBodies(const db::Revision& rev, const std::vector<AttachmentBody>& bodies) {
  db::Revision out = rev;
  for (db::AttachmentIn& att : out.attachments) {
    const AttachmentBody* body = att.kind == Kind::Follows ? bodyOf(bodies, att.info.name) : nullptr;
    if (!body) continue;
    att.kind = Kind::Inline;
    att.data = body->data;
    if (!body->source) continue;
    att.data.resize(body->source->size());
    for (size_t at = 0; at < att.data.size();) {
      auto got = body->source->read(at, att.data.data() + at, att.data.size() - at);
      if (!got) return got.status();
      if (*got == 0) return Status(ErrorCode::Internal, "attachment body ended early");
      at += *got;
    }
  }
  return out;
}

Status encodeMultipart(const db::Revision& rev, const std::vector<AttachmentBody>& bodies,
                       http::ClientRequest& req) {
  struct Part {
    const db::AttachmentIn* att;
    const AttachmentBody* body;  // null for inline bytes
  };
  std::vector<Part> parts;  // in `_attachments` order
  for (const db::AttachmentIn& att : rev.attachments) {
    if (att.kind == Kind::Stub) continue;
    const AttachmentBody* body = att.kind == Kind::Follows ? bodyOf(bodies, att.info.name) : nullptr;
    if (att.kind == Kind::Follows && !body) return badRequest("unreadable attachment " + att.info.name);
    parts.push_back({&att, body});
  }
  http::MultipartWriter mp(http::randomBoundary());
  // Text and spooled bodies in order; held bytes are appended to the text, spooled ones streamed.
  auto chain = std::make_shared<ByteChain>();
  std::string text;
  db::RenderOptions render;
  render.attachments = db::RenderOptions::Attachments::Follows;
  mp.addPart({{"Content-Type", "application/json"}}, db::renderRevision(rev, render), text);
  // Content-Disposition names the attachment, as CouchDB writes it; multipart parsers such as
  // pouchdb-server's take a part without a filename for a form field, not a file.
  for (const Part& part : parts) {
    const db::AttachmentInfo& info = part.att->info;
    std::string filename;
    for (char c : info.name) {
      if (c == '"' || c == '\\') filename += '\\';
      filename += c;
    }
    const ByteSource* source = part.body ? part.body->source.get() : nullptr;
    const std::string& held = part.body ? part.body->data : part.att->data;
    mp.beginPart({{"Content-Disposition", "attachment; filename=\"" + filename + "\""},
                  {"Content-Type", info.contentType.empty() ? "application/octet-stream" : info.contentType},
                  {"Content-Length", std::to_string(source ? source->size() : held.size())}},
                 text);
    if (!source) {
      text += held;
      continue;
    }
    chain->add(std::move(text));
    text.clear();
    chain->add(part.body->source);
  }
  mp.finish(text);
  for (auto& [name, value] : req.headers)
    if (name == "Content-Type") value = mp.contentType("related");
  if (chain->size() == 0) {
    req.body = std::move(text);
    return Status::ok();
  }
  chain->add(std::move(text));
  req.body.clear();
  req.bodyLength = chain->size();
  req.bodyReader = [chain](uint64_t offset, char* buf, size_t n) { return chain->read(offset, buf, n); };
  return Status::ok();
}

}  // namespace settee::repl
