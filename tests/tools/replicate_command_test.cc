// `settee replicate` as a user runs it: the built binary in a child process, between real nodes.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

// Runs `settee replicate ARGS` with its output discarded; its exit code, 124 when it ran past `seconds`
// (coreutils timeout), so a command that hangs fails the test instead of holding it. The arguments are
// URLs without shell metacharacters.
int replicate(const std::string& args, int seconds = 60) {
  const std::string command =
      "timeout " + std::to_string(seconds) + " " + SETTEE_BINARY + " replicate " + args + " >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string url(const LiveServer& node, const std::string& db) {
  return "http://127.0.0.1:" + std::to_string(node.port()) + "/" + db;
}

}  // namespace

TEST_CASE(
    "settee replicate --sync --create-target: the way back starts only once the way out has created "
    "the target",
    "[repl][cli]") {
  // The way back reads the database the way out creates: started at once, it would find no database and
  // fail the command.
  LiveServer a, b;
  REQUIRE(a("PUT", "/src").status == 201);
  REQUIRE(a("PUT", "/src/one", R"({"v":1})").status == 201);
  REQUIRE(a("PUT", "/src/two", R"({"v":2})").status == 201);

  CHECK(replicate(url(a, "src") + " " + url(b, "dst") + " --sync --create-target") == 0);

  auto info = b("GET", "/dst");
  REQUIRE(info.status == 200);
  CHECK(Json(info.body)["doc_count"].get_uint64().value() == 2);
}

TEST_CASE(
    "settee replicate --sync --create-target: a way out that fails to start ends the command, "
    "with an error",
    "[repl][cli]") {
  LiveServer a, b;
  CHECK(replicate(url(a, "missing") + " " + url(b, "dst") + " --sync --create-target") == 1);
}
