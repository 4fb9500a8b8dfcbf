// http/couch_server.h — a CouchDB-compatible node: the HTTP server, the router with every endpoint
// family, authentication, over the databases of one data directory.
//
// Owns everything it creates; runs on the caller's libuv loop (loop thread only, except that request
// work runs on libuv's thread pool as api.h describes). `stop()` closes the listener and connections;
// in-flight database calls finish (each is one transaction) before the loop can end.
#pragma once

#include <memory>

#include "http/api.h"
#include "http/auth.h"
#include "http/config.h"
#include "http/server.h"
#include "http/work.h"

namespace settee::http {

class CouchServer {
 public:
  CouchServer(uv_loop_t* loop, ServerConfig config);
  ~CouchServer();
  // Binds and listens; a clear message in the Status when the port is taken or the address is bad.
  Status start();
  int port() const { return server_->port(); }
  void stop(std::function<void()> done);
  Api& api() { return *api_; }  // for modules that add routes (the replicator)
  DataDir& data() { return *data_; }

 private:
  ServerConfig config_;
  std::unique_ptr<DataDir> data_;
  std::unique_ptr<Auth> auth_;
  std::unique_ptr<WorkGate> slowWork_;
  Services services_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
};

}  // namespace settee::http
