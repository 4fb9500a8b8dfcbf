// Peak memory of a server process under test, from /proc/<pid>/status (Linux).
#pragma once

#include <fstream>
#include <string>

namespace settee::test {

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
