// settee/sync.h — offline-first sync of a local database with one remote peer, as one object.
//
// A Sync pushes and pulls continuously with a CouchDB-compatible peer (Apache CouchDB, PouchDB's server,
// another Settee node) over CouchDB's replication protocol, so the peer needs nothing of Settee's. Over
// the two replications it adds what an app shows and decides:
// - a state: Offline (told so, or the peer unreachable and backing off), Connecting, Syncing, Idle
//   (caught up both ways, following), Stopped; the last error; the time of the last complete sync; progress.
// - retries with jittered exponential backoff; networkChanged(true) retries at once; while offline
//   nothing runs (no timers, no sockets).
// - per-document state for this peer (settee/sync_state.h): pending (the outbox), failed (refused by the
//   peer, with its reason), conflicted — kept by the database in each write's transaction, so exact after
//   a crash and cheap to ask.
// - a conflict policy (settee/conflict.h) applied to every conflict a pull brings: its resolution is an
//   ordinary revision, pushed like any.
// - first things first: documents matching `prioritySelector` go (both ways) before the others after every
//   (re)connection; documents carrying more than `largeAttachmentBytes` of attachments go after every other
//   document, in a second phase an app pauses on a metered network.
// Resumes from CouchDB-style checkpoints after an app restart.
//
// How it goes (src/replicator/sync_run.cc): each connection runs the priority pair first (a one-shot push
// and pull of what `prioritySelector` names, within the push/pull selectors), then a continuous push and
// pull; the push leaves out documents over `largeAttachmentBytes`, which a one-shot push without the
// limit carries whenever the continuous push is caught up (not while metered). The pull is one phase:
// it takes what the peer has in the peer's order. Connecting lasts until the peer answered; Idle is
// both continuous replications caught up with no second phase running; lastSyncMicros is set (and kept
// by the database) on each entry into Idle with nothing held back for the second phase (an Idle that a
// metered network holds short of complete leaves it as it was; while caught up, each batch of news
// written moves it on). A request to the peer that fails twice (network, timeout, 5xx; a refusal of the
// replication itself such as 401 at once) stops every replication and makes the state Offline with
// the error in lastError and the time of the next try in nextRetryMicros: the delay is drawn between
// minBackoff and a ceiling that doubles with each failure in a row up to maxBackoff, and starts over once
// Idle is reached. networkChanged(false) stops every replication (Offline with nextRetryMicros 0,
// lastError unchanged); networkChanged(true) connects at once when Offline and is a no-op when connected.
// A document the peer refuses is not a failure of the sync: a Failed event, the ledger's failed state,
// progress.pushFailures, and the rest goes on.
// Conflicts: every document a pull wrote is checked on the Sync's thread (not inside the pull's batch);
// one with live conflicts gives ConflictDetected and, unless the policy is Keep, is resolved by
// Database::resolveConflict: ConflictResolved with the winner, or with `error` set when the resolution
// failed (also the lastError; the conflict stays for the app).
//
// Contract: start() returns at once; the work runs on threads of the Sync's own. Listeners are called
// from one of those threads, one at a time (keep them short; they may call status() and the query calls,
// not stop() or the destructor; the last status, Stopped, is told before stop() or the destructor returns, so
// a listener's captures must outlive the Sync). Every other call may be made from any thread. stop() and the
// destructor wait for the threads; start() after stop() starts again (progress counts from zero). One
// Sync per (database, peer) at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "settee/conflict.h"
#include "settee/database.h"
#include "settee/replicator.h"
#include "settee/sync_state.h"

