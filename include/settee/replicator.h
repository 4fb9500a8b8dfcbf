// settee/replicator.h — replicate between two CouchDB-compatible endpoints.
//
// An endpoint is a Database in this process or the URL of a remote database (Apache CouchDB,
// pouchdb-server, another Settee node; http or https, credentials as user:password@ in the URL).
// The protocol is CouchDB's: changes (style=all_docs), revs_diff, bulk_get, bulk_docs new_edits=false,
// and checkpoints in `_local/<replication id>` on both sides, so an interrupted replication resumes where
// its last checkpoint left it and a retry never duplicates.
//
// Contract: start() runs the replication on threads of its own and returns at once; the callback is
// called from those threads on each state change and checkpoint (keep it short). stop() and the
// destructor stop it and wait. stats()/state() may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "settee/database.h"
#include "settee/status.h"

namespace settee {

// What one batch did to one document: the revisions the target lacked and now has, or why it refused
// them. `seq` is the source's sequence of the change (JSON text, as the source gave it).
struct DocOutcome {
  std::string id;
  std::string seq;
  std::vector<std::string> revs;  // revisions written (empty: the target had every one already)
  Status status;                  // ok, or the target's refusal (forbidden, unauthorized, too large ...)
};

struct ReplicationOptions {
  bool continuous = false;             // keep following the source's changes until stopped
  std::vector<std::string> docIds;     // replicate only these documents
  std::string selector;                // a Mango selector (JSON) the winner must match
  std::string filter;                  // a source's named filter "ddoc/name" (CouchDB sources only)
  std::string queryParams;             // JSON object for the named filter
  std::string sinceSeq;                // start here instead of the checkpoint (JSON text)
  bool useCheckpoints = true;
  bool createTarget = false;           // create the target database when it does not exist
  size_t batchSize = 0;                // changes per batch; 0 = the tuned default
  size_t workers = 0;                  // concurrent batches; 0 = the tuned default
  std::chrono::milliseconds checkpointInterval{0};  // 0 = the tuned default
  std::chrono::milliseconds timeout{30000};          // per request to a remote peer
  // Continuous mode: the heartbeat asked of a remote source's feed; a feed silent for 2.5 heartbeats is
  // taken for dead and reopened. 0 = the tuned default (10 s).
  std::chrono::milliseconds heartbeat{0};
  int retries = -1;                    // per request; -1 = the tuned default (continuous: for ever)
  std::string caFile;                  // trust these certificates for https peers (else the system store)
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every remote request

  // Sync bookkeeping (settee/sync_state.h) of the local side against this peer key (syncPeerKey() of
  // the remote URL; empty: none). Local source: every batch the target took confirms its documents for the
  // peer, and each one the target refused is marked failed with its answer. Local target: the revisions
  // written are recorded as the peer's, so they are not pending for it.
  std::string syncPeer;
  // Local source only: a document whose attachments to send total more than this is left out (counted in
  // stats as skipped), for a later replication without the limit to carry; 0: no limit. Part of the
  // replication id, so such a replication keeps checkpoints of its own.
  uint64_t maxAttachmentBytes = 0;
  // Called after each batch is written (before its checkpoint), from the replication's threads, with
  // what happened to each document of the batch. Keep it short.
  std::function<void(const std::vector<DocOutcome>&)> onDocuments;
};

struct ReplicationStats {
  uint64_t docsRead = 0;
  uint64_t docsWritten = 0;
  uint64_t docWriteFailures = 0;
  uint64_t missingChecked = 0;
  uint64_t missingFound = 0;
  uint64_t pending = 0;        // changes the source still has after the last batch read
  uint64_t docsSkipped = 0;    // left out by maxAttachmentBytes
  std::string startLastSeq;    // JSON text
  std::string endLastSeq;      // the last checkpointed sequence
  std::string startTime;
  std::string endTime;
};

// Retrying: a request failed in a way worth retrying (network, timeout, 5xx, a live feed gone silent)
// and the replication is backing off; the listener gets the error. It returns to Running or Idle as
// soon as a retried request succeeds. (CouchDB's scheduler calls this state "crashing".)
enum class ReplicationState { Starting, Running, Idle, Retrying, Completed, Failed, Stopped };
const char* stateName(ReplicationState state);  // "starting", "running", ...

// What a replication may do with a local database: the rights of the user it runs for (CouchDB's
// `user_ctx`), so a replication started by a user reads and writes only what that user could over HTTP.
// Each check answers ok, or the forbidden/unauthorized Status that refuses. Called from the replication's
// threads; must be thread-safe. A peer without LocalAccess is unrestricted: an app replicating its own
// databases needs none.
struct LocalAccess {
  std::function<Status()> read;                         // before reading changes, documents or checkpoints
  std::function<Status(std::string_view docId)> write;  // for each document or checkpoint written
};

struct ReplicationPeer {
  std::string url;                            // a remote database
  std::shared_ptr<Database> db;               // or a local one
  std::shared_ptr<const LocalAccess> access;  // for a local one: the rights it runs with (null: all)
  static ReplicationPeer local(std::shared_ptr<Database> d, std::shared_ptr<const LocalAccess> a = nullptr) {
    return {{}, std::move(d), std::move(a)};
  }
  static ReplicationPeer remote(std::string u) { return {std::move(u), nullptr, nullptr}; }
};

class Replication {
 public:
  using Listener = std::function<void(ReplicationState, const ReplicationStats&, const Status&)>;

  Replication(ReplicationPeer source, ReplicationPeer target, ReplicationOptions options = {});
  ~Replication();
  Replication(const Replication&) = delete;
  Replication& operator=(const Replication&) = delete;

  void start(Listener listener = {});
  void stop();
  // Blocks until the replication completed, failed or was stopped; returns why it ended.
  Status wait();
  // start() then wait().
  Status run();

  ReplicationState state() const;
  ReplicationStats stats() const;
  // The replication id (hex), known once it has started.
  std::string id() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace settee
