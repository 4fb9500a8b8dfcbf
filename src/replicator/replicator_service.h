// replicator/replicator_service.h — replications run by a node: POST /_replicate, the `_replicator`
// database, /_scheduler/jobs and /_scheduler/docs, and each running replication in /_active_tasks.
//
// Routes are added onto the node's Api by this module (http never includes the replicator). A document
// in `_replicator` ({"source","target","continuous","create_target","doc_ids","selector","filter",
// "query_params","since_seq"}; source/target a URL, {"url","headers"}, or a local database name) starts
// a replication; editing or deleting it restarts or stops it; on start-up every document not already
// completed starts again, so replications survive a restart. One-shot jobs that end write
// `_replication_state` ("completed" or "failed"), `_replication_state_time` and `_replication_id` back to
// their document, as CouchDB's scheduler does.
// Thread-safety: jobs live on their own threads; the job table is guarded by one mutex.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "http/api.h"
#include "settee/replicator.h"

namespace settee::repl {

struct Job;  // replicator_job.h

class ReplicatorService {
 public:
  explicit ReplicatorService(http::Api& api);
  ~ReplicatorService();
  // Starts the jobs of the `_replicator` database and follows it. Call once the node listens.
  void start();

 private:
  void registerRoutes(http::Api& api);  // scheduler_routes.cc
  void scanReplicatorDb();
  void syncDoc(const std::string& id);
  std::string activeTasks();  // scheduler_routes.cc
  std::vector<std::shared_ptr<Job>> jobList();  // a copy of the table, for answers rendered without mu_
  // The node's metrics of its jobs by state (CouchDB's couch_replicator.jobs.*), read through `alive_` so
  // a reading that outlives the service finds nothing (db/metrics.h).
  void registerMetrics();
  struct Alive {
    std::mutex mu;
    ReplicatorService* service = nullptr;  // guarded by mu; null once the service is going away
  };
  std::shared_ptr<Alive> alive_ = std::make_shared<Alive>();

  http::Services& svc_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // by job id ("<rep id>" or "doc:<id>")
  std::shared_ptr<Database> replicatorDb_;
  uint64_t seenSeq_ = 0;  // the watcher's (and start()'s, before the watcher runs)
  Database::ListenerId listener_ = 0;
  // What wakes the watcher. Shared with the database's change listener, which a writer may still be
  // calling when the listener is removed: it must not reach into a destroyed service.
  struct Wake {
    std::mutex mu;  // guards the two below
    std::condition_variable cv;
    uint64_t latestSeq = 0;  // the newest update_seq the listener heard
    bool stopping = false;
  };
  std::shared_ptr<Wake> wake_ = std::make_shared<Wake>();
  std::thread watcher_;
};

}  // namespace settee::repl
