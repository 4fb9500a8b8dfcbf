// settee/sync_state.h — what a database knows of its documents' sync with each peer it syncs with.
//
// A peer is named by its key: the remote database's URL without credentials (Sync and `settee sync`
// use it; registerSyncPeer() makes one known). Once a peer is registered, every write of a document keeps
// that peer's entry in the same transaction as the write, so the answers below are exact after a crash
// and cost no scan of the database:
// - pending: the document has a revision this peer has not confirmed (a local edit, or a revision that
//   came from elsewhere); a revision that came *from* this peer is not pending for it.
// - failed: the peer refused the document's latest revision (403/401 from its validation, 413 too large);
//   kept, with the peer's reason, until the document changes again (then it is pending).
// - conflicted: the document has live losing leaves (a property of the document, whatever the peer).
// - synced: none of these.
// Contract: plain values, safe to copy and keep.
#pragma once

#include <cstdint>
#include <string>

#include "settee/status.h"

namespace settee {

enum class DocSyncState { Synced, Pending, Failed, Conflicted };
const char* docSyncStateName(DocSyncState state);  // "synced", "pending", "failed", "conflicted"

// One document's state for one peer. `state` is the most urgent that applies (failed, then conflicted,
// then pending); the flags say each.
struct DocSyncInfo {
  DocSyncState state = DocSyncState::Synced;
  bool pending = false;
  bool failed = false;
  bool conflicted = false;
  Status failure;     // failed: the peer's answer (its error name and reason)
  uint64_t seq = 0;   // the local sequence of the document's unconfirmed change (pending or failed)
};

// One row of a listing of pending, failed or conflicted documents.
struct DocSyncEntry {
  std::string id;
  uint64_t seq = 0;   // the document's local sequence the entry is about
  Status failure;     // for failed entries: the peer's answer
};

struct SyncCounts {
  uint64_t pending = 0;     // the outbox depth
  uint64_t failed = 0;
  uint64_t conflicted = 0;  // documents with live losing leaves (the whole database)
  // Microseconds since the epoch of the last complete sync with this peer (both directions caught up);
  // 0 when never.
  uint64_t lastSyncMicros = 0;
};

}  // namespace settee
