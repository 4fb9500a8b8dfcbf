#include "http/couch_server.h"

#include <openssl/rand.h>

#include <filesystem>
#include <fstream>

#include "http/handlers/handlers.h"

namespace settee::http {
namespace {

std::string randomHex() {
  unsigned char raw[16];
  RAND_bytes(raw, sizeof raw);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// A value made once and kept in the data directory (the node's uuid, the cookie secret), so peers
// and sessions see the same node across restarts.
std::string persistentValue(const std::string& dir, const std::string& name) {
  std::string path = (std::filesystem::path(dir) / name).string();
  std::ifstream in(path);
  std::string value;
  if (in >> value && value.size() == 32) return value;
  value = randomHex();
  std::ofstream(path) << value << "\n";
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
  int rc = server_->listen();
  if (rc != 0)
    return {ErrorCode::Internal, "cannot listen on " + config_.bind + ":" + std::to_string(config_.port) + ": " +
                                     uv_strerror(rc)};
  return Status::ok();
}

void CouchServer::stop(std::function<void()> done) { server_->close(std::move(done)); }

}  // namespace settee::http
