// The node's replications: the job table's life, and the `_replicator` database's watcher, which starts,
// restarts and stops a job as its document appears, changes or goes, and writes a one-shot job's end back
// into its document. The HTTP routes are in scheduler_routes.cc.
#include "replicator/replicator_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "db/json.h"
#include "db/metrics.h"
#include "http/auth.h"
#include "http/system_dbs.h"
#include "replicator/local_endpoint.h"
#include "replicator/replicator_job.h"

namespace settee::repl {
namespace {

using simdjson::dom::element;

// Writes a one-shot job's end into its document (`_replication_state`, `_replication_state_time`,
// `_replication_id`, `_replication_state_reason`), keeping every other member, as CouchDB's scheduler does.
void writeBack(Database& db, const std::string& id, const std::string& state, const std::string& repId,
               const std::string& reason) {
  auto current = db.get(id);
  simdjson::dom::parser p;
  element r;
  if (!current || p.parse(*current).get(r)) return;
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  w.StartObject();
  for (auto field : simdjson::dom::object(r)) {
    if (field.key.substr(0, 13) == "_replication_") continue;
    db::writeKey(w, field.key);
    db::writeElement(w, field.value);
  }
  db::writeKey(w, "_replication_state");
  db::writeString(w, state);
  db::writeKey(w, "_replication_state_time");
  db::writeString(w, isoNow());
  if (!repId.empty()) {
    db::writeKey(w, "_replication_id");
    db::writeString(w, repId);
  }
  if (!reason.empty()) {
    db::writeKey(w, "_replication_state_reason");
    db::writeString(w, reason);
  }
  w.EndObject();
  (void)db.put(db::bufferView(buf));  // a concurrent edit wins; the scheduler sees it next
}

}  // namespace

ReplicatorService::ReplicatorService(http::Api& api) : svc_(api.services()) {
  registerRoutes(api);
  svc_.activeTasks = [this] { return activeTasks(); };
  // Replications into and out of this node's databases run their JavaScript on the node's query servers.
  setQueryServers(svc_.design);
  svc_.features->push_back("scheduler");  // its /_scheduler routes, registered above
  registerMetrics();
}

void ReplicatorService::registerMetrics() {
  alive_->service = this;
  // CouchDB's scheduler gauges: running jobs (following or caught up), pending ones (not started yet),
  // crashed ones (backing off after an error), and every job not ended.
  auto gauge = [alive = alive_](bool (*counted)(ReplicationState)) {
    return [alive, counted]() -> int64_t {
      std::lock_guard guard(alive->mu);
      if (!alive->service) return 0;
      int64_t n = 0;
      for (const auto& job : alive->service->jobList()) n += !job->ended && counted(job->rep->state());
      return n;
    };
  };
  metrics::gaugeFn("couch_replicator.jobs.running", gauge([](ReplicationState s) {
                     return s == ReplicationState::Running || s == ReplicationState::Idle;
                   }));
  metrics::gaugeFn("couch_replicator.jobs.pending",
                   gauge([](ReplicationState s) { return s == ReplicationState::Starting; }));
  metrics::gaugeFn("couch_replicator.jobs.crashed",
                   gauge([](ReplicationState s) { return s == ReplicationState::Retrying; }));
  metrics::gaugeFn("couch_replicator.jobs.total", gauge([](ReplicationState s) {
                     return s != ReplicationState::Completed && s != ReplicationState::Failed &&
                            s != ReplicationState::Stopped;
                   }));
}

ReplicatorService::~ReplicatorService() {
  {
    std::lock_guard guard(alive_->mu);  // waits for a reading under way
    alive_->service = nullptr;
  }
  {
    std::lock_guard lock(wake_->mu);
    wake_->stopping = true;
  }
  wake_->cv.notify_all();
  if (watcher_.joinable()) watcher_.join();
  if (replicatorDb_) replicatorDb_->removeChangeListener(listener_);
  std::map<std::string, std::shared_ptr<Job>> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(jobs_);
  }
  for (auto& [id, job] : jobs) job->rep->stop();
}

