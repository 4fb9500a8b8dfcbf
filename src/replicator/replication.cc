// The coordinator: a reader thread pulls changes from the source into a bounded queue; worker threads
// diff, fetch and write each batch; the checkpoint advances only to the last sequence below which every
// batch is fully written. It is a state machine and nothing else: the endpoints do the I/O.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "db/crypto.h"
#include "replicator/checkpoint.h"
#include "replicator/local_endpoint.h"
#include "replicator/remote_endpoint.h"
#include "replicator/tuning.h"
#include "settee/replicator.h"

namespace settee {

const char* stateName(ReplicationState state) {
  switch (state) {
    case ReplicationState::Starting: return "starting";
    case ReplicationState::Running: return "running";
    case ReplicationState::Idle: return "idle";
    case ReplicationState::Retrying: return "retrying";
    case ReplicationState::Completed: return "completed";
    case ReplicationState::Failed: return "failed";
    case ReplicationState::Stopped: return "stopped";
  }
  return "unknown";
}

namespace {

using namespace repl;

struct Batch {
  uint64_t number = 0;
  std::vector<ChangeRow> rows;
  std::string lastSeq;
};

// Failures worth retrying: the network, timeouts, 5xx. A refusal (401/403), a bad request, a missing
// database, a conflict (the caller re-reads) or a body too large will not change by asking again.
bool transient(const Status& st) {
  switch (st.code()) {
    case ErrorCode::Conflict:
    case ErrorCode::TooLarge:
    case ErrorCode::BadContentType:
    case ErrorCode::Unauthorized:
    case ErrorCode::Forbidden:
    case ErrorCode::BadRequest:
    case ErrorCode::NotFound:
    case ErrorCode::IllegalDatabaseName:
      return false;
    default:
      return true;
  }
}

std::string randomHex() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

struct Replication::Impl {
  ReplicationPeer sourcePeer, targetPeer;
  ReplicationOptions options;
  Listener listener;
  std::unique_ptr<Endpoint> source, target;
  std::mutex endpointsMu;  // guards source/target being set while stop() interrupts them

  mutable std::mutex mu;
  std::condition_variable cv;
  ReplicationState state = ReplicationState::Starting;
  ReplicationState beforeTrouble = ReplicationState::Running;  // where Retrying returns to
  int troubled = 0;                      // retry() calls currently backing off
  ReplicationStats stats;
  Status result;
  std::string id;
  bool finished = false;
  std::atomic<bool> stopping{false};
  std::thread thread;

  // Pipeline state (guarded by mu).
  std::deque<Batch> queue;
  bool readerDone = false;
  Status workerError;
  uint64_t nextToCommit = 0;             // the lowest batch number not yet fully written
  std::map<uint64_t, std::string> doneBatches;  // finished out of order, waiting for earlier ones
  std::string committedSeq;
  size_t inFlight = 0;                   // batches taken by workers and not yet finished

  // Checkpoint state (reader thread only).
  std::string sessionId, localId, sourceRev, targetRev, lastCheckpointed;
  std::vector<HistoryEntry> history;

  size_t batchSize() const { return options.batchSize ? options.batchSize : tuning::kChangesBatch; }
  std::chrono::milliseconds heartbeat() const { return options.heartbeat.count() > 0 ? options.heartbeat : tuning::kHeartbeat; }
  size_t workerCount() const { return options.workers ? options.workers : tuning::kWorkers; }
  int retries() const { return options.retries >= 0 ? options.retries : options.continuous ? INT32_MAX : tuning::kRetries; }

  void setState(ReplicationState s, const Status& st = Status::ok()) {
    ReplicationStats copy;
    {
      std::lock_guard lock(mu);
      if (state == ReplicationState::Retrying && (s == ReplicationState::Running || s == ReplicationState::Idle)) {
        beforeTrouble = s;  // still backing off: that state returns when the trouble ends
        s = ReplicationState::Retrying;
      }
      state = s;
      copy = stats;
    }
    if (listener) listener(s, copy, st);
  }

