// replicator/remote_answers.h — reading what a remote peer answers to the replicator, trusting nothing.
//
// Each decoder checks the shape CouchDB documents for its answer and says what was wrong with it; each
// fetched revision is checked against what was asked (its id, a revision asked for or, since we ask with
// latest=true, a descendant of one; a `_revisions` history that agrees with its `_rev`; inline
// attachments as long as they claim). A broken or hostile peer then fails the replication with a reason,
// and nothing it was not asked for is ever written.
//
// Errors are bad_request Statuses, "bad answer to <what>: <why>": a peer that sent a malformed answer
// will not send a better one when asked again, so the replication does not retry them. Pure functions;
// any thread. Views and elements passed in are used during the call only.
#pragma once

#include <simdjson.h>

#include <string>
#include <vector>

#include "replicator/endpoint.h"

namespace settee::repl {

Status badAnswer(const std::string& what, const std::string& why);

// GET/POST _changes (normal or longpoll). `since` is the lastSeq when the answer has no last_seq.
Result<ChangesBatch> decodeChanges(const std::string& body, const std::string& since,
                                   const std::string& what);
// POST _revs_diff, for the revisions offered in `asked`: an id or a revision not offered is an error.
Result<std::vector<MissingRevs>> decodeRevsDiff(
    const std::string& body, const std::vector<std::pair<std::string, std::vector<std::string>>>& asked,
    const std::string& what);
// POST _bulk_get for `asked`: the revisions found, each checked; those the peer reports as errors
// (missing) are left out, as CouchDB's replicator leaves them.
Result<std::vector<FetchedRev>> decodeBulkGet(const std::string& body, const std::vector<MissingRevs>& asked,
                                              const std::string& what);
// GET /db/{id}?open_revs=[...] answered as a JSON array of {"ok": doc} and {"missing": rev}.
Result<std::vector<FetchedRev>> decodeOpenRevs(const std::string& body, const MissingRevs& asked,
                                               const std::string& what);
// POST _bulk_docs new_edits=false: the per-document failures (CouchDB lists only those).
Result<std::vector<DocResult>> decodeBulkDocs(const std::string& body, const std::string& what);
// A write of one document answered 413 (over the peer's max_document_size): that document's refusal,
// too_large, with the peer's error name and reason in the reason. Any body is taken: the status already
// says what happened, the body only adds why.
Status decodeTooLarge(const std::string& body);

// A checked revision as a value: parsed once, here, from the answer's own element (never re-serialised).
// A revision that fails CouchDB's document rules is kept as that failure, for the writer to count.
FetchedRev fetchedRevision(std::string id, simdjson::dom::element doc);

// One fetched revision, `doc`, against `asked` (see the header comment). Attachments sent beside the
// JSON (`follows`) are checked by whoever reads their bytes.
Status checkRevision(simdjson::dom::element doc, const MissingRevs& asked, const std::string& what);

}  // namespace settee::repl
