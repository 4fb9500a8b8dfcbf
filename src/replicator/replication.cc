// The coordinator: a state machine over the agents (pipeline.h). It opens the two endpoints, checks them,
// finds where to resume, runs the pipeline and turns what it hears into states:
//   Starting -> Running <-> Idle (continuous, caught up) -> Completed | Failed | Stopped,
// with Retrying over any of the first three while a request backs off (retry_policy.h). Every state
// change and checkpoint is told to the listener. The agents do the work; nothing here reads a change,
// a revision or a document.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "db/crypto.h"
#include "replicator/local_endpoint.h"
#include "replicator/pipeline.h"
#include "replicator/remote_endpoint.h"
#include "replicator/tuning.h"
#include "settee/replicator.h"

namespace settee {

const char* stateName(ReplicationState state) {
  switch (state) {
    case ReplicationState::Starting:
      return "starting";
    case ReplicationState::Running:
      return "running";
    case ReplicationState::Idle:
      return "idle";
    case ReplicationState::Retrying:
      return "retrying";
    case ReplicationState::Completed:
      return "completed";
    case ReplicationState::Failed:
      return "failed";
    case ReplicationState::Stopped:
      return "stopped";
  }
  return "unknown";
}

using namespace repl;

struct Replication::Impl final : TroubleObserver, PipelineObserver {
  Impl(ReplicationPeer s, ReplicationPeer t, ReplicationOptions o)
      : sourcePeer(std::move(s)),
        targetPeer(std::move(t)),
        options(std::move(o)),
        retry(retries(), stop, *this) {}

  const ReplicationPeer sourcePeer, targetPeer;
  const ReplicationOptions options;
  Listener listener;
  StopSignal stop;
  Progress progress;
  RetryPolicy retry;

  // What stop() interrupts, set by the replication's thread as it makes them.
  std::mutex interruptMu;
  std::unique_ptr<Endpoint> source, target;
  Pipeline* pipeline = nullptr;

  mutable std::mutex mu;
  std::condition_variable cv;
  ReplicationState state = ReplicationState::Starting;
  ReplicationState beforeTrouble = ReplicationState::Running;  // where Retrying returns to
  int troubled = 0;                                            // calls currently backing off
  Status result;
  std::string id;
  bool started = false, finished = false;
  std::mutex threadMu;  // one join of the thread, whoever asks first
  std::thread thread;

  size_t batchSize() const { return options.batchSize ? options.batchSize : tuning::kChangesBatch; }
  std::chrono::milliseconds heartbeat() const {
    return options.heartbeat.count() > 0 ? options.heartbeat : tuning::kHeartbeat;
  }
  size_t workerCount() const { return options.workers ? options.workers : tuning::kWorkers; }
  int retries() const {
    return options.retries >= 0 ? options.retries : options.continuous ? INT32_MAX : tuning::kRetries;
  }
  std::chrono::milliseconds checkpointInterval() const {
    return options.checkpointInterval.count() ? options.checkpointInterval : tuning::kCheckpointInterval;
  }

  // --- The state machine -----------------------------------------------------------------------------

  void setState(ReplicationState s, const Status& st = Status::ok()) {
    {
      std::lock_guard lock(mu);
      if (state == ReplicationState::Retrying &&
          (s == ReplicationState::Running || s == ReplicationState::Idle)) {
        beforeTrouble = s;  // still backing off: that state returns when the trouble ends
        s = ReplicationState::Retrying;
      }
      state = s;
    }
    if (listener) listener(s, progress.snapshot(), st);
  }

  // While any call backs off the state is Retrying (reported once, with the first error); it goes back
  // when the last of them ends.
  void beginTrouble(const Status& why) override {
    {
      std::lock_guard lock(mu);
      if (troubled++ > 0 || (state != ReplicationState::Running && state != ReplicationState::Idle &&
                             state != ReplicationState::Starting))
        return;
      beforeTrouble = state;
      state = ReplicationState::Retrying;
    }
    if (listener) listener(ReplicationState::Retrying, progress.snapshot(), why);
  }