  // Runs `fn` until it succeeds, a permanent error, a stop, or the retries run out; backs off
  // exponentially with jitter between tries.
  // While any call backs off the state is Retrying (reported once, with the first error); it goes back
  // when the last of them ends.
  template <class F, class P = bool (*)(const Status&)>
  auto retry(F&& fn, P worthRetrying = transient) -> decltype(fn()) {
    auto delay = tuning::kBackoffStart;
    thread_local std::mt19937 rng{std::random_device{}()};
    bool inTrouble = false;
    for (int attempt = 0;; ++attempt) {
      auto r = fn();
      if (r.isOk() || !worthRetrying(r.status()) || attempt >= retries() || stopping) {
        if (inTrouble) endTrouble(r.isOk());
        return r;
      }
      if (!inTrouble) {
        inTrouble = true;
        beginTrouble(r.status());
      }
      auto jittered = delay + std::chrono::milliseconds(rng() % (delay.count() / 2 + 1));
      for (auto waited = std::chrono::milliseconds(0); waited < jittered && !stopping; waited += std::chrono::milliseconds(50))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      delay = std::min(delay * 2, tuning::kBackoffMax);
    }
  }

  // Wakes a reader waiting on the source's feed. The endpoints are made by the replication thread.
  void interruptEndpoints() {
    std::lock_guard lock(endpointsMu);
    if (source) source->interrupt();
    if (target) target->interrupt();
  }

  // retry() for calls that answer a bare Status.
  template <class F>
  Status retryStatus(F&& fn) {
    auto r = retry([&]() -> Result<bool> {
      Status st = fn();
      if (!st) return st;
      return true;
    });
    return r ? Status::ok() : r.status();
  }

  void beginTrouble(const Status& why) {
    ReplicationStats copy;
    {
      std::lock_guard lock(mu);
      if (troubled++ > 0 || (state != ReplicationState::Running && state != ReplicationState::Idle &&
                             state != ReplicationState::Starting))
        return;
      beforeTrouble = state;
      state = ReplicationState::Retrying;
      copy = stats;
    }
    if (listener) listener(ReplicationState::Retrying, copy, why);
  }

  // `recovered`: the call succeeded. One that gave up leaves the state to the failure that follows
  // (no brief "running" before "failed").
  void endTrouble(bool recovered) {
    ReplicationStats copy;
    ReplicationState back;
    {
      std::lock_guard lock(mu);
      if (--troubled > 0 || state != ReplicationState::Retrying) return;
      back = state = beforeTrouble;
      copy = stats;
    }
    if (listener && recovered) listener(back, copy, Status::ok());
  }

  Result<std::unique_ptr<Endpoint>> open(const ReplicationPeer& peer) {
    if (peer.db) return std::unique_ptr<Endpoint>(std::make_unique<LocalEndpoint>(peer.db, peer.access));
    EndpointOptions eo;
    eo.timeout = options.timeout;
    eo.heartbeat = heartbeat();
    eo.caFile = options.caFile;
    eo.headers = options.headers;
    return makeRemoteEndpoint(peer.url, eo);
  }

  std::string replicationId() {
    db::Md5 md5;
    md5.update("settee-replication-v1\n");
    md5.update(source->describe());
    md5.update("\n");
    md5.update(target->describe());
    for (const auto& id : options.docIds) {
      md5.update("\ndoc_id:");
      md5.update(id);
    }
    if (!options.selector.empty()) md5.update("\nselector:" + options.selector);
    if (!options.filter.empty()) md5.update("\nfilter:" + options.filter + "\n" + options.queryParams);
    return md5.finishHex();
  }

