// js/child_process.h — one query server process and the socket we talk to it over.
//
// Contract: spawn() starts `argv` with its stdin and stdout on one end of a Unix socket pair (stderr is
// ours); the other end is ours, non-blocking and close-on-exec, so no other child inherits it. A socket
// rather than pipes because send(MSG_NOSIGNAL) reports a dead child as EPIPE instead of raising SIGPIPE
// in the node. send() and receiveLine() give up at their deadline. The destructor kills the process
// (SIGKILL) and reaps it, so a ChildProcess never leaves a zombie. One thread at a time uses it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "settee/status.h"

namespace settee::js {

using Clock = std::chrono::steady_clock;

class ChildProcess {
 public:
  enum class Io { Ok, Timeout, Closed, TooLong };

  // The process, or Internal ("os_process_error") when it cannot be started.
  static Result<std::unique_ptr<ChildProcess>> spawn(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Writes `line` and a newline.
  Io send(std::string_view line, Clock::time_point deadline);
  // Reads the next line, without its newline, into `out`; TooLong past `maxBytes`.
  Io receiveLine(std::string& out, Clock::time_point deadline, size_t maxBytes);

  pid_t pid() const { return pid_; }
  // How the process ended, once it has (after a Closed): "exited with status N" or "killed by signal N".
  std::string exitDescription();

 private:
  ChildProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  void reap(bool kill);

  pid_t pid_;
  int fd_;
  bool reaped_ = false;
  int waitStatus_ = 0;
  std::string buffer_;  // bytes received after the last line returned
};

}  // namespace settee::js
