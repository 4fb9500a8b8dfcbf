// http/couch_server.h — a CouchDB-compatible node: the HTTP server, the router with every endpoint
// family, authentication, over the databases of one data directory.
//
// Owns everything it creates. Its public calls are for the caller's libuv loop thread ("the main
// loop"). It serves HTTP on `ServerConfig::loops` loops: the main loop, whose Server listens, and as
// many more as it needs, each with a thread of its own, a Server joined to the main one (server.h,
// "Several loops"), its own WorkGate and its own copy of the Services. Request work runs on libuv's
// thread pool, one for the whole process, as api.h describes. `stop()` closes the listener and every
// loop's connections; in-flight database calls finish (each is one transaction) and `done` is called on
// the main loop once every loop has stopped and its thread has ended. Once started, destroy it only
// after that `done`.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "http/api.h"
#include "http/auth.h"
#include "http/config.h"
#include "http/live_config.h"
#include "http/server.h"
#include "http/work.h"

namespace settee::http {

class CouchServer {
 public:
  // `data`: the DataDir of config.dataDir to serve, shared with the app (the C API's embedded node, whose
  // databases are open through settee_db handles too: one DataDir per directory in a process); null
  // makes one of its own.
  CouchServer(uv_loop_t* loop, ServerConfig config, std::shared_ptr<DataDir> data = nullptr);
  ~CouchServer();
  // Binds and listens; a clear message in the Status when the port is taken or the address is bad.
  Status start();
  int port() const { return server_->port(); }
  void stop(std::function<void()> done);
  Api& api() { return *api_; }  // for modules that add routes (the replicator), before the loop runs
  DataDir& data() { return *data_; }
  LiveConfig& config() { return *live_; }
  // The loops serving HTTP, the main one included.
  size_t loops() const { return 1 + extra_.size(); }

 private:
  struct Loop;  // a loop of its own: its thread, Server, WorkGate and Services
  static void onLoopStopped(uv_async_t* async);
  void loopStopped();
  void maybeStopped();

  uv_loop_t* loop_;
  ServerConfig config_;  // as started; the configuration in force is live_'s
  std::shared_ptr<DataDir> data_;
  std::unique_ptr<LiveConfig> live_;
  std::unique_ptr<Auth> auth_;
  std::unique_ptr<WorkGate> slowWork_;
  Services services_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
  std::vector<std::unique_ptr<Loop>> extra_;  // loops beyond the main one
  bool threadsStarted_ = false;

  // Stopping: `done` waits for the main Server to close and for every other loop's thread to end.
  std::function<void()> stopDone_;
  bool stopping_ = false;
  bool mainClosed_ = false;
  bool loopsJoined_ = false;
  uv_async_t loopStopped_;             // woken by each extra loop's thread as it ends
  std::atomic<size_t> loopsEnded_{0};  // extra loops whose thread has left uv_run
};

}  // namespace settee::http
