// settee::Sync (settee/sync.h): the public calls, the peer key and the status an app reads. The state
// machine is in sync_run.cc, documents and conflicts in sync_events.cc; sync_impl.h says which thread
// does what.
#include "settee/sync.h"

#include "db/json.h"
#include "db/metrics.h"
#include "http/client_url.h"
#include "replicator/sync_impl.h"

namespace settee {

const char* syncStateName(SyncState state) {
  switch (state) {
    case SyncState::Offline:
      return "offline";
    case SyncState::Connecting:
      return "connecting";
    case SyncState::Syncing:
      return "syncing";
    case SyncState::Idle:
      return "idle";
    case SyncState::Stopped:
      return "stopped";
  }
  return "unknown";
}

const char* docEventName(DocEventKind kind) {
  switch (kind) {
    case DocEventKind::Pulled:
      return "pulled";
    case DocEventKind::Pushed:
      return "pushed";
    case DocEventKind::Failed:
      return "failed";
    case DocEventKind::ConflictDetected:
      return "conflict";
    case DocEventKind::ConflictResolved:
      return "resolved";
  }
  return "unknown";
}

std::string syncPeerKey(std::string_view url) {
  auto parsed = http::Url::parse(url);
  if (!parsed) return {};
  std::string_view path = parsed->target;
  path = path.substr(0, path.find('?'));
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const bool ipv6 = parsed->host.find(':') != std::string::npos;
  std::string key = parsed->scheme + "://";
  key += ipv6 ? "[" + parsed->host + "]" : parsed->host;
  key += ":" + std::to_string(parsed->port);
  key += path;
  return key;
}

namespace repl {

Result<std::string> allOf(std::string_view a, std::string_view b) {
  simdjson::dom::parser pa, pb;
  simdjson::dom::element ea, eb;
  for (auto [text, parser, element] : {std::tuple{a, &pa, &ea}, std::tuple{b, &pb, &eb}}) {
    if (text.empty()) continue;
    if (parser->parse(text.data(), text.size()).get(*element) || !element->is_object())
      return Status(ErrorCode::BadRequest, "a selector must be a JSON object");
  }
  if (a.empty() || b.empty()) return std::string(a.empty() ? b : a);
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  w.StartObject();
  db::writeKey(w, "$and");
  w.StartArray();
  db::writeElement(w, ea);
  db::writeElement(w, eb);
  w.EndArray();
  w.EndObject();
  return std::string(db::bufferView(buf));
}

}  // namespace repl

// ---- Sync::Impl: starting, stopping, reading the status ---------------------------------------------

Status Sync::Impl::start() {
  if (peer.empty()) return {ErrorCode::BadRequest, "the sync peer must be an http or https URL"};
  auto push = repl::allOf(options.pushSelector, {});
  if (!push) return push.status();
  auto pull = repl::allOf(options.pullSelector, {});
  if (!pull) return pull.status();
  auto priorityPush = repl::allOf(options.prioritySelector, options.pushSelector);
  if (!priorityPush) return priorityPush.status();
  auto priorityPull = repl::allOf(options.prioritySelector, options.pullSelector);
  if (!priorityPull) return priorityPull.status();
  if (Status st = db->registerSyncPeer(peer); !st) return st;
  auto known = db->syncCounts(peer);

  std::lock_guard threadLock(threadMu);
  if (thread.joinable()) return Status::ok();  // already running
  pushSelector = std::move(*push);
  pullSelector = std::move(*pull);
  priorityPushSelector = options.prioritySelector.empty() ? std::string() : std::move(*priorityPush);
  priorityPullSelector = options.prioritySelector.empty() ? std::string() : std::move(*priorityPull);
  basePushed = basePulled = 0;
  refusedSeen.clear();
  backoff = repl::SyncBackoff(options.minBackoff, options.maxBackoff);
  {
    std::lock_guard lock(mu);
    stopRequested = meteredChanged = connectNow = false;
    if (known) lastSyncMicros = known->lastSyncMicros;
    progress = {};
    rate.clear();
    lastError = Status::ok();
    nextRetryMicros = 0;
    state = network ? SyncState::Connecting : SyncState::Offline;
  }
  thread = std::thread([this] { main(); });
  return Status::ok();
}

void Sync::Impl::stop() {
  std::lock_guard threadLock(threadMu);
  {
    std::lock_guard lock(mu);
    stopRequested = true;
  }
  cv.notify_all();
  if (thread.joinable()) thread.join();
}

SyncStatus Sync::Impl::snapshot() const {
  SyncStatus s;
  {
    std::lock_guard lock(mu);
    s.state = state;
    s.lastError = lastError;
    s.lastSyncMicros = lastSyncMicros;
    s.nextRetryMicros = nextRetryMicros;
    s.progress = progress;
    s.progress.docsPerSecond = rate.perSecond(Clock::now());
  }
  // The ledger counts without a scan (sync_state.h), so asking on every status costs little. A database
  // that cannot answer leaves the counts at zero; the sync itself goes on.
  if (auto counts = db->syncCounts(peer)) s.counts = *counts;
  metrics::gauge("settee.sync.outbox_depth", int64_t(s.counts.pending));  // the last Sync that reported
  s.counts.lastSyncMicros = std::max(s.counts.lastSyncMicros, s.lastSyncMicros);
  return s;
}

// ---- The public calls -------------------------------------------------------------------------------

Sync::Sync(std::shared_ptr<Database> db, std::string url, SyncOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->db = std::move(db);
  impl_->peer = syncPeerKey(url);
  impl_->url = std::move(url);
  impl_->metered = options.metered;
  impl_->options = std::move(options);
}
Sync::~Sync() { impl_->stop(); }
void Sync::onStatus(StatusListener listener) { impl_->statusListener = std::move(listener); }
void Sync::onDocument(DocListener listener) { impl_->docListener = std::move(listener); }
Status Sync::start() { return impl_->start(); }
void Sync::stop() { impl_->stop(); }

void Sync::networkChanged(bool available) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->network = available;
    if (available) impl_->connectNow = true;
  }
  impl_->cv.notify_all();
}

void Sync::setMetered(bool metered) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->metered == metered) return;
    impl_->metered = metered;
    impl_->meteredChanged = true;
  }
  impl_->cv.notify_all();
}

SyncStatus Sync::status() const { return impl_->snapshot(); }
const std::string& Sync::peer() const { return impl_->peer; }
Result<DocSyncInfo> Sync::documentState(std::string_view id) {
  return impl_->db->docSyncState(impl_->peer, id);
}
Result<SyncCounts> Sync::counts() { return impl_->db->syncCounts(impl_->peer); }
Result<std::vector<DocSyncEntry>> Sync::documents(DocSyncState state, size_t limit, std::string_view after) {
  return impl_->db->syncDocuments(impl_->peer, state, limit, after);
}

}  // namespace settee
