// A real `settee serve` process for integration tests, and a tiny blocking HTTP client to talk to it.
//
// LiveServer picks a free loopback port, starts build/settee (SETTEE_BINARY) with a fresh data
// directory, waits until `GET /_up` answers, and stops the process by its PID (SIGTERM, then SIGKILL)
// when destroyed. `http()` opens one connection per request (Connection: close) and parses the answer
// with llhttp, so chunked bodies come back whole.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace settee::test {

struct HttpReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  const std::string* header(std::string_view name) const;
};

// Sends one request to 127.0.0.1:port. `body` is sent with a Content-Length; give Content-Type in
// `headers` (JSON bodies default to application/json).
HttpReply http(int port, const std::string& method, const std::string& target, const std::string& body = "",
               std::vector<std::pair<std::string, std::string>> headers = {});
// Sends raw bytes and returns everything the server answered until it closed (or `timeoutMs`).
std::string rawExchange(int port, const std::string& bytes, int timeoutMs = 3000);
int freePort();

class LiveServer {
 public:
  // `configText`, when not empty, is written to a config file passed with --config.
  explicit LiveServer(std::string configText = "", std::vector<std::string> extraArgs = {});
  ~LiveServer();
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;

  int port() const { return port_; }
  // The server process's id (-1 while it is not running), e.g. to read /proc/<pid>/status.
  int pid() const { return pid_; }
  const std::string& dataDir() const { return dataDir_; }
  HttpReply operator()(const std::string& method, const std::string& target, const std::string& body = "",
                       std::vector<std::pair<std::string, std::string>> headers = {}) const {
    return http(port_, method, target, body, std::move(headers));
  }
  void kill9();   // SIGKILL, for crash tests
  // SIGSTOP / SIGCONT: the process keeps its sockets open and answers nothing, as a peer behind a
  // dead network path does.
  void freeze(bool frozen);
  void start();   // (re)start on the same port and data directory

 private:
  TempDir dir_;
  std::string dataDir_;
  std::string configPath_;
  std::vector<std::string> extraArgs_;
  int port_ = 0;
  int pid_ = -1;
};

}  // namespace settee::test