namespace settee {

enum class SyncState { Offline, Connecting, Syncing, Idle, Stopped };
const char* syncStateName(SyncState state);  // "offline", "connecting", "syncing", "idle", "stopped"

struct SyncOptions {
  ConflictPolicy policy;              // applied to conflicts the pull brings (default: keep)
  std::string prioritySelector;       // Mango selector (JSON): these documents go first, both ways
  std::string pushSelector;           // push only documents whose winner matches (JSON; empty: all)
  std::string pullSelector;           // pull only documents whose winner matches (JSON; empty: all)
  std::vector<std::string> pullDocIds;  // pull only these documents (empty: all)
  // A document whose attachments to send total more than this goes in the second phase; 0: one phase.
  uint64_t largeAttachmentBytes = 512 * 1024;
  bool metered = false;               // the second phase waits (setMetered() changes it while running)
  std::chrono::milliseconds minBackoff{1000};   // first retry delay; doubles, with jitter, up to max
  std::chrono::milliseconds maxBackoff{300000};
  std::chrono::milliseconds timeout{30000};     // per request to the peer
  std::chrono::milliseconds heartbeat{10000};   // of the peer's changes feeds
  std::string caFile;                                        // trust for an https peer
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request to the peer
};

struct SyncProgress {
  uint64_t docsPushed = 0;      // revisions written to the peer since start()
  uint64_t docsPulled = 0;      // revisions written locally from the peer since start()
  uint64_t pushFailures = 0;    // documents the peer refused since start()
  uint64_t pullPending = 0;     // changes the peer still has for us, as it last said
  double docsPerSecond = 0;     // both ways, over the last few seconds
};

struct SyncStatus {
  SyncState state = SyncState::Stopped;
  Status lastError;             // the last failure (ok when none since the last success)
  uint64_t lastSyncMicros = 0;  // last time both directions were caught up (persisted); 0: never
  // Offline after a failure: when the next attempt is due (microseconds since the epoch); 0 otherwise
  // (not offline, or offline by the app's word, which waits for networkChanged(true)).
  uint64_t nextRetryMicros = 0;
  SyncProgress progress;
  SyncCounts counts;            // pending / failed / conflicted now
};

enum class DocEventKind { Pulled, Pushed, Failed, ConflictDetected, ConflictResolved };
const char* docEventName(DocEventKind kind);  // "pulled", "pushed", "failed", "conflict", "resolved"

struct DocEvent {
  DocEventKind kind = DocEventKind::Pulled;
  std::string id;
  std::string rev;  // the revision pulled/pushed/refused, or the resolution's winner
  Status error;     // Failed: the peer's answer; ConflictResolved: not ok when the resolution failed
};

class Sync {
 public:
  // `url` is the peer database (http or https, credentials as user:password@ in the URL).
  Sync(std::shared_ptr<Database> db, std::string url, SyncOptions options = {});
  ~Sync();
  Sync(const Sync&) = delete;
  Sync& operator=(const Sync&) = delete;

  using StatusListener = std::function<void(const SyncStatus&)>;
  using DocListener = std::function<void(const DocEvent&)>;
  // Set before start(). Status listeners hear every state change and progress now and then.
  void onStatus(StatusListener listener);
  void onDocument(DocListener listener);

  // Registers the peer with the database (its documents become pending for it the first time) and
  // starts. An error only for a bad URL or a database that cannot keep the peer's state.
  Status start();
  void stop();
  // The app's word on the network: false stops all work (state Offline) until true, which connects at
  // once, whatever the backoff said.
  void networkChanged(bool available);
  // A metered network: the second phase (large attachments) waits while true.
  void setMetered(bool metered);

  SyncStatus status() const;
  // The key under which the database keeps this peer's state: the URL without credentials.
  const std::string& peer() const;

  // This peer's view of the documents (sync_state.h); the same as the Database calls with peer().
  Result<DocSyncInfo> documentState(std::string_view id);
  Result<SyncCounts> counts();
  Result<std::vector<DocSyncEntry>> documents(DocSyncState state, size_t limit = 1000,
                                              std::string_view after = {});

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The key a Sync with `url` keeps its state under: "scheme://host:port/path" — the port always written
// (so http://h/db and http://h:80/db are one peer), an IPv6 host in brackets, the path as given
// (percent-encoded) without trailing slashes; no credentials, query or fragment. Empty when `url` is not
// an http or https URL.
std::string syncPeerKey(std::string_view url);

}  // namespace settee
