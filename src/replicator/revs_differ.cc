#include "replicator/revs_differ.h"

namespace settee::repl {

Result<std::vector<MissingRevs>> RevsDiffer::diff(std::vector<ChangeRow>&& rows, bool assumeAllMissing) {
  if (rows.empty()) return std::vector<MissingRevs>();  // a batch that only moves the checkpoint
  uint64_t checked = 0;
  for (const auto& row : rows) checked += row.revs.size();
  std::vector<MissingRevs> missing;
  if (assumeAllMissing) {
    missing.reserve(rows.size());
    for (auto& row : rows) {
      MissingRevs m;
      m.id = std::move(row.id);
      m.missing = std::move(row.revs);
      missing.push_back(std::move(m));
    }
  } else {
    std::vector<std::pair<std::string, std::vector<std::string>>> revs;
    revs.reserve(rows.size());
    for (auto& row : rows) revs.emplace_back(std::move(row.id), std::move(row.revs));
    auto answer = retry_.run([&] { return target_.revsDiff(revs); });
    if (!answer) return answer.status();
    missing = std::move(*answer);
  }
  uint64_t found = 0;
  for (const auto& m : missing) found += m.missing.size();
  progress_.update([&](ReplicationStats& s) {
    s.missingChecked += checked;
    s.missingFound += found;
  });
  return missing;
}

bool neverWritten(const std::string& updateSeq) {
  std::string_view s = updateSeq;
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  if (s.empty() || s[0] != '0') return false;
  return s.size() == 1 || s[1] == '-';
}

}  // namespace settee::repl
