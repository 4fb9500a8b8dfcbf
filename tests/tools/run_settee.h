// run_settee.h — runs the built `settee` binary as a user would, for the command tests in tests/tools.
#pragma once

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "test_util.h"

namespace settee::test {

struct SetteeRun {
  int exitCode = -1;  // 124 when it ran past the time allowed (coreutils timeout)
  std::string out, err;
};

// Runs `settee ARGS` through the shell (so ARGS holds no shell metacharacters other than quotes the test
// wrote), for at most `seconds`; what it wrote to stdout and stderr, and its exit code.
inline SetteeRun runSettee(const std::string& args, int seconds = 60) {
  TempDir tmp;
  const std::string errFile = tmp.file("stderr");
  const std::string command =
      "timeout " + std::to_string(seconds) + " " + std::string(SETTEE_BINARY) + " " + args + " 2>" + errFile;
  SetteeRun r;
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(errFile);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

}  // namespace settee::test
