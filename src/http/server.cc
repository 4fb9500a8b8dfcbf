#include "http/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cstdio>

#include "http/connection.h"

namespace settee::http {

// ---- Responder ----

Responder::Responder(detail::Connection* connection, std::string method, int httpMinor, bool keepAlive)
    : connection_(connection),
      method_(std::move(method)),
      httpMinor_(httpMinor),
      keepAlive_(keepAlive),
      head_(method_ == "HEAD") {}

Responder::~Responder() {
  if (connection_ && !finished_) connection_->abandon(*this);
}

void Responder::send(Response response) {
  assert(!started_ && "send() after send() or start()");
  if (started_) return;
  started_ = finished_ = true;
  // Released when this returns, not before: a callback that captured this Responder would otherwise
  // keep it alive forever, and one that is running right now must not be destroyed under itself.
  auto onClose = std::move(onClose_);
  auto onDrain = std::move(onDrain_);
  onClose_ = nullptr;
  onDrain_ = nullptr;
  if (connection_) connection_->sendResponse(*this, std::move(response));
}

void Responder::start(int status, Headers headers) {
  assert(!started_ && "start() after send() or start()");
  if (started_) return;
  started_ = true;
  if (connection_) connection_->startStream(*this, status, std::move(headers));
}

void Responder::write(std::string_view chunk) {
  assert(started_ && !finished_ && "write() outside start() ... end()");
  if (!started_ || finished_ || !connection_) return;
  connection_->writeChunk(*this, chunk);
}

void Responder::end() {
  assert(started_ && !finished_ && "end() without start(), or twice");
  if (!started_ || finished_) return;
  finished_ = true;
  auto onClose = std::move(onClose_);  // released on return; see send()
  auto onDrain = std::move(onDrain_);
  onClose_ = nullptr;
  onDrain_ = nullptr;
  if (connection_) connection_->endStream(*this);
}

size_t Responder::pendingBytes() const { return connection_ ? connection_->pendingBytes() : 0; }

// ---- Server ----

Server::Server(uv_loop_t* loop, Options options, Handler handler, HeadHandler onHead)
    : loop_(loop), options_(std::move(options)), handler_(std::move(handler)), onHead_(std::move(onHead)) {
  listener_.data = this;
  async_.data = this;
  initError_ = uv_tcp_init(loop_, &listener_);
  listenerOpen_ = initError_ == 0;
  int rc = uv_async_init(loop_, &async_, onAsync);
  asyncOpen_ = rc == 0;
  if (initError_ == 0) initError_ = rc;
  openHandles_ = int(listenerOpen_) + int(asyncOpen_);
}

Server::~Server() {
  assert(openHandles_ == 0 && connections_.empty() && "Server destroyed before close() finished");
}

int Server::listen() {
  if (initError_ != 0) return initError_;
  if (closing_) return UV_EINVAL;
  sockaddr_storage addr{};
  int rc = options_.host.find(':') != std::string::npos
               ? uv_ip6_addr(options_.host.c_str(), options_.port, reinterpret_cast<sockaddr_in6*>(&addr))
               : uv_ip4_addr(options_.host.c_str(), options_.port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) return rc;
  rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc != 0) return rc;
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), options_.backlog, onConnection);
  if (rc != 0) return rc;
  listening_ = true;
  return 0;
}

int Server::port() const {
  if (!listening_) return -1;
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void Server::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0 || self->closing_) return;  // e.g. EMFILE: nothing was accepted, keep listening
  // In turn, which spreads long-lived connections evenly, where the kernel's hash of SO_REUSEPORT
  // sockets may give one loop twice another's share; and a second node started on the same port
  // fails with "address in use" instead of silently taking half of the connections.
  const size_t turn = self->joined_.empty() ? 0 : self->nextTurn_++ % (self->joined_.size() + 1);
  if (turn > 0) {
    self->handOff(listener, *self->joined_[turn - 1]);
    return;
  }
  auto* connection = new detail::Connection(self);
  self->connections_.insert(connection);
  connection->start(listener);
}

