// Peak memory of a server process under test, from /proc/<pid>/status (Linux).
#pragma once

#include <fstream>
#include <string>

namespace settee::test {

// What a sanitized server may hold beyond a release one, in MB: ASan keeps freed blocks in a quarantine
// (tools/test.sh sets quarantine_size_mb=8) and pads every block with redzones. A bound on peak growth is
// about the design (a body spooled, not held); this keeps it from failing on the sanitizer's bookkeeping.
#ifdef SETTEE_SANITIZED
inline constexpr double kSanitizerSlackMb = 8.0;
#else
inline constexpr double kSanitizerSlackMb = 0.0;
#endif

// A kilobyte count from /proc/<pid>/status ("VmHWM", "VmRSS"); -1 when absent.
inline long statusKb(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Resets the process's peak RSS to its current RSS (Linux 4.0+, "5" > clear_refs); false if refused.
inline bool resetPeak(int pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace settee::test
