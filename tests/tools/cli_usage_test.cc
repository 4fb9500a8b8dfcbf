// The `settee` command line as people expect it: every command answers --help (and -h) on stdout with
// exit 0, listing each of its options; bad usage (an unknown option, a missing or bad value) exits with 2
// and an error that names the option and what it takes. The built binary, run in a child process.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "run_settee.h"
#include "settee/version.h"
#include "test_util.h"

using settee::test::runSettee;
using settee::test::TempDir;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct CommandHelp {
  std::string command;
  std::vector<std::string> mentions;  // each option, and the defaults worth checking
};

const std::vector<CommandHelp>& everyCommand() {
  static const std::vector<CommandHelp> commands = {
      {"serve",
       {"--port", "--bind", "--data", "--config", "--log-level", "--loops", "--help", "default 5984",
        "default 127.0.0.1", "default ./data", "default info", "debug, info, warn, error or none",
        "exit status"}},
      {"replicate",
       {"--continuous", "--sync",         "--create-target", "--no-checkpoints", "--doc-ids",  "--selector",
        "--filter",     "--query-params", "--since",         "--batch-size",     "--workers",  "--timeout",
        "--retries",    "--ca-file",      "--header",        "--data",           "--help",     "default 1000",
        "default 4",    "default 30000",  "default 8",       "default ./data",   "exit status"}},
      {"sync",
       {"--data", "--policy", "--priority", "--pull-selector", "--push-selector", "--doc-ids",
        "--large-attachments", "--metered", "--ca-file", "--header", "--help", "default keep",
        "exit status"}},
      {"status", {"--data", "--peer", "--limit", "--json", "--help", "default 20", "exit status"}},
      {"version", {"--help", "exit status"}},
      {"help", {"COMMAND", "exit status"}},
  };
  return commands;
}

}  // namespace

TEST_CASE("settee: every command answers --help and -h on stdout with exit 0, naming each of its options",
          "[tools][cli]") {
  for (const auto& c : everyCommand()) {
    for (const char* flag : {"--help", "-h"}) {
      const auto r = runSettee(c.command + " " + flag);
      INFO("settee " << c.command << " " << flag << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
      CHECK(r.exitCode == 0);
      CHECK(r.err.empty());
      CHECK(has(r.out, "usage: settee " + c.command));
      for (const auto& m : c.mentions) {
        INFO(m);
        CHECK(has(r.out, m));
      }
    }
  }
}

TEST_CASE("settee help COMMAND prints what settee COMMAND --help prints", "[tools][cli]") {
  for (const auto& c : everyCommand()) {
    INFO(c.command);
    const auto viaHelp = runSettee("help " + c.command);
    CHECK(viaHelp.exitCode == 0);
    CHECK(viaHelp.out == runSettee(c.command + " --help").out);
  }
  const auto unknown = runSettee("help frobnicate");
  CHECK(unknown.exitCode == 2);
  CHECK(has(unknown.err, "frobnicate"));
}

TEST_CASE("settee help, settee --help and settee -h list every command, on stdout with exit 0",
          "[tools][cli]") {
  for (const char* form : {"help", "--help", "-h"}) {
    const auto r = runSettee(form);
    INFO(form << "\n" << r.out << r.err);
    CHECK(r.exitCode == 0);
    for (const auto& c : everyCommand()) CHECK(has(r.out, "settee " + c.command));
    CHECK(has(r.out, "exit status"));
  }
  // No command at all is bad usage: the overview goes to stderr.
  const auto none = runSettee("");
  CHECK(none.exitCode == 2);
  CHECK(none.out.empty());
  CHECK(has(none.err, "settee serve"));
}

TEST_CASE("settee version and settee --version print the project's version", "[tools][cli]") {
  const auto version = runSettee("version");
  CHECK(version.exitCode == 0);
  CHECK(version.out == std::string("settee ") + SETTEE_VERSION_STRING + "\n");
  CHECK(std::regex_match(version.out, std::regex(R"(settee \d+\.\d+\.\d+\n)")));
  const auto dashed = runSettee("--version");
  CHECK(dashed.exitCode == 0);
  CHECK(dashed.out == version.out);
}

TEST_CASE("settee: an unknown command or option exits with 2, naming it and where the help is",
          "[tools][cli]") {
  TempDir dir;
  const std::string data = " --data " + dir.path();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"serve --prot 5984" + data, "settee serve: unknown option --prot (settee serve --help)"},
      {"replicate a b --bogus" + data, "settee replicate: unknown option --bogus (settee replicate --help)"},
      {"sync app http://127.0.0.1:1/x --bogus" + data, "settee sync: unknown option --bogus"},
      {"status app --bogus" + data, "settee status: unknown option --bogus"},
      {"version --bogus", "settee version: unknown option --bogus"},
      {"frobnicate", "unknown command 'frobnicate'"},
  };
  for (const auto& [args, error] : cases) {
    const auto r = runSettee(args);
    INFO("settee " << args << "\n" << r.err);
    CHECK(r.exitCode == 2);
    CHECK(has(r.err, error));
    CHECK(r.out.empty());
  }
}

