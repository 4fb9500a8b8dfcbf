#include "replicator/replicator_service.h"

#include <atomic>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <thread>

#include "db/json.h"
#include "http/auth.h"
#include "http/client_url.h"
#include "http/system_dbs.h"
#include "replicator/checkpoint.h"
#include "replicator/replication_spec.h"

namespace settee::repl {
namespace {

// A job's counters as /_active_tasks and /_scheduler/docs name them (the checkpoint history uses
// missing_checked / missing_found instead).
void writeProgress(db::JsonWriter& w, const ReplicationStats& st) {
  const std::pair<const char*, uint64_t> counters[] = {
      {"docs_read", st.docsRead}, {"docs_written", st.docsWritten}, {"doc_write_failures", st.docWriteFailures},
      {"missing_revisions_found", st.missingFound}, {"revisions_checked", st.missingChecked},
      {"changes_pending", st.pending}};
  for (auto [k, v] : counters) {
    db::writeKey(w, k);
    w.Uint64(v);
  }
}

// {"ok":true,"_local_id":"<id>+continuous"}: what POST /_replicate answers for a continuous job,
// started or cancelled.
std::string continuousAnswer(const Replication& rep) {
  return http::writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    db::writeKey(w, "ok");
    w.Bool(true);
    db::writeKey(w, "_local_id");
    db::writeString(w, rep.id() + "+continuous");
    w.EndObject();
  });
}

// A job's state under CouchDB's scheduler names (/_scheduler/jobs and /_scheduler/docs).
const char* schedulerState(ReplicationState s) {
  switch (s) {
    case ReplicationState::Starting: return "initializing";
    case ReplicationState::Running:
    case ReplicationState::Idle: return "running";
    case ReplicationState::Retrying: return "crashing";
    case ReplicationState::Completed: return "completed";
    case ReplicationState::Failed: return "failed";
    case ReplicationState::Stopped: return "stopped";
  }
  return "running";
}

using http::Call;
using http::Response;
using simdjson::dom::element;

std::string isoNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

struct ReplicatorService::Job {
  std::string docId;       // "" for POST /_replicate jobs
  http::UserCtx user;      // whose rights it runs with
  std::string specJson;    // to notice an edited document
  Spec spec;
  std::unique_ptr<Replication> rep;
  std::string startTime = isoNow();
  std::atomic<bool> ended{false};
};

ReplicatorService::ReplicatorService(http::Api& api) : svc_(api.services()) {
  registerRoutes(api);
  svc_.activeTasks = [this] { return activeTasks(); };
  svc_.features.push_back("scheduler");  // its /_scheduler routes, registered above
}

ReplicatorService::~ReplicatorService() {
  stopping_ = true;
  if (watcher_.joinable()) watcher_.join();
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
  scanReplicatorDb();
  // A watcher thread follows the `_replicator` database; waiting costs nothing while idle.
  watcher_ = std::thread([this] {
    while (!stopping_) {
      if (replicatorDb_->waitForChange(seenSeq_, std::chrono::milliseconds(500)) > seenSeq_) scanReplicatorDb();
    }
  });
}

void ReplicatorService::scanReplicatorDb() {
  ChangesOptions options;
  options.since = seenSeq_;
  std::vector<std::string> ids;
  seenSeq_ = replicatorDb_->changes(options, [&](const Change& c) {
    ids.push_back(c.id);
    return true;
  });
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
  auto writeBack = [db, id](const std::string& state, const std::string& repId, const std::string& reason) {
    auto current = db->get(id);
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
    (void)db->put(db::bufferView(buf));  // a concurrent edit wins; the scheduler sees it next
  };
  if (!spec) {
    writeBack("failed", "", spec.status().reason());
    return;
  }
  job->spec = std::move(*spec);
  job->rep = std::make_unique<Replication>(job->spec.source, job->spec.target, job->spec.options);
  Job* raw = job.get();
  {
    std::lock_guard lock(mu_);
    jobs_[key] = job;
  }
  raw->rep->start([raw, writeBack](ReplicationState s, const ReplicationStats&, const Status& st) {
    if (s == ReplicationState::Completed || s == ReplicationState::Failed) {
      raw->ended = true;
      writeBack(s == ReplicationState::Completed ? "completed" : "failed", raw->rep->id(), st.reason());
    }
  });
}

std::string ReplicatorService::activeTasks() {
  std::lock_guard lock(mu_);
  return http::writeJson([&](db::JsonWriter& w) {
    w.StartArray();
    for (const auto& [key, job] : jobs_) {
      if (job->ended) continue;
      auto st = job->rep->stats();
      w.StartObject();
      auto str = [&](const char* k, const std::string& v) {
        db::writeKey(w, k);
        db::writeString(w, v);
      };
      str("type", "replication");
      str("node", "settee@127.0.0.1");
      str("pid", "<0.0.0>");
      str("replication_id", job->rep->id() + (job->spec.options.continuous ? "+continuous" : ""));
      if (!job->docId.empty()) {
        str("database", "_replicator");
        str("doc_id", job->docId);
      }
      str("source", job->spec.sourceDesc);
      str("target", job->spec.targetDesc);
      db::writeKey(w, "continuous");
      w.Bool(job->spec.options.continuous);
      writeProgress(w, st);
      db::writeKey(w, "checkpointed_source_seq");
      db::writeRaw(w, st.endLastSeq.empty() ? "0" : st.endLastSeq, rapidjson::kNumberType);
      str("state", schedulerState(job->rep->state()));
      str("started_on", job->startTime);
      w.EndObject();
    }
    w.EndArray();
  });
}