void ReplicatorService::start() {
  auto db = svc_.data->open("_replicator");
  if (!db) db = svc_.data->create("_replicator");
  if (!db) return;
  replicatorDb_ = *db;
  // The listener only notes the sequence and wakes the watcher: it runs on the writer's thread, which
  // must not wait for a scan. Added before the first scan, so no change falls between the two.
  listener_ = replicatorDb_->addChangeListener([wake = wake_](uint64_t updateSeq) {
    {
      std::lock_guard lock(wake->mu);
      wake->latestSeq = std::max(wake->latestSeq, updateSeq);
    }
    wake->cv.notify_all();
  });
  scanReplicatorDb();
  // A watcher thread follows the `_replicator` database, asleep until a change or the node's end.
  watcher_ = std::thread([this] {
    std::unique_lock lock(wake_->mu);
    for (;;) {
      wake_->cv.wait(lock, [&] { return wake_->stopping || wake_->latestSeq > seenSeq_; });
      if (wake_->stopping) return;
      lock.unlock();
      scanReplicatorDb();
      lock.lock();
    }
  });
}

void ReplicatorService::scanReplicatorDb() {
  ChangesOptions options;
  options.since = seenSeq_;
  std::vector<std::string> ids;
  auto scanned = replicatorDb_->changes(options, [&](const Change& c) {
    ids.push_back(c.id);
    return true;
  });
  // A row that cannot be read (a damaged file) is passed over with the rest of this scan rather than
  // read again on every wake-up; the rows read before it are still handled below.
  if (!scanned) std::fprintf(stderr, "[error] _replicator changes: %s\n", scanned.status().reason().c_str());
  seenSeq_ = scanned ? *scanned : replicatorDb_->waitForChange(seenSeq_, std::chrono::milliseconds(0));
  for (const auto& id : ids) {
    if (id.rfind("_design/", 0) != 0) syncDoc(id);
  }
}

void ReplicatorService::syncDoc(const std::string& id) {
  const std::string key = "doc:" + id;
  auto stopJob = [&] {
    std::shared_ptr<Job> old;
    {
      std::lock_guard lock(mu_);
      auto it = jobs_.find(key);
      if (it == jobs_.end()) return;
      old = it->second;
      jobs_.erase(it);
    }
    old->rep->stop();
  };
  auto doc = replicatorDb_->get(id);
  if (!doc) return stopJob();
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(*doc).get(root)) return;
  std::string_view state;
  if (!root["_replication_state"].get(state) && (state == "completed" || state == "failed")) return;
  // What defines the job: the document without its revision and the scheduler's fields.
  std::string specJson;
  for (auto field : simdjson::dom::object(root)) {
    if (field.key == "_rev" || field.key.substr(0, 13) == "_replication_") continue;
    specJson += std::string(field.key) + "=" + db::toJson(field.value) + ";";
  }
  {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(key);
    if (it != jobs_.end() && it->second->specJson == specJson && !it->second->ended) return;
  }
  stopJob();
  // The document's user_ctx, stamped by the node when it was written over HTTP; none means anonymous.
  http::UserCtx user = http::userCtxOf(root);
  if (svc_.auth->adminParty()) user.roles.push_back("_admin");
  auto spec = parseSpec(root, *svc_.data, Requester{*svc_.auth, user});
  auto job = std::make_shared<Job>();
  job->docId = id;
  job->user = user;
  job->specJson = specJson;
  auto db = replicatorDb_;
  if (!spec) {
    writeBack(*db, id, "failed", "", spec.status().reason());
    return;
  }
  job->spec = std::move(*spec);
  keepSyncState(*job);
  job->rep = std::make_unique<Replication>(job->spec.source, job->spec.target, job->spec.options);
  Job* raw = job.get();
  {
    std::lock_guard lock(mu_);
    jobs_[key] = job;
  }
  raw->rep->start([raw, db, id](ReplicationState s, const ReplicationStats&, const Status& st) {
    if (s == ReplicationState::Completed || s == ReplicationState::Failed) {
      raw->ended = true;
      writeBack(*db, id, s == ReplicationState::Completed ? "completed" : "failed", raw->rep->id(),
                st.reason());
    }
  });
}

}  // namespace settee::repl
