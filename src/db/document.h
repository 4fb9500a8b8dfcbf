// document.h — a document as it arrives: special members split from the body, once, on the way in.
//
// parseDocument() validates a parsed JSON value against CouchDB's rules and yields a ParsedDoc: the id,
// `_rev`, `_deleted`, `_revisions`, `_attachments` taken apart, and the rest of the body re-serialised
// minified (that text is what is stored and hashed). Members CouchDB ignores on input (`_conflicts`,
// `_deleted_conflicts`, `_revs_info`, `_local_seq`) are dropped; any other `_` member is doc_validation.
// Plain values; the simdjson element must outlive only the call.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/rev_id.h"
#include "settee/status.h"

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

struct AttachmentIn {
  enum class Kind { Stub, Inline, Follows };
  Kind kind = Kind::Stub;
  AttachmentInfo info;
  std::string data;  // Inline: the decoded bytes
};

struct ParsedDoc {
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
};

// With `local`, `_rev` is kept as text in localRev (a _local document's revision is "0-N").
Result<ParsedDoc> parseDocument(simdjson::dom::element root, bool local = false);

// CouchDB's id rule: non-empty; `_design/x` and `_local/x` allowed (x non-empty), any other leading
// `_` is illegal_docid.
Status validateDocId(std::string_view id);

// The revision id an interactive edit gets: md5 over (deleted, parent rev, body, attachment digests),
// so the same edit made on two nodes converges on the same id.
std::string computeRevHash(bool deleted, std::string_view parentRev, std::string_view body,
                           const std::vector<AttachmentInfo>& attachments);

// Attachment lists as stored in `revs.atts` (a compact JSON array).
std::string encodeAttachments(const std::vector<AttachmentInfo>& atts);
std::vector<AttachmentInfo> decodeAttachments(std::string_view json);

}  // namespace settee::db