  Status checkpoint(bool force) {
    std::string seq;
    ReplicationStats snapshot;
    {
      std::lock_guard lock(mu);
      seq = committedSeq;
      snapshot = stats;
    }
    if (!options.useCheckpoints || seq.empty() || (seq == lastCheckpointed && !force)) return Status::ok();
    HistoryEntry entry;
    entry.sessionId = sessionId;
    entry.startTime = snapshot.startTime;
    entry.endTime = httpDate();
    entry.startLastSeq = snapshot.startLastSeq;
    entry.endLastSeq = seq;
    entry.recordedSeq = seq;
    entry.counters = {snapshot.docsRead, snapshot.docsWritten, snapshot.docWriteFailures, snapshot.missingChecked,
                      snapshot.missingFound};
    // Source first, then target, as CouchDB does. A conflict means someone else wrote it: re-read
    // the revision and try once more.
    for (auto* side : {source.get(), target.get()}) {
      std::string& rev = side == source.get() ? sourceRev : targetRev;
      // Retried like every request: a lost answer to a PUT that was applied comes back as a conflict,
      // which the re-read below resolves.
      auto put = [&] { return retry([&] { return side->putLocal(localId, encodeCheckpoint(rev, sessionId, seq, entry, history)); }); };
      auto written = put();
      if (!written && written.status().code() == ErrorCode::Conflict) {
        auto current = retry([&] { return side->getLocal(localId); });
        if (current) rev = checkpointRev(*current);
        written = put();
      }
      if (!written) {
        // A source that refuses checkpoints (read-only) keeps them on the target only, as PouchDB does.
        if (side == source.get() && !transient(written.status())) continue;
        return written.status();
      }
      rev = *written;
    }
    lastCheckpointed = seq;
    ReplicationState current;
    {
      std::lock_guard lock(mu);
      stats.endLastSeq = seq;
      current = state;
    }
    setState(current);  // observers hear of each checkpoint
    return Status::ok();
  }

  Status processBatch(Batch& batch) {
    std::vector<std::pair<std::string, std::vector<std::string>>> revs;
    uint64_t checked = 0;
    for (auto& row : batch.rows) {
      checked += row.revs.size();
      revs.emplace_back(std::move(row.id), std::move(row.revs));
    }
    auto missing = retry([&] { return target->revsDiff(revs); });
    if (!missing) return missing.status();
    uint64_t found = 0;
    for (const auto& m : *missing) found += m.missing.size();
    {
      std::lock_guard lock(mu);
      stats.missingChecked += checked;
      stats.missingFound += found;
    }
    for (size_t at = 0; at < missing->size(); at += tuning::kFetchBatch) {
      std::vector<MissingRevs> chunk(missing->begin() + static_cast<long>(at),
                                     missing->begin() + static_cast<long>(std::min(missing->size(), at + tuning::kFetchBatch)));
      std::vector<MissingRevs> withAttachments;
      auto docs = retry([&] {
        withAttachments.clear();
        return source->fetch(chunk, &withAttachments);
      });
      if (!docs) return docs.status();
      if (Status st = writeFetched(*docs); !st) return st;
      // Documents with large attachments one at a time, streamed through a spool file: memory holds a
      // piece of an attachment, never a whole one.
      auto large = std::stable_partition(withAttachments.begin(), withAttachments.end(), [](const MissingRevs& m) {
        return m.attachmentBytes < tuning::kStreamThreshold;
      });
      for (auto it = large; it != withAttachments.end(); ++it) {
        auto docs = retry([&] { return source->fetchStreamed(*it); });
        if (!docs) return docs.status();
        if (Status st = writeFetched(*docs); !st) return st;
      }
      withAttachments.erase(large, withAttachments.end());
      // The others in groups of bounded size: memory holds at most a group's bytes, never a batch's.
      for (size_t from = 0; from < withAttachments.size();) {
        size_t to = from;
        uint64_t bytes = 0;
        while (to < withAttachments.size() && (to == from || bytes + withAttachments[to].attachmentBytes <= tuning::kAttachmentGroupBytes))
          bytes += withAttachments[to++].attachmentBytes;
        std::vector<MissingRevs> group(withAttachments.begin() + static_cast<long>(from),
                                       withAttachments.begin() + static_cast<long>(to));
        auto docs = retry([&] { return source->fetch(group); });
        if (!docs) return docs.status();
        if (Status st = writeFetched(*docs); !st) return st;
        from = to;
      }
    }
    return Status::ok();
  }

