#include "live_server.h"

#include <arpa/inet.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#ifndef SETTEE_BINARY
#define SETTEE_BINARY "build/settee"
#endif

namespace settee::test {

const std::string* HttpReply::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  }
  return nullptr;
}

namespace {

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct ParseState {
  HttpReply reply;
  std::string field;
  bool inValue = false;
  bool complete = false;
};

HttpReply parseReply(const std::string& raw) {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
    auto* s = static_cast<ParseState*>(p->data);
    if (s->inValue) {
      s->field.clear();
      s->inValue = false;
    }
    s->field.append(at, n);
    return 0;
  };
  settings.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
    auto* s = static_cast<ParseState*>(p->data);
    if (!s->inValue) {
      s->reply.headers.emplace_back(s->field, "");
      s->inValue = true;
    }
    s->reply.headers.back().second.append(at, n);
    return 0;
  };
  settings.on_headers_complete = [](llhttp_t* p) {
    static_cast<ParseState*>(p->data)->inValue = false;
    static_cast<ParseState*>(p->data)->field.clear();
    return 0;
  };
  settings.on_body = [](llhttp_t* p, const char* at, size_t n) {
    static_cast<ParseState*>(p->data)->reply.body.append(at, n);
    return 0;
  };
  settings.on_message_complete = [](llhttp_t* p) {
    static_cast<ParseState*>(p->data)->complete = true;
    return static_cast<int>(HPE_PAUSED);
  };
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  ParseState state;
  parser.data = &state;
  llhttp_execute(&parser, raw.data(), raw.size());
  if (!state.complete) llhttp_finish(&parser);
  state.reply.status = parser.status_code;
  return state.reply;
}

}  // namespace

std::string rawExchange(int port, const std::string& bytes, int timeoutMs) {
  int fd = connectTo(port);
  if (fd < 0) return {};
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[65536];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

HttpReply http(int port, const std::string& method, const std::string& target, const std::string& body,
               std::vector<std::pair<std::string, std::string>> headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  bool hasType = false;
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), "content-type") == 0) hasType = true;
    req += k + ": " + v + "\r\n";
  }
  if (!body.empty() && !hasType) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  return parseReply(rawExchange(port, req, 30000));
}

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

LiveServer::LiveServer(std::string configText, std::vector<std::string> extraArgs)
    : dataDir_(dir_.file("data")), extraArgs_(std::move(extraArgs)), port_(freePort()) {
  if (!configText.empty()) {
    configPath_ = dir_.file("local.ini");
    std::ofstream(configPath_) << configText;
  }
  start();
}

void LiveServer::start() {
  std::vector<std::string> args = {SETTEE_BINARY, "serve", "--port", std::to_string(port_), "--data", dataDir_,
                                   "--log-level", "none"};
  if (!configPath_.empty()) args.insert(args.end(), {"--config", configPath_});
  args.insert(args.end(), extraArgs_.begin(), extraArgs_.end());
  std::string log = dir_.file("settee.log");
  pid_ = fork();
  if (pid_ == 0) {
    // The server dies with the test process (even a crashed one), and never holds the test's output
    // open: a crash must not leave a run hanging on an orphan.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_RDWR);
    int logfd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(logfd >= 0 ? logfd : devnull, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    int fd = connectTo(port_);
    if (fd >= 0) {
      close(fd);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) throw std::runtime_error("settee serve exited at start");
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("settee serve did not start listening");
}

void LiveServer::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  kill(pid_, SIGCONT);  // a frozen process dies only once it runs again
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void LiveServer::freeze(bool frozen) {
  if (pid_ > 0) kill(pid_, frozen ? SIGSTOP : SIGCONT);
}

LiveServer::~LiveServer() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  kill(pid_, SIGCONT);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill9();
}

}  // namespace settee::test
