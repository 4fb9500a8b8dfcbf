// settee — the command line: finds the command named by the first argument and runs it. Each command's
// code and usage text live in its own file (commands.h); this file has only the overview, `settee help`
// and `settee version`.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "settee/version.h"  // SETTEE_VERSION_STRING, generated from CMake's project(VERSION)

namespace {

namespace cli = settee::cli;

int helpCommand(const std::vector<std::string>& args);
int versionCommand(const std::vector<std::string>& args);
void helpUsage(FILE* out);
void versionUsage(FILE* out);

struct Command {
  const char* name;
  const char* synopsis;  // after "settee NAME"
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
  void (*usage)(FILE* out);
};

// In the order `settee help` lists them.
constexpr Command kCommands[] = {
    {"serve", "[--port N] [--bind ADDR] [--data DIR] [--config FILE] [--log-level LEVEL] [--loops N]",
     "run a CouchDB-compatible node", serveCommand, serveUsage},
    {"replicate", "SOURCE TARGET [--continuous] [--sync] [--create-target] [options]",
     "replicate between two databases, local or remote", replicateCommand, replicateUsage},
    {"sync", "[--data DIR] DB URL [--policy POLICY] [options]",
     "keep a local database in continuous two-way sync with a peer", syncCommand, syncUsage},
    {"status", "[--data DIR] DB [--peer URL] [--json] [--limit N]",
     "a local database's sync state: pending, failed, conflicted, last sync", statusCommand, statusUsage},
    {"js", "[--max-memory BYTES]", "the JavaScript query server (CouchDB's protocol on stdin/stdout)", jsCommand, jsUsage},
    {"version", "", "print the version", versionCommand, versionUsage},
    {"help", "[COMMAND]", "this overview, or a command's help", helpCommand, helpUsage},
};

const Command* find(const std::string& name) {
  for (const Command& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

void overview(FILE* out) {
  std::fprintf(out, "usage: settee COMMAND [options]\n\ncommands:\n");
  for (const Command& c : kCommands)
    std::fprintf(out, "  settee %s%s%s\n      %s\n", c.name, *c.synopsis ? " " : "", c.synopsis, c.summary);
  std::fprintf(out,
               "\n`settee COMMAND --help` (or -h, or `settee help COMMAND`) lists a command's options and\n"
               "their defaults. `settee --version` is `settee version`.\n"
               "exit status: 0 success, 1 the command could not do its work, 2 bad usage (an unknown\n"
               "  command or option, a missing or bad value; the error names it)\n");
}

void helpUsage(FILE* out) {
  std::fprintf(out,
               "usage: settee help [COMMAND]\n"
               "  Without COMMAND, the list of commands (as `settee --help`); with one, its help (as\n"
               "  `settee COMMAND --help`), on stdout.\n"
               "exit status: 0; 2 for an unknown command\n");
}

int helpCommand(const std::vector<std::string>& argv) {
  cli::Args args("help", argv);
  if (args.done()) {
    overview(stdout);
    return 0;
  }
  const std::string name = args.next();
  if (cli::isHelp(name)) {
    helpUsage(stdout);
    return 0;
  }
  if (!args.done()) return args.fail("takes one COMMAND at most, not also '" + args.next() + "'");
  const Command* c = find(name);
  if (!c) return args.fail("unknown command '" + name + "'");
  c->usage(stdout);
  return 0;
}

void versionUsage(FILE* out) {
  std::fprintf(out,
               "usage: settee version\n"
               "  Prints `settee VERSION` (the project's version, as the library and package carry it).\n"
               "  `settee --version` is the same.\n"
               "options:\n"
               "  --help, -h   this text\n"
               "exit status: 0; 2 for bad usage\n");
}

int versionCommand(const std::vector<std::string>& argv) {
  cli::Args args("version", argv);
  if (!args.done()) {
    const std::string a = args.next();
    if (cli::isHelp(a)) {
      versionUsage(stdout);
      return 0;
    }
    return args.fail(a.rfind("-", 0) == 0 ? "unknown option " + a : "unexpected argument '" + a + "'");
  }
  std::printf("settee %s\n", SETTEE_VERSION_STRING);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes its socket while we write must cost that connection only, never the process:
  // writes then fail with EPIPE instead of raising SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    std::fprintf(stderr, "settee: no command given\n\n");
    overview(stderr);
    return 2;
  }
  const std::string name = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cli::isHelp(name)) return helpCommand(args);
  if (name == "--version") return versionCommand(args);
  const Command* c = find(name);
  if (!c) {
    std::fprintf(stderr, "settee: unknown command '%s' (settee help lists them)\n", name.c_str());
    return 2;
  }
  return c->run(args);
}
