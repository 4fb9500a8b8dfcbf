// The C API's Sync (settee.h, "Sync"): a settee::Sync behind a handle, with its options read from JSON,
// its policy from a settee_conflict_policy, its status and per-document state copied into plain structs.
//
// The settee::Sync is made by the first settee_sync_start, because its options (the policy among them)
// are fixed at construction and the C API lets an app set the policy and listeners between new and start.
// Until then the handle answers from the database's own bookkeeping for the peer. `mu` guards the
// handle's fields only, never a call into the Sync: its listeners may call settee_sync_get_status while
// stop() or the destructor waits for them.
#include "settee/sync.h"

#include <cstdio>
#include <mutex>

#include "capi/capi_internal.h"
#include "capi/options.h"
#include "capi/policy.h"
#include "http/api.h"

struct settee_sync {
  std::shared_ptr<settee::Database> db;
  std::string url;
  std::string peer;  // syncPeerKey(url)
  std::mutex mu;
  // Guarded by mu; read when the Sync is made.
  settee::SyncOptions options;
  settee_sync_status_fn onStatus = nullptr;
  settee_sync_document_fn onDocument = nullptr;
  void* context = nullptr;
  bool network = true;
  std::shared_ptr<settee::Sync> sync;  // guarded by mu; made by the first start
};

namespace settee::capi {
namespace {

const std::initializer_list<std::string_view> kSyncOptions = {
    "policy",        "priority_selector", "push_selector",
    "pull_selector", "pull_doc_ids",      "large_attachment_bytes",
    "metered",       "min_backoff_ms",    "max_backoff_ms",
    "timeout_ms",    "heartbeat_ms",      "ca_file",
    "headers"};

Result<SyncOptions> syncOptions(const char* json) {
  Options reader;
  if (Status st = reader.parse(json, kSyncOptions); !st) return st;
  SyncOptions o;
  std::string policy;
  if (Status st = reader.getString("policy", policy); !st) return st;
  if (!policy.empty()) {
    auto parsed = ConflictPolicy::parse(policy);
    if (!parsed) return parsed.status();
    o.policy = std::move(*parsed);
  }
  for (auto [key, field] :
       {std::pair{"priority_selector", &o.prioritySelector}, std::pair{"push_selector", &o.pushSelector},
        std::pair{"pull_selector", &o.pullSelector}}) {
    if (Status st = reader.getObjectJson(key, *field); !st) return st;
  }
  if (Status st = reader.getStrings("pull_doc_ids", o.pullDocIds); !st) return st;
  if (Status st = reader.getUint("large_attachment_bytes", o.largeAttachmentBytes); !st) return st;
  if (Status st = reader.getBool("metered", o.metered); !st) return st;
  for (auto [key, field] :
       {std::pair{"min_backoff_ms", &o.minBackoff}, std::pair{"max_backoff_ms", &o.maxBackoff},
        std::pair{"timeout_ms", &o.timeout}, std::pair{"heartbeat_ms", &o.heartbeat}}) {
    if (Status st = reader.getMillis(key, *field); !st) return st;
  }
  if (o.minBackoff > o.maxBackoff) return badRequest("min_backoff_ms must not exceed max_backoff_ms");
  if (Status st = reader.getString("ca_file", o.caFile); !st) return st;
  if (Status st = reader.getStringMap("headers", o.headers); !st) return st;
  return o;
}

// Copies `text` into a fixed buffer, cut to fit, always terminated.
template <size_t N>
void copyText(char (&out)[N], const std::string& text) {
  std::snprintf(out, N, "%s", text.c_str());
}

settee_sync_state stateOf(SyncState s) {
  switch (s) {
    case SyncState::Offline:
      return SETTEE_SYNC_OFFLINE;
    case SyncState::Connecting:
      return SETTEE_SYNC_CONNECTING;
    case SyncState::Syncing:
      return SETTEE_SYNC_SYNCING;
    case SyncState::Idle:
      return SETTEE_SYNC_IDLE;
    case SyncState::Stopped:
      break;
  }
  return SETTEE_SYNC_STOPPED;
}

void copyStatus(const SyncStatus& s, settee_sync_status& out) {
  out = settee_sync_status{};
  out.state = stateOf(s.state);
  out.pending = s.counts.pending;
  out.failed = s.counts.failed;
  out.conflicted = s.counts.conflicted;
  out.last_sync_micros = s.lastSyncMicros;
  out.next_retry_micros = s.nextRetryMicros;
  out.docs_pushed = s.progress.docsPushed;
  out.docs_pulled = s.progress.docsPulled;
  out.push_failures = s.progress.pushFailures;
  out.pull_pending = s.progress.pullPending;
  out.docs_per_second = s.progress.docsPerSecond;
  if (!s.lastError.isOk()) {
    copyText(out.error_name, s.lastError.error());
    copyText(out.error_message, s.lastError.reason());
  }
}

settee_doc_event_kind kindOf(DocEventKind k) {
  switch (k) {
    case DocEventKind::Pulled:
      return SETTEE_DOC_PULLED;
    case DocEventKind::Pushed:
      return SETTEE_DOC_PUSHED;
    case DocEventKind::Failed:
      return SETTEE_DOC_PUSH_FAILED;
    case DocEventKind::ConflictDetected:
      return SETTEE_DOC_CONFLICT_DETECTED;
    case DocEventKind::ConflictResolved:
      break;
  }
  return SETTEE_DOC_CONFLICT_RESOLVED;
}

settee_error* docInfo(Result<DocSyncInfo> found, settee_doc_sync_info* out) {
  if (!found) return toError(found.status());
  const DocSyncInfo& d = *found;
  *out = settee_doc_sync_info{};
  switch (d.state) {
    case DocSyncState::Synced:
      out->state = SETTEE_DOC_SYNCED;
      break;
    case DocSyncState::Pending:
      out->state = SETTEE_DOC_PENDING;
      break;
    case DocSyncState::Failed:
      out->state = SETTEE_DOC_FAILED;
      break;
    case DocSyncState::Conflicted:
      out->state = SETTEE_DOC_CONFLICTED;
      break;
  }
  out->pending = d.pending;
  out->failed = d.failed;
  out->conflicted = d.conflicted;
  out->seq = d.seq;
  if (!d.failure.isOk()) {
    copyText(out->failure_name, d.failure.error());
    copyText(out->failure_message, d.failure.reason());
  }
  return nullptr;
}

std::shared_ptr<Sync> running(settee_sync* s) {
  std::lock_guard lock(s->mu);
  return s->sync;
}

}  // namespace
}  // namespace settee::capi