void ReplicatorService::registerRoutes(http::Api& api) {
  // POST /_replicate: one-shot answers when done; continuous answers at once; cancel stops a job.
  // Any authenticated user may replicate; the job runs with that user's rights, never more.
  api.sync("POST", "/_replicate", http::Access::Authenticated, [this](Call& call) -> Response {
    simdjson::dom::parser parser;
    auto body = http::jsonBody(call.req, parser);
    if (!body) return http::errorResponse(body.status());
    auto spec = parseSpec(*body, *svc_.data, Requester{*svc_.auth, call.user});
    if (!spec) return http::errorResponse(spec.status());
    // Jobs are per user, as CouchDB's replication ids include the user: one user's request never
    // replaces or reveals another's.
    const std::string pair = "\n" + spec->sourceDesc + "\n" + spec->targetDesc;
    std::string key = "rep:" + call.user.name + pair;
    if (spec->cancel) {
      std::shared_ptr<Job> job;
      {
        std::lock_guard lock(mu_);
        // An admin may cancel anyone's job; a user only their own.
        for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
          const bool match = it->first == key || (call.user.isAdmin() && it->first.rfind("rep:", 0) == 0 &&
                                                  it->first.ends_with(pair) && it->second->docId.empty());
          if (!match) continue;
          job = it->second;
          jobs_.erase(it);
          break;
        }
      }
      if (!job) return http::errorResponse(404, "not_found", "No such replication running");
      job->rep->stop();
      return Response::json(200, continuousAnswer(*job->rep));
    }
    auto job = std::make_shared<Job>();
    job->user = call.user;
    job->spec = std::move(*spec);
    job->rep = std::make_unique<Replication>(job->spec.source, job->spec.target, job->spec.options);
    {
      std::lock_guard lock(mu_);
      jobs_[key] = job;
    }
    if (job->spec.options.continuous) {
      job->rep->start();
      for (int i = 0; i < 400 && job->rep->id().empty() && job->rep->state() == ReplicationState::Starting; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      if (job->rep->state() == ReplicationState::Failed) {
        Status st = job->rep->wait();
        std::lock_guard lock(mu_);
        jobs_.erase(key);
        return http::errorResponse(st);
      }
      return Response::json(202, continuousAnswer(*job->rep));
    }
    Status st = job->rep->run();
    {
      std::lock_guard lock(mu_);
      jobs_.erase(key);
    }
    if (!st) return http::errorResponse(st);
    auto s = job->rep->stats();
    return Response::json(200, http::writeJson([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "ok");
      w.Bool(true);
      db::writeKey(w, "session_id");
      db::writeString(w, job->rep->id());
      db::writeKey(w, "source_last_seq");
      db::writeRaw(w, s.endLastSeq.empty() ? "0" : s.endLastSeq, rapidjson::kNumberType);
      db::writeKey(w, "replication_id_version");
      w.Uint(4);
      db::writeKey(w, "history");
      w.StartArray();
      w.StartObject();
      const std::pair<const char*, uint64_t> counters[] = {
          {"docs_read", s.docsRead}, {"docs_written", s.docsWritten}, {"doc_write_failures", s.docWriteFailures},
          {"missing_checked", s.missingChecked}, {"missing_found", s.missingFound}};
      for (auto [k, v] : counters) {
        db::writeKey(w, k);
        w.Uint64(v);
      }
      db::writeKey(w, "start_time");
      db::writeString(w, s.startTime);
      db::writeKey(w, "end_time");
      db::writeString(w, s.endTime);
      w.EndObject();
      w.EndArray();
      w.EndObject();
    }));
  });

  auto listJobs = [this](bool docs) {
    return [this, docs](Call&) -> Response {
      std::lock_guard lock(mu_);
      return Response::json(200, http::writeJson([&](db::JsonWriter& w) {
        w.StartObject();
        size_t n = 0;
        for (const auto& [key, job] : jobs_) n += !docs || !job->docId.empty();
        db::writeKey(w, "total_rows");
        w.Uint64(n);
        db::writeKey(w, "offset");
        w.Uint(0);
        db::writeKey(w, docs ? "docs" : "jobs");
        w.StartArray();
        for (const auto& [key, job] : jobs_) {
          if (docs && job->docId.empty()) continue;
          auto st = job->rep->stats();
          w.StartObject();
          db::writeKey(w, "database");
          if (job->docId.empty()) w.Null(); else db::writeString(w, "_replicator");
          db::writeKey(w, "doc_id");
          if (job->docId.empty()) w.Null(); else db::writeString(w, job->docId);
          db::writeKey(w, "id");
          db::writeString(w, job->rep->id() + (job->spec.options.continuous ? "+continuous" : ""));
          db::writeKey(w, "node");
          db::writeString(w, "settee@127.0.0.1");
          db::writeKey(w, "source");
          db::writeString(w, job->spec.sourceDesc);
          db::writeKey(w, "target");
          db::writeString(w, job->spec.targetDesc);
          db::writeKey(w, "state");
          db::writeString(w, schedulerState(job->rep->state()));
          db::writeKey(w, "start_time");
          db::writeString(w, job->startTime);
          db::writeKey(w, "info");
          w.StartObject();
          writeProgress(w, st);
          w.EndObject();
          w.EndObject();
        }
        w.EndArray();
        w.EndObject();
      }));
    };
  };
  api.sync("GET", "/_scheduler/jobs", http::Access::ServerAdmin, listJobs(false));
  api.sync("GET", "/_scheduler/docs", http::Access::ServerAdmin, listJobs(true));
}

}  // namespace settee::repl