void Server::handOff(uv_stream_t* listener, Server& target) {
  // libuv accepts only into a handle of the listener's own loop: accept there, give the target a
  // duplicate of the socket, and close ours (which closes only our descriptor, not the connection).
  auto* tcp = new uv_tcp_t;
  if (uv_tcp_init(loop_, tcp) != 0) {
    delete tcp;
    auto* connection = new detail::Connection(this);  // serve it here rather than leave it pending
    connections_.insert(connection);
    connection->start(listener);
    return;
  }
  uv_os_fd_t fd = -1;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(tcp)) == 0 &&
      uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) == 0) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy >= 0 && !target.adopt(copy)) ::close(copy);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(tcp),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
}

bool Server::adopt(uv_os_sock_t socket) {
  std::lock_guard<std::mutex> lock(postMutex_);
  if (postClosed_) return false;
  posted_.push_back([this, socket] { openConnection(socket); });
  uv_async_send(&async_);
  return true;
}

void Server::openConnection(uv_os_sock_t socket) {
  if (closing_) {  // posted before close(), run by it
    ::close(socket);
    return;
  }
  auto* connection = new detail::Connection(this);
  connections_.insert(connection);
  connection->start(socket);
}

void Server::join(Server& primary) {
  bufferedBodies_ = primary.bufferedBodies_;
  primary.joined_.push_back(this);
}

bool Server::chargeBodies(size_t n) {
  const size_t budget = options_.maxBufferedBodyBytes;
  size_t held = bufferedBodies_->load(std::memory_order_relaxed);
  do {
    if (budget > 0 && held + n > budget) return false;
  } while (!bufferedBodies_->compare_exchange_weak(held, held + n, std::memory_order_relaxed));
  return true;
}

void Server::close(std::function<void()> done) {
  if (done) closeCallbacks_.push_back(std::move(done));
  if (closing_) {
    maybeFinishClose();
    return;
  }
  closing_ = true;
  {
    std::lock_guard<std::mutex> lock(postMutex_);
    postClosed_ = true;
  }
  if (listenerOpen_) uv_close(reinterpret_cast<uv_handle_t*>(&listener_), onHandleClosed);
  if (asyncOpen_) uv_close(reinterpret_cast<uv_handle_t*>(&async_), onHandleClosed);
  // A copy, because each close() may call a Responder's onClose, which may do anything.
  std::vector<detail::Connection*> open(connections_.begin(), connections_.end());
  for (detail::Connection* connection : open) connection->close();
  maybeFinishClose();
}

void Server::onHandleClosed(uv_handle_t* handle) {
  auto* self = static_cast<Server*>(handle->data);
  if (handle == reinterpret_cast<uv_handle_t*>(&self->async_)) {
    self->runPosted();  // whatever was posted before close() still runs, on the loop thread
  }
  --self->openHandles_;
  self->maybeFinishClose();
}

void Server::maybeFinishClose() {
  if (!closing_ || openHandles_ > 0 || !connections_.empty() || closeCallbacks_.empty()) return;
  auto callbacks = std::move(closeCallbacks_);
  closeCallbacks_.clear();
  // The last callback may destroy the Server; nothing below touches it.
  for (auto& callback : callbacks) callback();
}

void Server::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(postMutex_);
  if (postClosed_) return;
  posted_.push_back(std::move(fn));
  // Under the lock, so close() cannot close the handle between the check above and this send.
  uv_async_send(&async_);
}

void Server::onAsync(uv_async_t* async) { static_cast<Server*>(async->data)->runPosted(); }

void Server::runPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(postMutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) {
    fn();
    fn = nullptr;  // destroy its captures now, on this thread, before the next one runs
  }
}

const std::string& Server::date() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t now = std::time(nullptr);
  if (now != dateSecond_ || date_.empty()) {
    // By hand rather than strftime, whose %a and %b follow the process locale; HTTP wants English.
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buffer[40];
    int n =
        std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                      tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    date_.assign(buffer, static_cast<size_t>(n));
    dateSecond_ = now;
  }
  return date_;
}

}  // namespace settee::http
