#include "http/couch_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "db/crypto.h"
#include "http/design_functions.h"
#include "http/handlers/handlers.h"
#include "http/system_dbs.h"
#include "http/work.h"

namespace settee::http {
namespace {

// A value made once and kept in the data directory (the node's uuid, the cookie secret), so peers
// and sessions see the same node across restarts. The file is its owner's only (0600, whatever the
// umask): the cookie secret signs every session. It is written whole under another name and renamed,
// so a crash never leaves a half-written secret.
std::string persistentValue(const std::string& dir, const std::string& name) {
  std::string path = (std::filesystem::path(dir) / name).string();
  std::ifstream in(path);
  std::string value;
  if (in >> value && value.size() == 32) {
    (void)::chmod(path.c_str(), 0600);  // narrows a file an older version wrote 0644
    return value;
  }
  value = db::randomHex(16);
  std::string line = value + "\n";
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) ::unlink(temp.c_str());
  }
  return value;
}

}  // namespace

struct CouchServer::Loop {
  uv_loop_t loop;
  Services services;
  std::unique_ptr<WorkGate> slowWork;
  std::unique_ptr<Server> server;
  std::thread thread;
};

CouchServer::CouchServer(uv_loop_t* loop, ServerConfig config, std::shared_ptr<DataDir> data)
    : loop_(loop), config_(std::move(config)), data_(std::move(data)) {
  if (!data_) {
    DatabaseOptions defaults;
    defaults.revsLimit = config_.revsLimit;
    defaults.maxDocumentSize = config_.maxDocumentSize;
    data_ = std::make_shared<DataDir>(config_.dataDir, defaults);
  }
  auth_ = std::make_unique<Auth>(config_, *data_, persistentValue(config_.dataDir, ".cookie_secret"));
  services_.data = data_.get();
  services_.config = &config_;
  services_.auth = auth_.get();
  services_.loop = loop;
  services_.design = std::make_shared<DesignFunctions>(
      config_.queryServer ? *config_.queryServer : js::queryServerCommand(selfBinaryPath()),
      config_.osProcessTimeout);
  services_.uuid = config_.uuid.empty() ? persistentValue(config_.dataDir, ".node_uuid") : config_.uuid;
  const size_t loops = config_.loops ? config_.loops : defaultLoops();
  // Each loop gates its own slow work with a share of the cap, so together they still leave threads
  // of the pool for quick work.
  const size_t gateLimit = WorkGate::defaultLimit(loops);
  slowWork_ = std::make_unique<WorkGate>(loop, gateLimit);
  services_.slowWork = slowWork_.get();
  api_ = std::make_unique<Api>(services_);
  registerServerRoutes(*api_);
  registerDatabaseRoutes(*api_);
  registerDocumentRoutes(*api_);
  registerAttachmentRoutes(*api_);
  registerBulkRoutes(*api_);
  registerChangesRoutes(*api_);
  registerFindRoutes(*api_);
  registerNodeRoutes(*api_);
  registerPartitionRoutes(*api_);
  registerDesignRoutes(*api_);

  Server::Options options;
  options.host = config_.bind;
  options.port = config_.port;
  options.maxRequestBodySize = config_.maxRequestSize;
  options.maxBufferedBodyBytes = config_.maxBufferedBodies;
  server_ = std::make_unique<Server>(
      loop, options,
      [this](Request&& req, std::shared_ptr<Responder> res) { api_->handle(std::move(req), std::move(res)); },
      [this](const Request& head, std::function<void(HeadDecision)> decide) {
        api_->head(head, std::move(decide));
      });
  services_.server = server_.get();

  for (size_t i = 1; i < loops; ++i) {
    auto extra = std::make_unique<Loop>();
    if (uv_loop_init(&extra->loop) != 0) break;  // serve with the loops there are
    extra->services = services_;
    extra->services.loop = &extra->loop;
    extra->slowWork = std::make_unique<WorkGate>(&extra->loop, gateLimit);
    extra->services.slowWork = extra->slowWork.get();
    // The replicator sets the main Services' activeTasks after this; every loop asks that one.
    extra->services.activeTasks = [main = &services_] {
      return main->activeTasks ? main->activeTasks() : std::string("[]");
    };
    Services* svc = &extra->services;
    extra->server = std::make_unique<Server>(
        &extra->loop, options,
        [this, svc](Request&& req, std::shared_ptr<Responder> res) {
          api_->handle(*svc, std::move(req), std::move(res));
        },
        [this, svc](const Request& head, std::function<void(HeadDecision)> decide) {
          api_->head(*svc, head, std::move(decide));
        });
    extra->services.server = extra->server.get();
    extra->server->join(*server_);
    extra_.push_back(std::move(extra));
  }
}

