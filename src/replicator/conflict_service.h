// replicator/conflict_service.h — a node resolving the conflicts that arrive in its databases, by the
// policy its configuration names for each ([conflict_policy] in the ini file, http/config.h).
//
// A peer that pushes conflicting revisions (PouchDB's replicator, new_edits=false) leaves the node with
// a document of several live leaves; with a policy configured for that database the node resolves it at
// once, and the resolution is an ordinary new revision every peer then pulls. Conflicts found are those
// of documents that changed: the service reads each database's changes feed (style=all_docs) from the
// last sequence it saw, so its cost follows the write rate, not the database's size. On start it reads
// each database's feed from the beginning once, for conflicts that arrived while it was not running.
//
// Threading: a change listener on each watched database only notes that something changed and wakes
// the service's one worker thread; reads and resolutions run there, never on the writer's thread. A
// resolution is itself a write, whose change wakes the worker once more and finds nothing left to do.
// `default` applies to every database of the data directory other than those named and the system
// ones (`_users`, `_replicator`), including databases created later: the worker looks for them every
// kRescan. Design documents are left as CouchDB leaves them (their conflicts are their authors').
// The destructor stops the worker and removes the listeners.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "settee/database.h"

namespace settee::repl {

class ConflictService {
 public:
  // How often the worker looks for databases it should watch and does not yet (created, or re-created,
  // since): a database becomes covered within this time.
  static constexpr std::chrono::milliseconds kRescan{2000};

  // `policies`: database name -> policy; "default": every other (non-system) database. `data` must
  // outlive the service.
  ConflictService(DataDir& data, std::map<std::string, ConflictPolicy> policies);
  // The same from the policies' text forms (ServerConfig::conflictPolicies); bad_request naming the
  // database for a text ConflictPolicy::parse refuses.
  static Result<std::unique_ptr<ConflictService>> fromTexts(DataDir& data,
                                                            const std::map<std::string, std::string>& texts);
  ~ConflictService();
  ConflictService(const ConflictService&) = delete;
  ConflictService& operator=(const ConflictService&) = delete;

  // Starts the worker (once; a service without policies starts nothing).
  void start();

 private:
  struct Wake {
    std::mutex mu;
    std::condition_variable cv;
    bool changed = false;
    bool stopping = false;
  };
  struct Watched {
    std::shared_ptr<Database> db;
    Database::ListenerId listener = 0;
    uint64_t seenSeq = 0;
    ConflictPolicy policy;
  };
  void run();
  // Opens (or re-opens, when the data directory holds a new instance) the databases to watch.
  void rescan();
  void resolveChanged(Watched& watched);
  std::optional<ConflictPolicy> policyFor(const std::string& name) const;

  DataDir& data_;
  std::map<std::string, ConflictPolicy> policies_;
  std::map<std::string, Watched> watched_;  // the worker's own
  std::shared_ptr<Wake> wake_ = std::make_shared<Wake>();
  std::thread worker_;
};

}  // namespace settee::repl
