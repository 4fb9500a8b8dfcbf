// cli_args.h — what the `settee` commands share: reading options, comma lists, numbers, JSON objects and
// times as ISO 8601. Every error names the option and what it accepts, on stderr, and the command then
// exits with 2 (bad usage), as `settee help` says. Internal to tools/settee; plain functions, no state.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace settee::cli {

// "a,b,,c" -> {"a", "b", "c"}: the non-empty items of a comma-separated option value.
inline std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Walks a command's arguments: options (`--name` or `--name value`) and positional arguments, in order.
// Each command's own `--help` is checked for first in its loop, so `-h` works anywhere before a bad option.
class Args {
 public:
  Args(const char* command, const std::vector<std::string>& args) : command_(command), args_(args) {}
  bool done() const { return i_ >= args_.size(); }
  const std::string& next() { return args_[i_++]; }
  // The value of the option just read; nullopt, with the error printed, when there is none.
  std::optional<std::string> value(const std::string& option) {
    if (i_ < args_.size()) return args_[i_++];
    std::fprintf(stderr, "settee %s: %s needs a value (settee %s --help)\n", command_, option.c_str(),
                 command_);
    return std::nullopt;
  }
  // Prints "settee <command>: <message> (settee <command> --help)"; returns 2, the status of bad usage.
  int fail(const std::string& message) const {
    std::fprintf(stderr, "settee %s: %s (settee %s --help)\n", command_, message.c_str(), command_);
    return 2;
  }
  // `value` as a whole decimal number in [min, max]; nullopt, with an error naming `option` and the
  // range it takes printed, otherwise. (No max given: "min or more".)
  std::optional<uint64_t> number(const std::string& option, const std::string& value, uint64_t min,
                                 uint64_t max = std::numeric_limits<uint64_t>::max()) const;

 private:
  const char* command_;
  const std::vector<std::string>& args_;
  size_t i_ = 0;
};

// A whole non-negative decimal number, or nullopt.
inline std::optional<uint64_t> parseCount(const std::string& s) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(s);
}

inline std::optional<uint64_t> Args::number(const std::string& option, const std::string& value, uint64_t min,
                                            uint64_t max) const {
  auto n = parseCount(value);
  if (n && *n >= min && *n <= max) return n;
  const std::string range = max == std::numeric_limits<uint64_t>::max()
                                ? std::to_string(min) + " or more"
                                : "from " + std::to_string(min) + " to " + std::to_string(max);
  fail(option + " takes a whole number " + range + ", not '" + value + "'");
  return std::nullopt;
}

// True for the two spellings of a request for a command's help.
inline bool isHelp(const std::string& arg) { return arg == "--help" || arg == "-h"; }

// True when `text` is a JSON object (a Mango selector, filter parameters).
inline bool isJsonObject(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  return !parser.parse(text).get(object);
}

// Microseconds since the epoch as "2026-12-05T04:01:02Z"; empty for 0 (never).
inline std::string isoTime(uint64_t micros) {
  if (micros == 0) return {};
  const std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace settee::cli