  Status writeFetched(const std::vector<FetchedRev>& docs) {
    if (docs.empty()) return Status::ok();
    auto failures = retry([&] { return target->write(docs); });
    if (!failures) return failures.status();
    std::lock_guard lock(mu);
    stats.docsRead += docs.size();
    stats.docsWritten += docs.size() - failures->size();
    stats.docWriteFailures += failures->size();
    return Status::ok();
  }

  void worker() {
    for (;;) {
      Batch batch;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || readerDone || !workerError.isOk(); });
        if (!workerError.isOk() || queue.empty()) return;
        batch = std::move(queue.front());
        queue.pop_front();
        ++inFlight;
        cv.notify_all();
      }
      Status st = stopping ? Status(ErrorCode::Internal, "stopped") : processBatch(batch);
      std::lock_guard lock(mu);
      --inFlight;
      if (!st) {
        if (workerError.isOk()) workerError = st;
        cv.notify_all();
        return;
      }
      doneBatches[batch.number] = batch.lastSeq;
      while (!doneBatches.empty() && doneBatches.begin()->first == nextToCommit) {
        committedSeq = doneBatches.begin()->second;
        doneBatches.erase(doneBatches.begin());
        ++nextToCommit;
      }
      cv.notify_all();
    }
  }

  Status start() {
    auto s = open(sourcePeer);
    if (!s) return s.status();
    auto t = open(targetPeer);
    if (!t) return t.status();
    {
      std::lock_guard lock(endpointsMu);
      source = std::move(*s);
      target = std::move(*t);
      if (stopping) source->interrupt();
    }
    // A continuous replication waits (Retrying, with backoff) for a missing database to appear, as
    // CouchDB's scheduler keeps retrying such a job; a one-shot fails at once.
    auto orMissing = [this](const Status& st) {
      return transient(st) || (options.continuous && st.code() == ErrorCode::NotFound);
    };
    auto si = retry([&] { return source->info(); }, orMissing);
    if (!si) return si.status();
    auto ti = retry([&] { return target->info(); });
    if (!ti && ti.status().code() == ErrorCode::NotFound && options.createTarget) {
      if (Status st = retryStatus([&] { return target->create(); }); !st) return st;
      ti = retry([&] { return target->info(); });
    } else if (!ti && ti.status().code() == ErrorCode::NotFound) {
      ti = retry([&] { return target->info(); }, orMissing);
    }
    if (!ti) return ti.status();
    {
      std::lock_guard lock(mu);
      id = replicationId();
    }
    localId = "_local/" + id;
    sessionId = randomHex();
    std::string since = "0";
    if (options.useCheckpoints) {
      auto sdoc = retry([&] { return source->getLocal(localId); });
      auto tdoc = retry([&] { return target->getLocal(localId); });
      std::optional<std::string> sj = sdoc ? *sdoc : std::nullopt, tj = tdoc ? *tdoc : std::nullopt;
      if (!tdoc) return tdoc.status();
      since = resumeSeq(sj, tj);
      sourceRev = checkpointRev(sj);
      targetRev = checkpointRev(tj);
      history = checkpointHistory(sj ? sj : tj);
    }
    if (!options.sinceSeq.empty()) since = options.sinceSeq;
    std::lock_guard lock(mu);
    stats.startLastSeq = since;
    stats.endLastSeq = since;
    stats.startTime = httpDate();
    committedSeq = since;
    lastCheckpointed = since;
    return Status::ok();
  }

  Status readLoop() {
    Filter filter{options.docIds, options.selector, options.filter, options.queryParams};
    std::string since;
    {
      std::lock_guard lock(mu);
      since = committedSeq;
    }
    uint64_t number = 0;
    bool caughtUp = false;
    auto lastCheckpoint = std::chrono::steady_clock::now();
    auto interval = options.checkpointInterval.count() ? options.checkpointInterval : tuning::kCheckpointInterval;
    while (!stopping) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return queue.size() < tuning::kQueueDepth || !workerError.isOk() || stopping; });
        if (!workerError.isOk()) return workerError;
      }
      bool wait = options.continuous && caughtUp;
      auto batch = retry([&] { return source->changes(since, batchSize(), filter, wait, tuning::longpollTimeout(heartbeat())); });
      if (!batch) return batch.status();
      {
        std::lock_guard lock(mu);
        if (batch->pending) stats.pending = *batch->pending;
      }
      bool shortBatch = batch->rows.size() < batchSize();
      if (!batch->rows.empty()) {
        std::lock_guard lock(mu);
        queue.push_back({number++, std::move(batch->rows), batch->lastSeq});
        cv.notify_all();
      } else if (batch->lastSeq != since) {
        // Nothing passed the filter but the feed advanced: an empty batch still moves the checkpoint.
        std::lock_guard lock(mu);
        queue.push_back({number++, {}, batch->lastSeq});
        cv.notify_all();
      }
      since = batch->lastSeq;
      if (std::chrono::steady_clock::now() - lastCheckpoint >= interval) {
        if (Status st = checkpoint(false); !st) return st;
        lastCheckpoint = std::chrono::steady_clock::now();
      }
      if (shortBatch) {
        if (!options.continuous) return Status::ok();
        if (!caughtUp) {
          caughtUp = true;
          drainAndCheckpoint();
          setState(ReplicationState::Idle);
        }
      } else if (caughtUp) {
        caughtUp = false;
        setState(ReplicationState::Running);
      }
    }
    return Status::ok();
  }

  // Waits for the queue to empty and every batch to finish, then records the checkpoint.
  void drainAndCheckpoint() {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return (queue.empty() && inFlight == 0) || !workerError.isOk(); });
    }
    (void)checkpoint(false);
  }

  void main() {
    Status st = start();
    if (!st) {
      if (stopping) finish(ReplicationState::Stopped, Status::ok());  // stopped while still starting
      else finish(ReplicationState::Failed, st);
      return;
    }
    setState(ReplicationState::Running);
    std::vector<std::thread> workers;
    for (size_t i = 0; i < workerCount(); ++i) workers.emplace_back([this] { worker(); });
    st = readLoop();
    {
      std::lock_guard lock(mu);
      readerDone = true;
      if (!st && workerError.isOk()) workerError = st;
      cv.notify_all();
    }
    for (auto& w : workers) w.join();
    Status failure;
    {
      std::lock_guard lock(mu);
      failure = workerError;
    }
    // Whatever was fully written is recorded, even when the replication failed or was stopped.
    Status cp = checkpoint(true);
    if (failure.isOk() && !cp) failure = cp;
    if (failure.isOk()) (void)target->ensureFullCommit();
    {
      std::lock_guard lock(mu);
      stats.endTime = httpDate();
    }
    if (stopping) finish(ReplicationState::Stopped, Status::ok());
    else if (!failure) finish(ReplicationState::Failed, failure);
    else finish(ReplicationState::Completed, Status::ok());
  }

  void finish(ReplicationState s, const Status& st) {
    {
      std::lock_guard lock(mu);
      result = st;
    }
    setState(s, st);
    std::lock_guard lock(mu);
    finished = true;
    cv.notify_all();
  }
};

Replication::Replication(ReplicationPeer source, ReplicationPeer target, ReplicationOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->sourcePeer = std::move(source);
  impl_->targetPeer = std::move(target);
  impl_->options = std::move(options);
}

Replication::~Replication() { stop(); }

void Replication::start(Listener listener) {
  if (impl_->thread.joinable()) return;
  impl_->listener = std::move(listener);
  impl_->thread = std::thread([this] { impl_->main(); });
}

void Replication::stop() {
  impl_->stopping = true;
  impl_->cv.notify_all();
  impl_->interruptEndpoints();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Status Replication::wait() {
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [&] { return impl_->finished; });
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard lock(impl_->mu);
  return impl_->result;
}

Status Replication::run() {
  start();
  return wait();
}

ReplicationState Replication::state() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state;
}

ReplicationStats Replication::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::string Replication::id() const {
  std::lock_guard lock(impl_->mu);
  return impl_->id;
}

}  // namespace settee
