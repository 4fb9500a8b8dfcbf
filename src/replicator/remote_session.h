// replicator/remote_session.h — how the replicator talks to one remote database: its URL, its I/O
// threads, the requests' defaults and the session (cookie) authentication, apart from what is asked.
//
// exchange() sends every request of a RemoteEndpoint. With credentials in the URL, as CouchDB's replicator
// does, it logs in once with POST /_session and sends the AuthSession cookie instead of the password,
// takes a refreshed cookie from any answer, and on a 401 logs in again and repeats the request once (the
// session expired). A peer without a usable /_session gets Basic auth on every request instead.
//
// Thread-safe: any replicator thread may call any member; the cookie is shared under a lock. The
// ordinary client serves every call; a waiting changes feed gets its own (feedClient()), so cancelFeed()
// ends it alone.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "db/json.h"
#include "http/client.h"
#include "replicator/client_thread.h"
#include "replicator/endpoint.h"

namespace settee::repl {

// A peer's answer as a Status: the HTTP status mapped back to CouchDB's error names, and any network
// failure as an internal (retryable) error. `what` names the request.
Status statusOf(const http::ClientResponse& r, const std::string& what);

// JSON text written by `fn(writer)`: request bodies and query values.
template <class F>
std::string writeJsonDoc(F&& fn) {
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  fn(w);
  return std::string(db::bufferView(buf));
}

class RemoteSession {
 public:
  RemoteSession(http::Url url, const EndpointOptions& options);
  RemoteSession(const RemoteSession&) = delete;
  RemoteSession& operator=(const RemoteSession&) = delete;

  // The URL without its password (the user name identifies a replication, the password does not).
  std::string describe() const;
  const EndpointOptions& options() const { return options_; }

  // A request to the database URL + `path` with the endpoint's headers, JSON content type, gzip and
  // the default bound and deadline (callers with larger answers raise them).
  http::ClientRequest request(const std::string& method, const std::string& path,
                              const std::string& body) const;
  // The deadline of a request that moves `bytes` of attachments besides its JSON: time enough at
  // tuning::kSlowestPeerBytesPerSecond.
  uint64_t deadlineFor(uint64_t bytes) const;

  // With `sink`, the answer's body goes to it as it arrives instead of into the response (a repeated
  // request calls its onHeaders again).
  struct Sink {
    std::function<void(const http::ResponseHead&)> onHeaders;
    std::function<bool(std::string_view)> onData;
  };
  http::ClientResponse exchange(ClientThread& client, http::ClientRequest req, const Sink* sink = nullptr);
  http::ClientResponse send(const std::string& method, const std::string& path, const std::string& body) {
    return exchange(client(), request(method, path, body));
  }

  ClientThread& client() { return *client_; }
  ClientThread& feedClient();  // created by the first call
  void cancelFeed();           // ends the waiting feed now, and every later one

 private:
  static http::ClientRequest withCookie(http::ClientRequest req, const std::string& cookie);
  // The AuthSession cookie to send; "" for Basic auth. Logs in when there is none yet or `renew`; a
  // login that failed on the network or with a 5xx is left in `failed` (and decides nothing).
  std::string session(ClientThread& client, bool renew, http::ClientResponse& failed);
  void keepCookie(const http::ClientResponse& r);

  http::Url url_;
  EndpointOptions options_;
  http::ClientOptions clientOptions_;
  std::unique_ptr<ClientThread> client_;
  std::mutex feedMu_;
  std::unique_ptr<ClientThread> feed_;
  std::mutex authMu_;
  std::string cookie_;      // "AuthSession=..." once logged in
  bool basicOnly_ = false;  // the peer has no usable /_session
};

}  // namespace settee::repl
