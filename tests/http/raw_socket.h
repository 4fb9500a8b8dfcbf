// A raw TCP client for tests that send bytes no well-behaved HTTP client would (framing attacks, bodies
// sent slowly or not at all) to a real server on 127.0.0.1. Blocking, with a timeout on every wait, so a
// server bug fails the test instead of hanging it. One object, one thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>

namespace settee::test {

class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return fd_ >= 0; }

  // Sends all of `bytes`; false if the server has closed (or reset) the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until `marker` is among the bytes received, the server closes, or `timeoutMs` passes; returns
  // everything received so far (kept for the next call too).
  const std::string& readUntil(std::string_view marker, int timeoutMs = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!closed_ && received_.find(marker) == std::string::npos && fill(deadline)) {
    }
    return received_;
  }

  // Reads until the server closes its side (EOF or reset) or `timeoutMs` passes; true if it closed.
  bool waitClosed(int timeoutMs = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!closed_ && fill(deadline)) {
    }
    return closed_;
  }

  const std::string& received() const { return received_; }
  // The status code of the first response received, or 0.
  int status() const {
    if (received_.size() < 12 || received_.compare(0, 5, "HTTP/") != 0) return 0;
    return std::stoi(received_.substr(9, 3));
  }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      closed_ = true;
      return false;
    }
    if (n < 0) return false;
    received_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string received_;
};

}  // namespace settee::test
