#include "http/couch_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "db/crypto.h"
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

CouchServer::CouchServer(uv_loop_t* loop, ServerConfig config) : config_(std::move(config)) {
  DatabaseOptions defaults;
  defaults.revsLimit = config_.revsLimit;
  defaults.maxDocumentSize = config_.maxDocumentSize;
  data_ = std::make_unique<DataDir>(config_.dataDir, defaults);
  auth_ = std::make_unique<Auth>(config_, *data_, persistentValue(config_.dataDir, ".cookie_secret"));
  services_.data = data_.get();
  services_.config = &config_;
  services_.auth = auth_.get();
  services_.loop = loop;
  services_.uuid = config_.uuid.empty() ? persistentValue(config_.dataDir, ".node_uuid") : config_.uuid;
  slowWork_ = std::make_unique<WorkGate>(loop, WorkGate::defaultLimit());
  services_.slowWork = slowWork_.get();
  api_ = std::make_unique<Api>(services_);
  registerServerRoutes(*api_);
  registerDatabaseRoutes(*api_);
  registerDocumentRoutes(*api_);
  registerAttachmentRoutes(*api_);
  registerBulkRoutes(*api_);
  registerChangesRoutes(*api_);

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
}

CouchServer::~CouchServer() = default;

Status CouchServer::start() {
  // CouchDB 3 refuses to run without its system databases; we make them, admin-only, before listening.
  if (Status st = ensureSystemDatabases(*data_); !st) return st;
  int rc = server_->listen();
  if (rc != 0)
    return {ErrorCode::Internal, "cannot listen on " + config_.bind + ":" + std::to_string(config_.port) + ": " +
                                     uv_strerror(rc)};
  return Status::ok();
}

void CouchServer::stop(std::function<void()> done) { server_->close(std::move(done)); }

}  // namespace settee::http
