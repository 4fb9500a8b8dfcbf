// revision.h — one revision of a document as a value: what crosses the layers instead of JSON text.
//
// A Revision is parsed once on the way in (parseDocument() in document.h, from a simdjson element) and
// rendered once on the way out (renderRevision()). Between the two it is plain data: the id, the
// revision, the deleted flag, the revision path (`_revisions`: start and hashes, newest first), the
// attachments (metadata, and the bytes when they travel inline), and the body as minified JSON *without*
// the special `_` members. Only document.* and revision.* know those members' names; the store, the
// replicator and the handlers ask the value instead (hasAttachments(), stubBytes(), ...).
//
// Plain values: copy them, move them, use them from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/json.h"
#include "db/rev_id.h"

namespace settee::db {

// What a revision records of one attachment (the body is stored once per digest).
struct AttachmentInfo {
  std::string name;
  std::string contentType;
  std::string digest;    // md5-<base64> of the stored bytes
  std::string encoding;  // "" or e.g. "gzip"; stored bytes are then encoded
  uint64_t length = 0;   // decoded length
  uint64_t encodedLength = 0;
  uint64_t revpos = 0;
};

// An attachment of a revision in transit: a stub (its bytes are known to the receiver by name and
// digest), its bytes inline (`data`, decoded: the stored bytes, encoded when it has an encoding), or its
// bytes following the JSON (a multipart part, a spool slice: held beside the Revision, by name).
struct AttachmentIn {
  enum class Kind { Stub, Inline, Follows };
  Kind kind = Kind::Stub;
  AttachmentInfo info;
  std::string data;  // Inline: the bytes

  // The length of the bytes that travel: the encoded length when there is an encoding.
  uint64_t sentLength() const {
    if (kind == Kind::Inline) return data.size();
    return info.encoding.empty() ? info.length : info.encodedLength;
  }
};

struct Revision {
  std::string id;  // empty when the body had no _id
  std::optional<RevId> rev;
  std::string localRev;  // `_rev` as sent, for _local documents ("0-N")
  // `_rev` had CouchDB's syntax but a form no tree here holds (RevId::couchSyntax): `rev` is empty and
  // an edit naming it is a conflict, as in CouchDB; a replicated write cannot store it.
  bool unmatchableRev = false;
  bool deleted = false;
  uint64_t revisionsStart = 0;           // from _revisions; 0 when absent
  std::vector<std::string> revisionIds;  // newest first
  std::string body = "{}";               // minified JSON object without special members
  std::vector<AttachmentIn> attachments;

  bool hasAttachments() const { return !attachments.empty(); }
  // The total `length` its attachments claim (an upper bound of what fetching their bytes costs).
  uint64_t stubBytes() const;
  // The attachment bytes the value holds inline.
  uint64_t inlineBytes() const;
  // `_rev` as text ("" when it has none).
  std::string revString() const { return rev ? rev->str() : localRev; }
};

// How renderRevision() writes a revision.
struct RenderOptions {
  // Write `_revisions` when the value knows its path.
  bool revisions = true;
  // How attachments are written. AsIs: each as its kind says (a stub, base64 `data`, or `follows`).
  // Follows: every attachment with bytes (inline or following) as `"follows":true` with its length,
  // for a multipart/related body whose parts carry the bytes in `_attachments` order.
  enum class Attachments { AsIs, Follows };
  Attachments attachments = Attachments::AsIs;
};

// Writes `rev` as one JSON object value with `w`, whose buffer is `buf`: `_id`, `_rev`, `_deleted`,
// `_attachments`, `_revisions`, then the body's members. One pass over each attachment's bytes (base64
// for inline data), one copy of the body.
void renderRevision(JsonWriter& w, JsonBuffer& buf, const Revision& rev, const RenderOptions& options = {});
std::string renderRevision(const Revision& rev, const RenderOptions& options = {});

}  // namespace settee::db
