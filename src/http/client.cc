// HttpClient and its pools: starting requests, matching them to connections, cancelling, closing.
#include "http/client.h"

#include <cassert>
#include <utility>

#include "db/crypto.h"
#include "http/client_internal.h"
#include "http/request.h"

namespace settee::http {

const char* clientErrcName(ClientErrc code) {
  switch (code) {
    case ClientErrc::Ok:
      return "ok";
    case ClientErrc::InvalidRequest:
      return "invalid_request";
    case ClientErrc::ResolveFailed:
      return "resolve_failed";
    case ClientErrc::ConnectionRefused:
      return "connection_refused";
    case ClientErrc::ConnectTimeout:
      return "connect_timeout";
    case ClientErrc::ReadTimeout:
      return "read_timeout";
    case ClientErrc::TlsFailed:
      return "tls_failed";
    case ClientErrc::CertificateRejected:
      return "certificate_rejected";
    case ClientErrc::ProtocolError:
      return "protocol_error";
    case ClientErrc::ConnectionReset:
      return "connection_reset";
    case ClientErrc::NetworkError:
      return "network_error";
    case ClientErrc::TooLarge:
      return "too_large";
    case ClientErrc::Cancelled:
      return "cancelled";
    case ClientErrc::BodyReadFailed:
      return "body_read_failed";
  }
  return "unknown";
}

namespace {

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= ' ' || c >= 0x7f ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool isFieldValue(std::string_view s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// The request line and headers. Returns an error for a header that would break the framing.
ClientError buildHead(const ClientRequest& req, const ClientOptions& options, std::string& head) {
  if (!isToken(req.method)) return {ClientErrc::InvalidRequest, "bad method: " + req.method};
  head = req.method + " " + req.url.target + " HTTP/1.1\r\nHost: " + req.url.hostHeader() + "\r\n";
  bool hasAgent = false, hasAuth = false, hasEncoding = false;
  for (const auto& [name, value] : req.headers) {
    if (!isToken(name) || !isFieldValue(value)) {
      return {ClientErrc::InvalidRequest, "bad header: " + name};
    }
    // The client owns the framing: a Host or length of the caller's could contradict what is sent.
    if (equalsIgnoreCase(name, "Host") || equalsIgnoreCase(name, "Content-Length") ||
        equalsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    hasAgent = hasAgent || equalsIgnoreCase(name, "User-Agent");
    hasAuth = hasAuth || equalsIgnoreCase(name, "Authorization");
    hasEncoding = hasEncoding || equalsIgnoreCase(name, "Accept-Encoding");
    head += name + ": " + value + "\r\n";
  }
  if (!hasAgent && !options.userAgent.empty()) head += "User-Agent: " + options.userAgent + "\r\n";
  if (!hasAuth && (!req.url.user.empty() || !req.url.password.empty())) {
    head += "Authorization: Basic " + db::base64Encode(req.url.user + ":" + req.url.password) + "\r\n";
  }
  if (!hasEncoding && req.acceptGzip) head += "Accept-Encoding: gzip\r\n";
  // A POST or PUT without a body still says so, or a server may wait for one (or answer 411).
  if (req.bodyReader) {
    head += "Content-Length: " + std::to_string(req.bodyLength) + "\r\n";
  } else if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  head += "\r\n";
  return {};
}

bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

}  // namespace

namespace detail {

void Exchange::complete() {
  owner->finished(id);
  if (buffered) {
    auto callback = std::move(done);
    if (callback) callback(std::move(response));
  } else {
    auto callback = std::move(handlers.onComplete);
    if (callback) callback();
  }
}

void Exchange::fail(ClientError error) {
  owner->finished(id);
  if (buffered) {
    response.error = std::move(error);
    auto callback = std::move(done);
    if (callback) callback(std::move(response));
  } else {
    auto callback = std::move(handlers.onError);
    if (callback) callback(error);
  }
}

ClientImpl::ClientImpl(uv_loop_t* loop, ClientOptions options) : loop_(loop), options_(std::move(options)) {
  if (options_.maxConnectionsPerOrigin == 0) options_.maxConnectionsPerOrigin = 1;
  uv_timer_init(loop_, &closer_);
  closer_.data = this;
}

ClientImpl::~ClientImpl() {
  // Destroying a client that still has handles on the loop would leave libuv pointing into freed memory.
  assert(closed_ && "HttpClient destroyed before close() finished");
  if (tls_) SSL_CTX_free(tls_);
}

ClientError ClientImpl::start(ClientRequest req, std::unique_ptr<Exchange> exchange, RequestId* id) {
  if (closing_) return {ClientErrc::InvalidRequest, "the HTTP client is closing"};
  if (req.url.scheme != "http" && req.url.scheme != "https") {
    return {ClientErrc::InvalidRequest, "unsupported scheme: " + req.url.scheme};
  }
  if (req.url.host.empty()) return {ClientErrc::InvalidRequest, "the URL has no host"};
  if (req.bodyReader && !req.body.empty()) {
    return {ClientErrc::InvalidRequest, "a request has both a body and a bodyReader"};
  }
  if (ClientError error = buildHead(req, options_, exchange->head); !error.ok()) return error;
  if (req.url.https() && !tls_) {
    ClientError error;
    tls_ = makeTlsContext(options_, error);
    if (!tls_) return error;
  }

  exchange->owner = this;
  exchange->id = nextId_++;
  exchange->method = std::move(req.method);
  exchange->idempotent = isIdempotent(exchange->method);
  exchange->url = std::move(req.url);
  exchange->body = std::make_shared<const std::string>(std::move(req.body));
  exchange->bodyReader = std::move(req.bodyReader);
  exchange->bodyLength = exchange->bodyReader ? req.bodyLength : 0;
  exchange->connectTimeoutMs = req.connectTimeoutMs.value_or(options_.connectTimeoutMs);
  exchange->readTimeoutMs = req.readTimeoutMs.value_or(options_.readTimeoutMs);
  exchange->deadlineMs = req.deadlineMs;
  exchange->deadline = req.deadlineMs ? uv_now(loop_) + req.deadlineMs : 0;
  exchange->maxBodySize = req.maxBodySize ? req.maxBodySize : options_.maxBufferedBodySize;
  if (id) *id = exchange->id;
  exchanges_[exchange->id] = exchange.get();

  std::string key = exchange->url.origin();
  auto& pool = pools_[key];
  if (!pool) {
    pool = std::make_unique<Pool>();
    pool->key = key;
  }
  pool->waiting.push_back(std::move(exchange));
  dispatch(*pool);
  return {};
}

void ClientImpl::dispatch(Pool& pool) {
  // Closing an idle connection below calls back into connectionClosing, which dispatches again; the
  // outer loop re-reads the pool's state on every turn, so the inner call may simply return.
  if (pool.dispatching || closing_) return;
  pool.dispatching = true;
  while (!pool.waiting.empty()) {
    Exchange& front = *pool.waiting.front();
    if (!front.needFresh && !pool.idle.empty()) {
      ClientConnection* connection = pool.idle.back();
      pool.idle.pop_back();
      auto exchange = std::move(pool.waiting.front());
      pool.waiting.pop_front();
      connection->assign(std::move(exchange));
    } else if (pool.open < options_.maxConnectionsPerOrigin) {
      auto exchange = std::move(pool.waiting.front());
      pool.waiting.pop_front();
      ++pool.open;
      connections_.insert(new ClientConnection(this, &pool, std::move(exchange)));
    } else if (front.needFresh && !pool.idle.empty()) {
      pool.idle.front()->close();  // the oldest idle one makes room for the retry's fresh connection
    } else {
      break;
    }
  }
  pool.dispatching = false;
}

void ClientImpl::connectionReady(ClientConnection* connection) {
  if (closing_) {
    connection->close();
    return;
  }
  connection->pool()->idle.push_back(connection);
  dispatch(*connection->pool());
}

void ClientImpl::connectionClosing(ClientConnection* connection) {
  Pool& pool = *connection->pool();
  --pool.open;
  std::erase(pool.idle, connection);
  dispatch(pool);
}

void ClientImpl::connectionDeleted(ClientConnection* connection) {
  connections_.erase(connection);
  maybeFinishClose();
}

void ClientImpl::requeue(std::unique_ptr<Exchange> exchange, Pool* pool) {
  exchange->retried = true;
  exchange->needFresh = true;
  exchange->connection = nullptr;
  pool->waiting.push_front(std::move(exchange));
  dispatch(*pool);
}

bool ClientImpl::cancel(RequestId id) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return false;
  Exchange* exchange = it->second;
  if (exchange->connection) {
    exchange->connection->abort({ClientErrc::Cancelled, "the request was cancelled"});
    return true;
  }
  Pool& pool = *pools_.at(exchange->url.origin());
  for (auto queued = pool.waiting.begin(); queued != pool.waiting.end(); ++queued) {
    if (queued->get() == exchange) {
      std::unique_ptr<Exchange> owned = std::move(*queued);
      pool.waiting.erase(queued);
      owned->fail({ClientErrc::Cancelled, "the request was cancelled"});
      return true;
    }
  }
  return false;
}

void ClientImpl::close(std::function<void()> done) {
  if (done) closeCallbacks_.push_back(std::move(done));
  if (closing_) {
    if (closed_) {
      auto callbacks = std::move(closeCallbacks_);
      for (auto& callback : callbacks) callback();
    }
    return;
  }
  closing_ = true;
  // Take everything out first: the callbacks below may call back into the client.
  std::vector<std::unique_ptr<Exchange>> queued;
  for (auto& [key, pool] : pools_) {
    for (auto& exchange : pool->waiting) queued.push_back(std::move(exchange));
    pool->waiting.clear();
  }
  std::vector<ClientConnection*> connections(connections_.begin(), connections_.end());
  for (ClientConnection* connection : connections) {
    // Safe although a callback may close other connections: a closing connection is not deleted before
    // its handles' close callbacks, which run on a later turn of the loop.
    if (!connection->closing()) connection->abort({ClientErrc::Cancelled, "the HTTP client was closed"});
  }
  for (auto& exchange : queued) exchange->fail({ClientErrc::Cancelled, "the HTTP client was closed"});
  maybeFinishClose();
}

void ClientImpl::maybeFinishClose() {
  if (!closing_ || closerClosing_ || !connections_.empty()) return;
  closerClosing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&closer_), onCloserClosed);
}

void ClientImpl::onCloserClosed(uv_handle_t* handle) {
  auto* self = static_cast<ClientImpl*>(handle->data);
  self->closed_ = true;
  auto callbacks = std::move(self->closeCallbacks_);
  for (auto& callback : callbacks) callback();
}

HttpClient::Stats ClientImpl::stats() const {
  HttpClient::Stats stats = stats_;
  for (const auto& [key, pool] : pools_) {
    stats.openConnections += pool->open;
    stats.idleConnections += pool->idle.size();
    stats.queuedRequests += pool->waiting.size();
  }
  return stats;
}

}  // namespace detail

HttpClient::HttpClient(uv_loop_t* loop, ClientOptions options)
    : impl_(std::make_unique<detail::ClientImpl>(loop, std::move(options))) {}

HttpClient::~HttpClient() = default;

ClientError HttpClient::request(ClientRequest req, std::function<void(ClientResponse)> done, RequestId* id) {
  auto exchange = std::make_unique<detail::Exchange>();
  exchange->buffered = true;
  exchange->done = std::move(done);
  return impl_->start(std::move(req), std::move(exchange), id);
}

ClientError HttpClient::stream(ClientRequest req, StreamHandlers handlers, RequestId* id) {
  auto exchange = std::make_unique<detail::Exchange>();
  exchange->handlers = std::move(handlers);
  return impl_->start(std::move(req), std::move(exchange), id);
}

bool HttpClient::cancel(RequestId id) { return impl_->cancel(id); }

void HttpClient::close(std::function<void()> done) { impl_->close(std::move(done)); }

HttpClient::Stats HttpClient::stats() const { return impl_->stats(); }

uv_loop_t* HttpClient::loop() const { return impl_->loop(); }

const ClientOptions& HttpClient::options() const { return impl_->options(); }

}  // namespace settee::http
