#include "replicator/outcome_recorder.h"

#include <charconv>
#include <map>
#include <set>

#include "db/database_internal.h"

namespace settee::repl {

namespace {

// A local source's sequence: the JSON text of a number.
bool localSeq(const std::string& seq, uint64_t& out) {
  const char* end = seq.data() + seq.size();
  auto [p, ec] = std::from_chars(seq.data(), end, out);
  return ec == std::errc() && p == end;
}

}  // namespace

Status OutcomeRecorder::record(const BatchOutcome& batch) {
  if (!wanted()) return Status::ok();
  std::map<std::string_view, const DocResult*> refused;
  for (const DocResult& r : batch.refused) refused.emplace(r.id, &r);
  const std::set<std::string_view> skipped(batch.skipped.begin(), batch.skipped.end());
  std::map<std::string_view, std::vector<std::string>> written;
  if (onDocuments_)
    for (const auto& [id, rev] : batch.written) written[id].push_back(rev);

  std::vector<DocOutcome> outcomes;
  std::vector<std::pair<std::string, uint64_t>> confirmed;
  for (const auto& [id, seq] : batch.rows) {
    if (skipped.count(id)) continue;
    auto failure = refused.find(id);
    if (ledger_) {
      uint64_t n = 0;
      if (!localSeq(seq, n)) return {ErrorCode::Internal, "a local source gave the sequence " + seq};
      if (failure == refused.end()) {
        confirmed.emplace_back(id, n);
      } else if (Status st = db::storeOf(*ledger_).markSyncFailed(peer_, id, n, failure->second->status);
                 !st) {
        return st;
      }
    }
    if (onDocuments_) {
      DocOutcome o{id, seq, {}, failure == refused.end() ? Status::ok() : failure->second->status};
      if (auto revs = written.find(id); revs != written.end()) o.revs = std::move(revs->second);
      outcomes.push_back(std::move(o));
    }
  }
  if (ledger_ && !confirmed.empty()) {
    if (Status st = db::storeOf(*ledger_).confirmSynced(peer_, confirmed); !st) return st;
  }
  if (onDocuments_ && !outcomes.empty()) onDocuments_(outcomes);
  return Status::ok();
}

}  // namespace settee::repl