CouchServer::~CouchServer() {
  for (auto& extra : extra_) {
    if (threadsStarted_) {
      // Not stopped (or not finished stopping): stop each loop from its own thread and wait for it.
      Server* server = extra->server.get();
      server->post([server] { server->close({}); });
      if (extra->thread.joinable()) extra->thread.join();
    } else {
      // Its loop never ran: close its handles here, where no other thread touches them.
      extra->server->close({});
      uv_run(&extra->loop, UV_RUN_DEFAULT);
    }
    extra->server.reset();
    uv_loop_close(&extra->loop);
  }
}

Status CouchServer::start() {
  // CouchDB 3 refuses to run without its system databases; we make them, admin-only, before listening.
  if (Status st = ensureSystemDatabases(*data_); !st) return st;
  int rc = server_->listen();
  if (rc != 0)
    return {ErrorCode::Internal,
            "cannot listen on " + config_.bind + ":" + std::to_string(config_.port) + ": " + uv_strerror(rc)};
  if (!threadsStarted_ && !extra_.empty()) {
    if (int init = uv_async_init(loop_, &loopStopped_, onLoopStopped); init != 0)
      return {ErrorCode::Internal, std::string("cannot start the loops: ") + uv_strerror(init)};
    loopStopped_.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&loopStopped_));  // the main Server keeps the loop alive
    threadsStarted_ = true;
    for (auto& extra : extra_) {
      extra->thread = std::thread([this, loop = &extra->loop] {
        uv_run(loop, UV_RUN_DEFAULT);  // until its Server has closed and its last work is done
        loopsEnded_.fetch_add(1);
        uv_async_send(&loopStopped_);
      });
    }
  }
  return Status::ok();
}

void CouchServer::stop(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  stopDone_ = std::move(done);
  if (threadsStarted_) {
    // Kept alive until every loop has reported, now that the main Server no longer holds the loop.
    uv_ref(reinterpret_cast<uv_handle_t*>(&loopStopped_));
    for (auto& extra : extra_) {
      Server* server = extra->server.get();
      server->post([server] { server->close({}); });
    }
  } else {
    loopsJoined_ = true;
  }
  server_->close([this] {
    mainClosed_ = true;
    maybeStopped();
  });
}

void CouchServer::onLoopStopped(uv_async_t* async) { static_cast<CouchServer*>(async->data)->loopStopped(); }

void CouchServer::loopStopped() {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&loopStopped_)) || loopsEnded_.load() < extra_.size())
    return;
  for (auto& extra : extra_) extra->thread.join();  // each has left uv_run: nothing more to wait for
  // Closed only now: every thread that signals it has signalled and ended.
  uv_close(reinterpret_cast<uv_handle_t*>(&loopStopped_), [](uv_handle_t* handle) {
    auto* self = static_cast<CouchServer*>(handle->data);
    self->loopsJoined_ = true;
    self->maybeStopped();
  });
}

void CouchServer::maybeStopped() {
  if (!mainClosed_ || !loopsJoined_ || !stopDone_) return;
  auto done = std::move(stopDone_);
  stopDone_ = nullptr;
  done();  // may destroy this CouchServer
}

}  // namespace settee::http
