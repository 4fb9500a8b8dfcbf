// `settee sync` as a user runs it: the built binary in a child process, syncing a local data directory with
// a real node, read meanwhile by `settee status`, and stopped by SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "live_server.h"
#include "settee/database.h"

extern char** environ;

using settee::test::Json;
using settee::test::LiveServer;
using settee::test::TempDir;

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A `settee ARGS` child process with its output in files; SIGKILLed if the test ends without stopping it.
class Child {
 public:
  Child(const TempDir& dir, const std::vector<std::string>& args)
      : out_(dir.file("out")), err_(dir.file("err")) {
    std::vector<std::string> argv = {SETTEE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&files, STDERR_FILENO, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawn(&pid_, SETTEE_BINARY, &files, nullptr, raw.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&files);
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool running() const { return pid_ > 0; }
  // Sends `sig` and waits (at most 30 s) for the exit: its exit status, -1 when it did not end by itself.
  int stop(int sig) {
    kill(pid_, sig);
    int status = 0;
    for (int waited = 0; waited < 30000; waited += 20) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  std::string out() const { return readFile(out_); }
  std::string err() const { return readFile(err_); }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
};

// `settee status ... --json` as JSON text; empty when it failed.
std::string status(const std::string& data, const std::string& peer) {
  TempDir tmp;
  const std::string command = std::string(SETTEE_BINARY) + " status --data " + data + " app --json --peer " +
                              peer + " >" + tmp.file("out");
  if (std::system(command.c_str()) != 0) return {};
  return readFile(tmp.file("out"));
}

bool eventually(const std::function<bool()>& check, int ms = 30000) {
  for (int waited = 0; waited < ms; waited += 100) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return check();
}

}  // namespace

TEST_CASE(
    "settee sync: both ways with a node, readable by settee status while it runs, ended cleanly by SIGTERM",
    "[tools][cli][sync]") {
  LiveServer node;
  REQUIRE(node("PUT", "/remote").status == 201);
  REQUIRE(node("PUT", "/remote/from-node", R"({"v":1})").status == 201);
  TempDir dir;
  const std::string data = dir.file("data");
  {
    settee::DataDir local(data);
    auto db = local.create("app");
    REQUIRE(db);
    REQUIRE((*db)->put(R"({"_id":"from-device","v":2})"));
  }
  const std::string peer = "http://127.0.0.1:" + std::to_string(node.port()) + "/remote";

  Child sync(dir, {"sync", "--data", data, "app", peer, "--policy", "keep"});
  REQUIRE(sync.running());
  CHECK(eventually([&] { return node("GET", "/remote/from-device").status == 200; }));
  // Caught up: nothing pending, a last sync time, read while the command still holds the database.
  std::string caughtUp;
  CHECK(eventually([&] {
    caughtUp = status(data, peer);
    return !caughtUp.empty() && Json(caughtUp)["pending"].get_uint64().value() == 0 &&
           !Json(caughtUp)["last_sync"].is_null();
  }));
  INFO(caughtUp);

  // A local edit while it runs travels too (written through the shared file, as an app's other process).
  {
    settee::DatabaseOptions shared;
    shared.exclusive = false;
    settee::DataDir local(data, shared);
    auto db = local.open("app");
    REQUIRE(db);
    REQUIRE((*db)->put(R"({"_id":"later","v":3})"));
  }
  CHECK(eventually([&] { return node("GET", "/remote/later").status == 200; }));

  CHECK(sync.stop(SIGTERM) == 0);
  const std::string out = sync.out();
  INFO(out);
  INFO(sync.err());
  // Not a terminal: one line per state change, the last one stopped.
  CHECK(out.find(" idle pending=0 failed=0 conflicted=0 ") != std::string::npos);
  CHECK(out.find(" stopped pending=") != std::string::npos);
  settee::DataDir local(data);
  auto db = local.open("app");
  REQUIRE(db);
  CHECK((*db)->get("from-node"));
}

TEST_CASE("settee sync: a peer that cannot be reached leaves it offline with the error, and SIGINT ends it",
          "[tools][cli][sync]") {
  TempDir dir;
  const std::string data = dir.file("data");
  const std::string peer = "http://127.0.0.1:" + std::to_string(settee::test::freePort()) + "/nowhere";
  Child sync(dir, {"sync", "--data", data, "app", peer});
  REQUIRE(sync.running());
  CHECK(eventually([&] { return sync.out().find(" offline pending=") != std::string::npos; }));
  CHECK(sync.out().find("error=\"") != std::string::npos);
  // The database was created and the peer registered: settee status reads it meanwhile.
  CHECK(eventually([&] { return !status(data, peer).empty(); }));
  CHECK(sync.stop(SIGINT) == 0);
}
