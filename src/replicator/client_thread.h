// replicator/client_thread.h — a blocking face on the asynchronous HTTP client, for replicator threads.
//
// Owns one I/O thread running a libuv loop with one HttpClient (so every replicator thread shares one
// connection pool per peer). `call()` may be used from any thread but the I/O thread: it hands the request
// to the loop and blocks until the response (or an error) arrives. `cancelAll()` (any thread) ends every
// call waiting at that moment, and every later one, with a Cancelled error: it is for shutting down. Destruction closes the client and joins the
// thread; calls still waiting then end with a Cancelled error.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "http/client.h"

namespace settee::repl {

class ClientThread {
 public:
  explicit ClientThread(http::ClientOptions options);
  ~ClientThread();
  ClientThread(const ClientThread&) = delete;
  ClientThread& operator=(const ClientThread&) = delete;

  http::ClientResponse call(http::ClientRequest request);
  // As call(), but the body goes to `onData` piece by piece, on the I/O thread, as it arrives (keep it
  // short: every request of this thread waits meanwhile); onData returning false ends the request with a
  // Cancelled error. The answer has the status and headers and an empty body.
  http::ClientResponse stream(http::ClientRequest request, std::function<void(const http::ResponseHead&)> onHeaders,
                              std::function<bool(std::string_view)> onData);
  void cancelAll();

 private:
  using Done = std::function<void(http::ClientResponse)>;
  // Starts a request on the I/O thread with `begin` and blocks until its `done` runs.
  http::ClientResponse run(std::function<http::ClientError(Done, http::RequestId*)> begin);
  void post(std::function<void()> fn);
  static void onAsync(uv_async_t* handle);

  uv_loop_t loop_;
  uv_async_t async_;
  std::unique_ptr<http::HttpClient> client_;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
  bool closing_ = false;
  std::set<http::RequestId> inFlight_;  // I/O thread only
  bool cancelled_ = false;              // I/O thread only
  std::thread thread_;
};

}  // namespace settee::repl
