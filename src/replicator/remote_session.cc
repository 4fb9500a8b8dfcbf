// Session authentication and the requests' defaults (see remote_session.h).
#include "replicator/remote_session.h"

#include "db/json.h"
#include "replicator/tuning.h"

namespace settee::repl {

Status statusOf(const http::ClientResponse& r, const std::string& what) {
  // A certificate that does not verify will not verify on a retry: stop at once, saying why.
  if (r.error.code == http::ClientErrc::CertificateRejected)
    return {ErrorCode::Forbidden, what + ": " + r.error.message};
  if (r.error.code == http::ClientErrc::InvalidRequest)
    return {ErrorCode::BadRequest, what + ": " + r.error.message};
  // An answer over its bound will be as large when asked again.
  if (r.error.code == http::ClientErrc::TooLarge) return {ErrorCode::TooLarge, what + ": " + r.error.message};
  if (!r.ok()) return {ErrorCode::Internal, what + ": " + r.error.message};
  if (r.status >= 200 && r.status < 300) return Status::ok();
  std::string reason = what + ": HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
  switch (r.status) {
    case 400:
      return {ErrorCode::BadRequest, reason};
    case 401:
      return {ErrorCode::Unauthorized, reason};
    case 403:
      return {ErrorCode::Forbidden, reason};
    case 404:
      return {ErrorCode::NotFound, reason};
    case 409:
      return {ErrorCode::Conflict, reason};
    case 412:
      return {ErrorCode::PreconditionFailed, reason};
    case 413:
      return {ErrorCode::TooLarge, reason};
    case 415:
      return {ErrorCode::BadContentType, reason};
    default:
      return {ErrorCode::Internal, reason};
  }
}

RemoteSession::RemoteSession(http::Url url, const EndpointOptions& options)
    : url_(std::move(url)), options_(options) {
  // The database URL without a trailing slash; every request path is appended to it.
  while (url_.target.size() > 1 && url_.target.back() == '/') url_.target.pop_back();
  clientOptions_.caFile = options.caFile;
  clientOptions_.connectTimeoutMs = static_cast<uint64_t>(options.timeout.count());
  clientOptions_.readTimeoutMs = static_cast<uint64_t>(options.timeout.count());
  client_ = std::make_unique<ClientThread>(clientOptions_);
}

std::string RemoteSession::describe() const {
  http::Url clean = url_;
  clean.password.clear();
  return clean.toString();
}

http::ClientRequest RemoteSession::request(const std::string& method, const std::string& path,
                                           const std::string& body) const {
  http::ClientRequest req;
  req.method = method;
  req.url = url_;
  req.url.target = url_.target + path;
  req.headers = options_.headers;
  req.headers.emplace_back("Accept", "application/json");
  if (!body.empty() || method == "POST" || method == "PUT")
    req.headers.emplace_back("Content-Type", "application/json");
  req.body = body;
  req.acceptGzip = true;
  // Callers with larger answers raise this; the deadline bounds a peer that trickles bytes for ever.
  req.maxBodySize = tuning::kSmallAnswerBytes;
  if (options_.timeout.count() > 0)
    req.deadlineMs = static_cast<uint64_t>(options_.timeout.count()) * tuning::kAnswerDeadlineTimeouts;
  return req;
}

uint64_t RemoteSession::deadlineFor(uint64_t bytes) const {
  if (options_.timeout.count() <= 0) return 0;
  return static_cast<uint64_t>(options_.timeout.count()) * tuning::kAnswerDeadlineTimeouts +
         bytes * 1000 / tuning::kSlowestPeerBytesPerSecond;
}

http::ClientResponse RemoteSession::exchange(ClientThread& client, http::ClientRequest req,
                                             const Sink* sink) {
  auto call = [&](http::ClientRequest q) {
    return sink ? client.stream(std::move(q), sink->onHeaders, sink->onData) : client.call(std::move(q));
  };
  if (url_.user.empty() && url_.password.empty()) return call(std::move(req));
  http::ClientResponse failedLogin;
  std::string cookie = session(client, false, failedLogin);
  if (cookie.empty()) return call(std::move(req));
  http::ClientRequest again = req;
  auto r = call(withCookie(std::move(req), cookie));
  if (r.ok() && r.status == 401) {
    cookie = session(client, true, failedLogin);
    // The login itself failed (network, 5xx): that answer, which the caller retries, not a 401.
    if (!failedLogin.ok() || failedLogin.status >= 500) return failedLogin;
    if (cookie.empty()) return call(std::move(again));  // Basic from now on
    r = call(withCookie(std::move(again), cookie));
  }
  keepCookie(r);
  return r;
}

http::ClientRequest RemoteSession::withCookie(http::ClientRequest req, const std::string& cookie) {
  req.url.user.clear();
  req.url.password.clear();
  req.headers.emplace_back("Cookie", cookie);
  return req;
}

std::string RemoteSession::session(ClientThread& client, bool renew, http::ClientResponse& failed) {
  {
    std::lock_guard lock(authMu_);
    if (basicOnly_) return {};
    if (!cookie_.empty() && !renew) return cookie_;
  }
  http::ClientRequest login = request("POST", "", writeJsonDoc([&](db::JsonWriter& w) {
                                        w.StartObject();
                                        db::writeKey(w, "name");
                                        db::writeString(w, url_.user);
                                        db::writeKey(w, "password");
                                        db::writeString(w, url_.password);
                                        w.EndObject();
                                      }));
  // /_session lives at the server's root: the database URL without its last path segment.
  std::string root = url_.target.substr(0, url_.target.rfind('/'));
  login.url.target = root + "/_session";
  login.url.user.clear();
  login.url.password.clear();
  auto r = client.call(std::move(login));
  std::lock_guard lock(authMu_);
  // A login answer over its bound would be as large next time: no usable sessions here.
  const bool tooLarge = r.error.code == http::ClientErrc::TooLarge;
  if (!tooLarge && (!r.ok() || r.status >= 500 || r.status == 429)) {  // decide on a later request
    failed = std::move(r);
    return cookie_;
  }
  const std::string* set = r.header("Set-Cookie");
  size_t at = set ? set->find("AuthSession=") : std::string::npos;
  if (tooLarge || r.status != 200 || at == std::string::npos) {
    basicOnly_ = true;  // no sessions here (or not for these credentials): Basic says why on each request
    cookie_.clear();
    return {};
  }
  cookie_ = set->substr(at, set->find(';', at) - at);
  return cookie_;
}

void RemoteSession::keepCookie(const http::ClientResponse& r) {
  const std::string* set = r.ok() ? r.header("Set-Cookie") : nullptr;
  size_t at = set ? set->find("AuthSession=") : std::string::npos;
  if (at == std::string::npos) return;
  std::string fresh = set->substr(at, set->find(';', at) - at);
  std::lock_guard lock(authMu_);
  if (fresh.size() > std::string_view("AuthSession=").size()) cookie_ = std::move(fresh);
}

ClientThread& RemoteSession::feedClient() {
  std::lock_guard lock(feedMu_);
  if (!feed_) feed_ = std::make_unique<ClientThread>(clientOptions_);
  return *feed_;
}

void RemoteSession::cancelFeed() {
  std::lock_guard lock(feedMu_);
  if (feed_) feed_->cancelAll();
}

}  // namespace settee::repl
