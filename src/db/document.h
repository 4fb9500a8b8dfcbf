// document.h — a document as it arrives: special members split from the body, once, on the way in.
//
// parseDocument() validates a parsed JSON value against CouchDB's rules and yields a Revision: the id,
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
#include "db/revision.h"
#include "settee/status.h"

namespace settee::db {

// The value parseDocument() yields; the name predates Revision and is kept for its callers.
using ParsedDoc = Revision;

// With `local`, `_rev` is kept as text in localRev (a _local document's revision is "0-N").
Result<ParsedDoc> parseDocument(simdjson::dom::element root, bool local = false);

// CouchDB's id rule: non-empty; `_design/x` and `_local/x` allowed (x non-empty), any other leading
// `_` is illegal_docid.
Status validateDocId(std::string_view id);

// Attachment lists as stored in `revs.atts` (a compact JSON array).
std::string encodeAttachments(const std::vector<AttachmentInfo>& atts);
std::vector<AttachmentInfo> decodeAttachments(std::string_view json);

}  // namespace settee::db