  // A call that gave up leaves the state to the failure that follows (no brief "running" before "failed").
  void endTrouble(bool recovered) override {
    ReplicationState back;
    {
      std::lock_guard lock(mu);
      if (--troubled > 0 || state != ReplicationState::Retrying) return;
      back = state = beforeTrouble;
    }
    if (listener && recovered) listener(back, progress.snapshot(), Status::ok());
  }

  void caughtUp() override { setState(ReplicationState::Idle); }
  void following() override { setState(ReplicationState::Running); }
  void checkpointed() override {  // observers hear of each checkpoint, in the current state
    ReplicationState current;
    {
      std::lock_guard lock(mu);
      current = state;
    }
    setState(current);
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

  // --- Starting ----------------------------------------------------------------------------------------

  // A local target writes what it is sent as the sync peer's own revisions (not pending for it).
  Result<std::unique_ptr<Endpoint>> open(const ReplicationPeer& peer, bool isTarget) {
    if (peer.db)
      return std::unique_ptr<Endpoint>(
          std::make_unique<LocalEndpoint>(peer.db, peer.access, isTarget ? options.syncPeer : std::string()));
    EndpointOptions eo;
    eo.timeout = options.timeout;
    eo.heartbeat = heartbeat();
    eo.caFile = options.caFile;
    eo.headers = options.headers;
    return makeRemoteEndpoint(peer.url, eo);
  }

  Status openEndpoints() {
    auto s = open(sourcePeer, false);
    if (!s) return s.status();
    auto t = open(targetPeer, true);
    if (!t) return t.status();
    std::lock_guard lock(interruptMu);
    source = std::move(*s);
    target = std::move(*t);
    if (stop.raised()) source->interrupt();
    return Status::ok();
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
    // It leaves documents out: a replication without the limit must not resume past them.
    if (sourcePeer.db && options.maxAttachmentBytes > 0)
      md5.update("\nmax_attachment_bytes:" + std::to_string(options.maxAttachmentBytes));
    return md5.finishHex();
  }

  // Both databases answer (the target created if asked) and the replication id is known. Answers the
  // target's update_seq at start.
  Result<std::string> checkPeers() {
    // A continuous replication waits (Retrying, with backoff) for a missing database to appear, as
    // CouchDB's scheduler keeps retrying such a job; a one-shot fails at once.
    auto orMissing = [this](const Status& st) {
      return isTransient(st) || (options.continuous && st.code() == ErrorCode::NotFound);
    };
    auto si = retry.run([&] { return source->info(); }, orMissing);
    if (!si) return si.status();
    auto ti = retry.run([&] { return target->info(); });
    if (!ti && ti.status().code() == ErrorCode::NotFound && options.createTarget) {
      if (Status st = retry.runStatus([&] { return target->create(); }); !st) return st;
      ti = retry.run([&] { return target->info(); });
    } else if (!ti && ti.status().code() == ErrorCode::NotFound) {
      ti = retry.run([&] { return target->info(); }, orMissing);
    }
    if (!ti) return ti.status();
    // The peer's writes are kept from now on in each local database's sync ledger.
    if (!options.syncPeer.empty()) {
      for (const ReplicationPeer* peer : {&sourcePeer, &targetPeer})
        if (peer->db)
          if (Status st = peer->db->registerSyncPeer(options.syncPeer); !st) return st;
    }
    std::lock_guard lock(mu);
    id = replicationId();
    return ti->updateSeq;
  }

  // --- The run -----------------------------------------------------------------------------------------

  void main() {
    if (Status st = openEndpoints(); !st) return failToStart(st);
    auto targetSeq = checkPeers();
    if (!targetSeq) return failToStart(targetSeq.status());
    Checkpointer checkpointer(*source, *target, retry, progress, options.useCheckpoints);
    auto since = checkpointer.resume(id);
    if (!since) return failToStart(since.status());
    if (!options.sinceSeq.empty()) *since = options.sinceSeq;
    checkpointer.start(*since);
    progress.update([&](ReplicationStats& s) {
      s.startLastSeq = s.endLastSeq = *since;
      s.startTime = httpDate();
    });

    ChangesReader reader(*source,
                         Filter{options.docIds, options.selector, options.filter, options.queryParams},
                         batchSize(), heartbeat(), retry, progress, *since);
    RevsDiffer differ(*target, retry, progress);
    RevFetcher fetcher(*source, retry, progress, sourcePeer.db ? options.maxAttachmentBytes : 0);
    RevWriter writer(*target, retry, progress);
    OutcomeRecorder recorder(options.onDocuments, options.syncPeer.empty() ? nullptr : sourcePeer.db,
                             options.syncPeer);
    PipelineOptions po;
    po.continuous = options.continuous;
    po.workers = workerCount();
    po.checkpointInterval = checkpointInterval();
    po.emptyTargetFromStart = *since == "0" && neverWritten(*targetSeq);
    Pipeline pipe({reader, differ, fetcher, writer, checkpointer, recorder}, po, stop, *this);
    {
      std::lock_guard lock(interruptMu);
      pipeline = &pipe;
    }
    setState(ReplicationState::Running);
    Status failure = pipe.run();
    {
      std::lock_guard lock(interruptMu);
      pipeline = nullptr;
    }
    // Whatever was fully written is recorded, even when the replication failed or was stopped.
    auto recorded = checkpointer.record(true);
    if (recorded && *recorded) checkpointed();
    if (failure.isOk() && !recorded) failure = recorded.status();
    if (failure.isOk()) (void)target->ensureFullCommit();
    progress.update([](ReplicationStats& s) { s.endTime = httpDate(); });
    if (stop.raised())
      finish(ReplicationState::Stopped, Status::ok());
    else if (!failure)
      finish(ReplicationState::Failed, failure);
    else
      finish(ReplicationState::Completed, Status::ok());
  }

  void failToStart(const Status& st) {
    if (stop.raised())
      finish(ReplicationState::Stopped, Status::ok());  // stopped while still starting
    else
      finish(ReplicationState::Failed, st);
  }

  // Wakes what waits: a reader on the source's feed, the pipeline's queue, a backoff.
  void interrupt() {
    stop.raise();
    std::lock_guard lock(interruptMu);
    if (source) source->interrupt();
    if (target) target->interrupt();
    if (pipeline) pipeline->wake();
  }

  void join() {
    std::lock_guard lock(threadMu);
    if (thread.joinable()) thread.join();
  }
};

Replication::Replication(ReplicationPeer source, ReplicationPeer target, ReplicationOptions options)
    : impl_(std::make_unique<Impl>(std::move(source), std::move(target), std::move(options))) {}

Replication::~Replication() { stop(); }

void Replication::start(Listener listener) {
  std::lock_guard threadLock(impl_->threadMu);
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) return;
    impl_->started = true;
  }
  impl_->listener = std::move(listener);
  impl_->thread = std::thread([this] { impl_->main(); });
}

void Replication::stop() {
  impl_->interrupt();
  impl_->join();
}

Status Replication::wait() {
  {
    std::unique_lock lock(impl_->mu);
    // Nothing would ever finish: answer at once rather than block for ever.
    if (!impl_->started)
      return Status(ErrorCode::PreconditionFailed, "the replication was never started: call start() first");
    impl_->cv.wait(lock, [&] { return impl_->finished; });
  }
  impl_->join();
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

ReplicationStats Replication::stats() const { return impl_->progress.snapshot(); }

std::string Replication::id() const {
  std::lock_guard lock(impl_->mu);
  return impl_->id;
}

}  // namespace settee
