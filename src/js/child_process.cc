// js/child_process.cc — posix_spawn over a socket pair, and line I/O with deadlines (poll).
#include "js/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace settee::js {

namespace {

int msUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60'000 ? 60'000 : static_cast<int>(left) + 1;
}

// Waits until `fd` is ready for `events` or the deadline passes; false at the deadline.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    int ms = msUntil(deadline);
    if (ms == 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the read or write report the error
  }
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status(ErrorCode::Internal, "no JavaScript query server is configured", "os_process_error");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Status(ErrorCode::Internal, std::string("socketpair: ") + std::strerror(errno),
                  "os_process_error");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the copies, so the child keeps fds 0 and 1 and nothing else of ours.
  posix_spawn_file_actions_adddup2(&actions, sv[1], 0);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The node ignores SIGPIPE; the child should die of it as any filter does when the node goes away.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Nor should it inherit the signals the calling thread blocks (libuv's workers may block some).
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    return Status(ErrorCode::Internal, "cannot start the query server " + argv[0] + ": " + std::strerror(rc),
                  "os_process_error");
  }
  ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, sv[0]));
}

ChildProcess::~ChildProcess() {
  ::close(fd_);
  reap(true);
}

void ChildProcess::reap(bool kill) {
  if (reaped_) return;
  if (kill) ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &waitStatus_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

std::string ChildProcess::exitDescription() {
  if (!reaped_) {
    // It closed its end: it has exited or is about to. Give it a moment before forcing the matter.
    auto until = Clock::now() + std::chrono::milliseconds(200);
    while (!reaped_ && Clock::now() < until) {
      pid_t r = ::waitpid(pid_, &waitStatus_, WNOHANG);
      if (r == pid_)
        reaped_ = true;
      else
        ::usleep(2000);
    }
    reap(true);
  }
  if (WIFEXITED(waitStatus_)) return "exited with status " + std::to_string(WEXITSTATUS(waitStatus_));
  if (WIFSIGNALED(waitStatus_)) return "killed by signal " + std::to_string(WTERMSIG(waitStatus_));
  return "ended";
}

ChildProcess::Io ChildProcess::send(std::string_view line, Clock::time_point deadline) {
  std::string data(line);
  data += '\n';
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!waitFor(fd_, POLLOUT, deadline)) return Io::Timeout;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return Io::Closed;
    }
  }
  return Io::Ok;
}

ChildProcess::Io ChildProcess::receiveLine(std::string& out, Clock::time_point deadline, size_t maxBytes) {
  size_t scanned = 0;
  for (;;) {
    size_t nl = buffer_.find('\n', scanned);
    if (nl != std::string::npos) {
      out.assign(buffer_, 0, nl);
      buffer_.erase(0, nl + 1);
      return Io::Ok;
    }
    scanned = buffer_.size();
    if (buffer_.size() > maxBytes) return Io::TooLong;
    // A process that writes without pause never makes recv wait: the deadline is checked here too.
    if (Clock::now() >= deadline) return Io::Timeout;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      return Io::Closed;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!waitFor(fd_, POLLIN, deadline)) return Io::Timeout;
    } else if (errno != EINTR) {
      return Io::Closed;
    }
  }
}

}  // namespace settee::js
