// settee js — the JavaScript query server: CouchDB's query server protocol on stdin/stdout, one JSON
// command per line in, one JSON answer per line out (log lines ["log", msg] before it). The node starts
// it as a child (src/js/query_server_pool.h) and kills it when an answer is late; here we cap memory.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "js/query_server.h"

#if defined(__SANITIZE_ADDRESS__)
#define SETTEE_JS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define SETTEE_JS_SANITIZED 1
#endif
#endif

namespace cli = settee::cli;

void jsUsage(FILE* out) {
  std::fprintf(out,
               "usage: settee js [--max-memory BYTES]\n"
               "  The JavaScript query server: reads CouchDB's query server protocol on stdin, one JSON\n"
               "  command per line (reset, add_lib, add_fun, map_doc, reduce, rereduce, ddoc new, ddoc\n"
               "  filters / views / validate_doc_update / shows / updates / lists / rewrites), and answers\n"
               "  each with one line on stdout (a list answers each list_row and list_end too). The\n"
               "  node runs it as a child process; run by hand it is a way to try a design function.\n"
               "options:\n"
               "  --max-memory BYTES   the JavaScript heap's cap (default 67108864, 64 MiB); a command\n"
               "                       that needs more is answered with an error and the process exits\n"
               "  --help, -h           this text\n"
               "exit status: 0 at the end of input; 1 after running out of memory or a fatal error;\n"
               "  2 for bad usage\n");
}

namespace {

// The address-space limit is a backstop for memory Duktape does not count (the C stack, libc, the
// lines being read and written): the heap's cap three times over plus what the process maps already.
// Sanitizers reserve terabytes of shadow memory, so a sanitized build does without it.
void limitAddressSpace(size_t maxMemory) {
#if defined(RLIMIT_AS) && !defined(SETTEE_JS_SANITIZED)
  size_t pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%zu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  const rlim_t limit = static_cast<rlim_t>(pages) * 4096 + 3 * static_cast<rlim_t>(maxMemory) + (256u << 20);
  rlimit current{};
  if (getrlimit(RLIMIT_AS, &current) == 0 &&
      (current.rlim_max == RLIM_INFINITY || current.rlim_max > limit)) {
    rlimit wanted{limit, current.rlim_max};
    setrlimit(RLIMIT_AS, &wanted);
  }
#else
  (void)maxMemory;
#endif
}

void writeLine(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

int jsCommand(const std::vector<std::string>& argv) {
  cli::Args args("js", argv);
  settee::js::QueryServerOptions options;
  while (!args.done()) {
    const std::string a = args.next();
    if (cli::isHelp(a)) {
      jsUsage(stdout);
      return 0;
    }
    if (a == "--max-memory") {
      auto v = args.value(a);
      if (!v) return 2;
      auto n = args.number(a, *v, 1u << 20);
      if (!n) return 2;
      options.maxMemory = static_cast<size_t>(*n);
    } else {
      return args.fail(a.rfind("-", 0) == 0 ? "unknown option " + a : "unexpected argument '" + a + "'");
    }
  }
  limitAddressSpace(options.maxMemory);
  settee::js::QueryServer server(options, writeLine);
  // POSIX getline: a line may be as long as a design document, and may hold any byte.
  char* raw = nullptr;
  size_t cap = 0;
  struct Free {
    char*& p;
    ~Free() { std::free(p); }
  } freeRaw{raw};
  // The next non-empty line of stdin without its line end; false at the end of the input.
  auto next = [&](std::string_view& line) {
    for (;;) {
      ssize_t got = ::getline(&raw, &cap, stdin);
      if (got < 0) return false;
      line = std::string_view(raw, static_cast<size_t>(got));
      if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) return true;
    }
  };
  // A list function's getRow() reads the rows that follow its command from the same input.
  server.setLineSource([&](std::string& out) {
    std::string_view line;
    if (!next(line)) return false;
    out.assign(line);
    return true;
  });
  for (;;) {
    std::string_view line;
    if (!next(line)) return 0;
    // The line lives in getline's buffer, which a list's getRow() reuses; handle() copies it into the
    // heap before any function runs, so that is safe.
    writeLine(server.handle(line));
    if (server.broken()) return 1;
  }
}
