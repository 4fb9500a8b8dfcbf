// replicator/remote_writes.h — revisions encoded for a remote target's writes.
//
// A revision that carries attachment bytes past tuning::kMultipartThreshold (held inline, or beside it
// in a spool) goes alone as a multipart/related PUT ?new_edits=false, as CouchDB's replicator sends it:
// the bytes travel raw instead of base64 and do not count against the target's max_document_size. The
// rest go in one _bulk_docs, each revision rendered once into it. A peer that refuses multipart gets
// the bytes inline (base64) instead.
//
// Pure functions of their arguments; any thread. A spooled body is read, never copied whole, except by
// withInlineBodies() (the only way to send it to a peer without multipart).
#pragma once

#include <vector>

#include "db/revision.h"
#include "http/client.h"
#include "replicator/endpoint.h"

namespace settee::repl {

// Whether `rev` (with `bodies` beside it) should go as multipart/related.
bool wantsMultipart(const db::Revision& rev, const std::vector<AttachmentBody>& bodies);

// `rev` with each `follows` attachment's bytes from `bodies` inline.
Result<db::Revision> withInlineBodies(const db::Revision& rev, const std::vector<AttachmentBody>& bodies);

// Makes `req` carry `rev` as multipart/related: the JSON (every attachment with bytes written as
// `"follows":true`), then one part per such attachment in `_attachments` order, held bytes copied into the
// body and spooled ones streamed from their source (req.bodyReader). bad_request naming an attachment
// whose bytes are not in `bodies`.
Status encodeMultipart(const db::Revision& rev, const std::vector<AttachmentBody>& bodies,
                       http::ClientRequest& req);

}  // namespace settee::repl
