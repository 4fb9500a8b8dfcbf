// The replicator's HTTP routes: POST /_replicate, /_scheduler/jobs, /_scheduler/docs, and the rows of
// /_active_tasks. Registered onto the node's Api by ReplicatorService (http never includes the replicator).
#include "db/json.h"
#include "http/auth.h"
#include "replicator/replicator_job.h"
#include "replicator/replicator_service.h"
#include "replicator/tuning.h"

namespace settee::repl {
namespace {

using http::Call;
using http::Response;

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

}  // namespace

std::vector<std::shared_ptr<Job>> ReplicatorService::jobList() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Job>> jobs;
  jobs.reserve(jobs_.size());
  for (const auto& [key, job] : jobs_) jobs.push_back(job);
  return jobs;
}

std::string ReplicatorService::activeTasks() {
  // Rendered from a copy of the table: a job's sync counts read its database, which must not hold up
  // the table.
  auto jobs = jobList();
  return http::writeJson([&](db::JsonWriter& w) {
    w.StartArray();
    for (const auto& job : jobs) {
      if (job->ended) continue;
      auto st = job->rep->stats();
      w.StartObject();
      auto str = [&](const char* k, const std::string& v) {
        db::writeKey(w, k);
        db::writeString(w, v);
      };
      str("type", "replication");
      str("node", std::string(http::kNodeName));
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
      writeSyncCounts(w, *job);
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
    keepSyncState(*job);
    job->rep = std::make_unique<Replication>(job->spec.source, job->spec.target, job->spec.options);
    {
      std::lock_guard lock(mu_);
      jobs_[key] = job;
    }
    if (job->spec.options.continuous) {
      Job* raw = job.get();  // the job outlives its replication's listener (replicator_job.h)
      job->rep->start(
          [raw](ReplicationState s, const ReplicationStats&, const Status&) { raw->noteState(s); });
      job->waitPastStarting(tuning::kStartAnswerWait);
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
    return Response::json(
        200, http::writeJson([&](db::JsonWriter& w) {
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
          const std::pair<const char*, uint64_t> counters[] = {{"docs_read", s.docsRead},
                                                               {"docs_written", s.docsWritten},
                                                               {"doc_write_failures", s.docWriteFailures},
                                                               {"missing_checked", s.missingChecked},
                                                               {"missing_found", s.missingFound}};
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
      auto jobs = jobList();
      return Response::json(200, http::writeJson([&](db::JsonWriter& w) {
                              w.StartObject();
                              size_t n = 0;
                              for (const auto& job : jobs) n += !docs || !job->docId.empty();
                              db::writeKey(w, "total_rows");
                              w.Uint64(n);
                              db::writeKey(w, "offset");
                              w.Uint(0);
                              db::writeKey(w, docs ? "docs" : "jobs");
                              w.StartArray();
                              for (const auto& job : jobs) {
                                if (docs && job->docId.empty()) continue;
                                auto st = job->rep->stats();
                                w.StartObject();
                                db::writeKey(w, "database");
                                if (job->docId.empty())
                                  w.Null();
                                else
                                  db::writeString(w, "_replicator");
                                db::writeKey(w, "doc_id");
                                if (job->docId.empty())
                                  w.Null();
                                else
                                  db::writeString(w, job->docId);
                                db::writeKey(w, "id");
                                db::writeString(
                                    w, job->rep->id() + (job->spec.options.continuous ? "+continuous" : ""));
                                db::writeKey(w, "node");
                                db::writeString(w, http::kNodeName);
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
                                writeSyncCounts(w, *job);
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