TEST_CASE("settee: an option without its value exits with 2, naming the option", "[tools][cli]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"serve --port", "settee serve: --port needs a value"},
      {"serve --data", "settee serve: --data needs a value"},
      {"serve --config", "settee serve: --config needs a value"},
      {"replicate a b --batch-size", "settee replicate: --batch-size needs a value"},
      {"sync app http://127.0.0.1:1/x --policy", "settee sync: --policy needs a value"},
      {"status app --limit", "settee status: --limit needs a value"},
  };
  for (const auto& [args, error] : cases) {
    const auto r = runSettee(args);
    INFO("settee " << args << "\n" << r.err);
    CHECK(r.exitCode == 2);
    CHECK(has(r.err, error));
  }
}

TEST_CASE("settee: a bad value exits with 2, naming the option and what it takes", "[tools][cli]") {
  TempDir dir;
  const std::string data = " --data " + dir.path();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"serve --port notanumber", "--port takes a whole number from 0 to 65535, not 'notanumber'"},
      {"serve --port 65536", "--port takes a whole number from 0 to 65535, not '65536'"},
      {"serve --port -1", "--port takes a whole number from 0 to 65535, not '-1'"},
      {"serve --port 80x", "--port takes a whole number from 0 to 65535"},
      {"serve --log-level loud", "--log-level takes debug, info, warn, error or none, not 'loud'"},
      {"serve --loops many", "--loops takes a whole number from 0 to 256, not 'many'"},
      {"serve --loops 257", "--loops takes a whole number from 0 to 256, not '257'"},
      {"replicate a b --batch-size lots" + data,
       "--batch-size takes a whole number from 1 to 4294967295, not 'lots'"},
      {"replicate a b --workers 0" + data, "--workers takes a whole number from 1 to 4294967295, not '0'"},
      {"replicate a b --timeout soon" + data, "--timeout takes a whole number from 1 to"},
      {"replicate a b --retries -2" + data, "--retries takes a whole number from 0 to"},
      {"replicate a b --selector not-json" + data, "--selector must be a JSON object"},
      {"replicate a b --header NoColon" + data, "--header takes 'Name: value'"},
      {"status app --limit many" + data, "--limit"},
  };
  for (const auto& [args, error] : cases) {
    const auto r = runSettee(args);
    INFO("settee " << args << "\n" << r.err);
    CHECK(r.exitCode == 2);
    CHECK(has(r.err, error));
  }
}

TEST_CASE("settee serve --port notanumber fails naming --port without starting anything", "[tools][cli]") {
  TempDir dir;
  const std::string data = dir.file("never");
  // Without --log-level none, so a node that started would say "listening".
  const auto r = runSettee("serve --port notanumber --data " + data, 10);
  INFO(r.err);
  CHECK(r.exitCode == 2);
  CHECK(has(r.err, "--port"));
  CHECK_FALSE(has(r.err, "listening"));
  CHECK_FALSE(std::filesystem::exists(data));
}

TEST_CASE("settee serve reads the config file before its flags, whatever their order", "[tools][cli]") {
  TempDir dir;
  const std::string config = dir.file("local.ini");
  std::ofstream(config) << "[chttpd]\nbind_address = 127.0.0.1\n";
  // The flag, given before --config, still wins: a non-loopback address with no admin is refused (had the
  // file won, the node would start on 127.0.0.1 and run into the time limit).
  const auto r =
      runSettee("serve --bind 0.0.0.0 --config " + config + " --port 0 --data " + dir.file("d"), 10);
  INFO(r.err);
  CHECK(r.exitCode == 2);
  CHECK(has(r.err, "refusing to bind 0.0.0.0"));

  const auto missing = runSettee("serve --config " + dir.file("nosuch.ini") + " --data " + dir.file("d"), 10);
  CHECK(missing.exitCode == 2);
  CHECK(has(missing.err, "--config"));
  CHECK(has(missing.err, "nosuch.ini"));
}
