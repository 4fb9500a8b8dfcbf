// replicator/endpoint.h — one side of a replication, as the replicator sees it.
//
// Two implementations: LocalEndpoint over a Database in this process, and RemoteEndpoint over HTTP to
// any CouchDB-compatible peer. Push and pull are then one algorithm. The calls are blocking and are
// made from the replicator's own threads; an Endpoint must allow concurrent calls from several of them
// (the remote one gives each thread its own connections).
//
// Sequences are opaque: `seq` values are kept as the JSON text the source gave (a number for Settee and
// PouchDB, a string for CouchDB 3) and handed back untouched.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/revision.h"
#include "settee/database.h"
#include "settee/status.h"

namespace settee::repl {

struct PeerInfo {
  std::string updateSeq;  // JSON text
  std::string instanceStartTime;
};

struct ChangeRow {
  std::string seq;  // JSON text
  std::string id;
  std::vector<std::string> revs;  // every leaf (style=all_docs)
  bool deleted = false;
};

struct ChangesBatch {
  std::vector<ChangeRow> rows;
  std::string lastSeq;  // JSON text
  std::optional<uint64_t> pending;
};

// What to replicate: everything, listed ids, a Mango selector, or a named filter of the source.
struct Filter {
  std::vector<std::string> docIds;
  std::string selector;     // JSON object text, or empty
  std::string name;         // "ddoc/filter", run by the source
  std::string queryParams;  // JSON object text for a named filter
  bool empty() const { return docIds.empty() && selector.empty() && name.empty(); }
};

// A revision to copy, as the source gave it: parsed once on the way in (with its `_revisions` path), or
// the reason it could not be (a document the target would refuse: written as that document's failure,
// as a target counts a document its validation refused). Attachment bytes travel inline in the value
// (Kind::Inline) or beside it (Kind::Follows), as `bodies` in `_attachments` order, held (`data`) or in
// a spool file (`source`, from fetchStreamed()).
struct FetchedRev {
  std::string id;
  Result<db::Revision> rev = Status(ErrorCode::Internal, "no revision");
  std::vector<AttachmentBody> bodies;
};

struct MissingRevs {
  std::string id;
  std::vector<std::string> missing;
  std::vector<std::string> possibleAncestors;
  uint64_t attachmentBytes = 0;  // for a deferred fetch: the stubs' total length (an upper bound)
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  // A name for logs and the replication id: the URL without credentials, or "local:<db name>".
  virtual std::string describe() const = 0;
  virtual Result<PeerInfo> info() = 0;
  virtual Status create() = 0;  // create the database (create_target); exists already is fine
  virtual Result<std::optional<std::string>> getLocal(const std::string& id) = 0;            // JSON, or none
  virtual Result<std::string> putLocal(const std::string& id, const std::string& json) = 0;  // new _rev
  // Up to `limit` changes after `since`. With `wait`, blocks (longpoll) up to `timeout` when there is
  // nothing yet.
  virtual Result<ChangesBatch> changes(const std::string& since, size_t limit, const Filter& filter,
                                       bool wait, std::chrono::milliseconds timeout) = 0;
  virtual Result<std::vector<MissingRevs>> revsDiff(
      const std::vector<std::pair<std::string, std::vector<std::string>>>& revs) = 0;
  // The missing revisions with their history (`_revisions`) and attachments newer than the possible
  // ancestors. With `deferred`, a revision that has attachments is not fetched with their bytes but
  // listed there (its own rev, its possible ancestors), for the caller to fetch alone: a batch then
  // holds at most one document's attachment bytes at a time, whatever their size.
  virtual Result<std::vector<FetchedRev>> fetch(const std::vector<MissingRevs>& missing,
                                                std::vector<MissingRevs>* deferred = nullptr) = 0;
  // One document's missing revisions (with `_revisions`, attachments newer than the possible ancestors)
  // whose attachment bytes are too many to hold: the bytes go to a spool file as they arrive and come
  // back as FetchedRev::bodies read from it (the revision's attachments are Kind::Follows). Memory holds
  // the revisions and a piece of an attachment at a time. A peer that answers open_revs with JSON only
  // (no multipart/mixed) gives the bytes inline, held whole: there is no other way to read them.
  virtual Result<std::vector<FetchedRev>> fetchStreamed(const MissingRevs& missing) = 0;
  // Writes with new_edits=false; returns the per-document failures only (a FetchedRev whose `rev` is an
  // error is one, with that error). Each revision is handed on as a value: the local endpoint gives it to
  // the store unparsed, the remote one renders it once into its request. `docs` stays intact, so a
  // failed call can be retried with the same batch.
  virtual Result<std::vector<DocResult>> write(const std::vector<FetchedRev>& docs) = 0;
  virtual Status ensureFullCommit() = 0;
  // From any thread: makes a changes() call waiting for news return now (empty, or with an error), and
  // later ones return at once, so a continuous replication stops promptly. Other calls are not affected.
  virtual void interrupt() = 0;
};

// `spec` is a URL (http:// or https://) or the name of a database in `localData`.
struct EndpointOptions {
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds heartbeat{10000};  // asked of a waiting changes feed; silence past 2.5 is death
  std::string caFile;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace settee::repl
