// replicator/tuning.h — every batch size, timeout and backoff constant of the replicator, each with why.
#pragma once

#include <chrono>
#include <cstddef>

namespace settee::repl::tuning {

// Changes read per request. CouchDB's replicator uses 500 per worker batch; larger batches amortise
// round trips, and 1,000 rows of changes are still small (tens of KB).
inline constexpr size_t kChangesBatch = 1000;
// Documents fetched per _bulk_get and written per _bulk_docs (a local target: per transaction): a whole
// changes batch at once. Measured (100k ~1 KB docs over loopback, interleaved runs): against 250, the
// target's CPU per document falls ~8% and the puller's ~7% (a commit's b-tree pages and a request's
// overhead are shared by 4 times the documents), for ~25 MB more peak RSS per process (4 workers each
// holding a batch of ~1 MB as answer, values and request: about 50 MB in all, whatever the database's
// size). A batch's answer is bounded by kBatchAnswerBytes and asked again in halves past it.
inline constexpr size_t kFetchBatch = 1000;
// A document whose inline attachments hold at least this many bytes is pushed to a remote target on
// its own as a multipart/related PUT (raw bytes, no base64, outside max_document_size), as CouchDB's
// replicator does; smaller ones ride in _bulk_docs, where one request carries hundreds of documents.
inline constexpr size_t kMultipartThreshold = 64 * 1024;
// Documents with attachments are fetched apart from the rest of their batch, in groups whose
// attachments total at most this many bytes (a bigger document goes alone): a batch never holds more
// attachment bytes than this at once, and small attachments still travel many per request.
inline constexpr size_t kAttachmentGroupBytes = 4 * 1024 * 1024;
// A document whose attachments hold at least this many bytes is fetched alone and streamed: its bodies
// go to a spool file as they arrive and from there to the target, so no attachment is ever held whole
// in memory, whatever its size. Below it, the group fetch above is cheaper (one request for many).
inline constexpr size_t kStreamThreshold = 1024 * 1024;
// Attachment bytes are copied to and from spool files in pieces of this size.
inline constexpr size_t kSpoolPiece = 256 * 1024;
// Worker threads that diff, fetch and write batches concurrently (CouchDB: 4 workers).
inline constexpr size_t kWorkers = 4;
// Batches waiting for a worker; bounds memory to (workers + queue) batches whatever the database size.
inline constexpr size_t kQueueDepth = 4;
// How often a running replication records its checkpoint (CouchDB: 30 s). Shorter means less re-read
// after a crash; each checkpoint costs two small writes.
inline constexpr std::chrono::milliseconds kCheckpointInterval{5000};
// Continuous mode reads the source with longpoll requests timed by kHeartbeat (ReplicationOptions::
// heartbeat overrides it). The watchdog: a feed silent for 2.5 heartbeats is dead — the request is
// abandoned and reopened like any failed request (state Retrying). Each longpoll asks the source to
// answer within 1.5 heartbeats, so a live peer answers (empty) before the watchdog bites; it asks for no
// heartbeat lines, since CouchDB keeps a longpoll that has them open past its timeout. A peer that sends
// them anyway and ignores the timeout (pouchdb-server) is heard until the deadline (longpollTimeout +
// feedSilence): such a wait ends as an empty batch and is asked again, never a failure.
inline constexpr std::chrono::milliseconds kHeartbeat{10000};
inline constexpr std::chrono::milliseconds feedSilence(std::chrono::milliseconds heartbeat) { return heartbeat * 5 / 2; }
inline constexpr std::chrono::milliseconds longpollTimeout(std::chrono::milliseconds heartbeat) { return heartbeat * 3 / 2; }
// Retries of one request before a one-shot replication gives up (CouchDB: 5 per request, doubling
// from 0.25 s); continuous replications retry for ever with the backoff capped.
inline constexpr int kRetries = 8;
inline constexpr std::chrono::milliseconds kBackoffStart{250};
inline constexpr std::chrono::milliseconds kBackoffMax{30000};
// What a peer's answer may hold, so a broken or hostile peer (a body that never ends, a line without end)
// costs a bounded amount of memory: past its bound a request fails with too_large, which is not retried.
// The database's info, a checkpoint, a login, a write's answer: small documents, kilobytes in practice.
inline constexpr size_t kSmallAnswerBytes = 4 * 1024 * 1024;
// A _changes answer per row asked for: a row is an id, a sequence and the leaves' revisions, well under
// 1 KB unless a document has hundreds of conflicts.
inline constexpr size_t kChangesRowBytes = 16 * 1024;
// A _revs_diff, _bulk_docs or _bulk_get answer for one batch. A _bulk_get answer over it is asked again
// in halves, down to one document, which may take kDocumentAnswerBytes: batches of large documents still
// replicate, a few at a time. (A body grows by doubling, so one at its bound briefly takes 1.5 times it.)
inline constexpr size_t kBatchAnswerBytes = 16 * 1024 * 1024;
// One document's revisions: CouchDB's max_document_size is 8 MB by default, and attachments inline in a
// fetched document are under kStreamThreshold.
inline constexpr size_t kDocumentAnswerBytes = 32 * 1024 * 1024;
// A peer that answers open_revs with JSON only (pouchdb-server) sends attachments inline, as base64, and
// the answer is held whole: at most this much, whatever lengths its stubs claimed (a stub claiming a
// terabyte would otherwise lift the bound above to a terabyte).
inline constexpr size_t kInlineAnswerBytes = 256 * 1024 * 1024;
// A buffered answer must arrive whole within this many request timeouts (ReplicationOptions::timeout,
// 30 s by default: 5 minutes, a batch of 32 MB at 100 KB/s). The timeout alone restarts with every byte,
// so a peer trickling newlines for ever would hold the replication for ever.
inline constexpr int kAnswerDeadlineTimeouts = 10;
// Requests that move attachment bytes get, on top of that, time for their bytes at this rate: a slow link
// is waited for (a GB takes up to 18 hours), a peer that trickles for ever is not.
inline constexpr uint64_t kSlowestPeerBytesPerSecond = 16 * 1024;
// POST /_replicate of a continuous job answers once the job is past starting (both databases checked,
// its id known) or has failed, so a bad source or target is answered as an error. Peers slower than this
// to answer leave the job starting in the background and the client its 202 now, not after the request
// timeout.
inline constexpr std::chrono::milliseconds kStartAnswerWait{10000};
// Entries of history kept in a checkpoint document (CouchDB keeps 50).
inline constexpr size_t kHistoryLimit = 50;

}  // namespace settee::repl::tuning