using namespace settee;
using namespace settee::capi;

extern "C" {

settee_error* settee_sync_new(settee_db* db, const char* url, const char* options_json,
                              settee_sync** out_sync) {
  return guard([&]() -> settee_error* {
    if (out_sync) *out_sync = nullptr;
    if (!db || !url || !out_sync) return badArgument("settee_sync_new needs a database, a URL and out_sync");
    std::string peer = syncPeerKey(url);
    if (peer.empty()) return badArgument(std::string("bad peer URL ") + url + " (http or https)");
    auto options = syncOptions(options_json);
    if (!options) return toError(options.status());
    auto handle = std::make_unique<settee_sync>();
    handle->db = db->db;
    handle->url = url;
    handle->peer = std::move(peer);
    handle->options = std::move(*options);
    *out_sync = handle.release();
    return nullptr;
  });
}

settee_error* settee_sync_set_policy(settee_sync* sync, const settee_conflict_policy* policy) {
  return guard([&]() -> settee_error* {
    if (!sync || !policy) return badArgument("settee_sync_set_policy needs a sync and a policy");
    std::lock_guard lock(sync->mu);
    if (sync->sync) return badArgument("set the policy before settee_sync_start");
    sync->options.policy = policy->policy;
    return nullptr;
  });
}

settee_error* settee_sync_set_listeners(settee_sync* sync, settee_sync_status_fn on_status,
                                        settee_sync_document_fn on_document, void* context) {
  return guard([&]() -> settee_error* {
    if (!sync) return badArgument("settee_sync_set_listeners needs a sync");
    std::lock_guard lock(sync->mu);
    if (sync->sync) return badArgument("set the listeners before settee_sync_start");
    sync->onStatus = on_status;
    sync->onDocument = on_document;
    sync->context = context;
    return nullptr;
  });
}

settee_error* settee_sync_start(settee_sync* sync) {
  return guard([&]() -> settee_error* {
    if (!sync) return badArgument("settee_sync_start needs a sync");
    std::shared_ptr<Sync> s;
    {
      std::lock_guard lock(sync->mu);
      if (!sync->sync) {
        auto made = std::make_shared<Sync>(sync->db, sync->url, sync->options);
        if (auto fn = sync->onStatus) {
          made->onStatus([fn, context = sync->context](const SyncStatus& status) {
            guardVoid([&] {
              settee_sync_status out;
              copyStatus(status, out);
              fn(context, &out);
            });
          });
        }
        if (auto fn = sync->onDocument) {
          made->onDocument([fn, context = sync->context](const DocEvent& event) {
            guardVoid([&] {
              settee_error error{static_cast<settee_code>(event.error.code()), event.error.error(),
                                 event.error.reason()};
              fn(context, kindOf(event.kind), event.id.c_str(), event.rev.c_str(),
                 event.error.isOk() ? nullptr : &error);
            });
          });
        }
        if (!sync->network) made->networkChanged(false);
        made->setMetered(sync->options.metered);
        sync->sync = std::move(made);
      }
      s = sync->sync;
    }
    return toError(s->start());
  });
}

void settee_sync_stop(settee_sync* sync) {
  guardVoid([&] {
    if (!sync) return;
    if (auto s = running(sync)) s->stop();
  });
}

void settee_sync_network_changed(settee_sync* sync, bool available) {
  guardVoid([&] {
    if (!sync) return;
    std::shared_ptr<Sync> s;
    {
      std::lock_guard lock(sync->mu);
      sync->network = available;
      s = sync->sync;
    }
    if (s) s->networkChanged(available);
  });
}

void settee_sync_set_metered(settee_sync* sync, bool metered) {
  guardVoid([&] {
    if (!sync) return;
    std::shared_ptr<Sync> s;
    {
      std::lock_guard lock(sync->mu);
      sync->options.metered = metered;
      s = sync->sync;
    }
    if (s) s->setMetered(metered);
  });
}

void settee_sync_get_status(settee_sync* sync, settee_sync_status* out_status) {
  if (!out_status) return;
  *out_status = settee_sync_status{};
  out_status->state = SETTEE_SYNC_STOPPED;
  guardVoid([&] {
    if (!sync) return;
    if (auto s = running(sync)) {
      copyStatus(s->status(), *out_status);
      return;
    }
    // Not started: stopped, with what the database keeps for the peer (nothing when it never synced).
    SyncStatus status;
    if (auto counts = sync->db->syncCounts(sync->peer)) {
      status.counts = *counts;
      status.lastSyncMicros = counts->lastSyncMicros;
    }
    copyStatus(status, *out_status);
  });
}

const char* settee_sync_peer(const settee_sync* sync) { return sync ? sync->peer.c_str() : ""; }

settee_error* settee_sync_document_state(settee_sync* sync, const char* id, settee_doc_sync_info* out_info) {
  return guard([&]() -> settee_error* {
    if (out_info) *out_info = settee_doc_sync_info{};
    if (!sync || !id || !out_info)
      return badArgument("settee_sync_document_state needs a sync, an id and out_info");
    return docInfo(sync->db->docSyncState(sync->peer, id), out_info);
  });
}

settee_error* settee_sync_documents(settee_sync* sync, settee_doc_sync_state state, size_t limit,
                                    const char* after, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!sync || !out_json) return badArgument("settee_sync_documents needs a sync and out_json");
    DocSyncState which;
    switch (state) {
      case SETTEE_DOC_PENDING:
        which = DocSyncState::Pending;
        break;
      case SETTEE_DOC_FAILED:
        which = DocSyncState::Failed;
        break;
      case SETTEE_DOC_CONFLICTED:
        which = DocSyncState::Conflicted;
        break;
      default:
        return badArgument("list pending, failed or conflicted documents");
    }
    auto entries = sync->db->syncDocuments(sync->peer, which, limit, after ? after : "");
    if (!entries) return toError(entries.status());
    *out_json = copyOut(http::writeJson([&](db::JsonWriter& w) {
      w.StartArray();
      for (const auto& e : *entries) {
        w.StartObject();
        db::writeKey(w, "id");
        db::writeString(w, e.id);
        db::writeKey(w, "seq");
        w.Uint64(e.seq);
        if (!e.failure.isOk()) {
          db::writeKey(w, "error");
          db::writeString(w, e.failure.error());
          db::writeKey(w, "reason");
          db::writeString(w, e.failure.reason());
        }
        w.EndObject();
      }
      w.EndArray();
    }));
    return nullptr;
  });
}

void settee_sync_free(settee_sync* sync) {
  guardVoid([&] {
    if (!sync) return;
    std::shared_ptr<Sync> s;
    {
      std::lock_guard lock(sync->mu);
      s.swap(sync->sync);
    }
    s.reset();  // the Sync's destructor stops it and waits; its listeners may still take `mu`
    delete sync;
  });
}

settee_error* settee_db_document_sync_state(settee_db* db, const char* peer, const char* id,
                                            settee_doc_sync_info* out_info) {
  return guard([&]() -> settee_error* {
    if (out_info) *out_info = settee_doc_sync_info{};
    if (!db || !peer || !id || !out_info)
      return badArgument("settee_db_document_sync_state needs a database, a peer, an id and out_info");
    return docInfo(db->db->docSyncState(peer, id), out_info);
  });
}

}  // extern "C"
