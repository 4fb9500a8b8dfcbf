#include "replicator/rev_fetcher.h"

#include <algorithm>

#include "replicator/tuning.h"

namespace settee::repl {

Status RevFetcher::fetch(const std::vector<MissingRevs>& missing, const Deliver& deliver,
                         std::vector<std::string>* skipped) {
  for (size_t at = 0; at < missing.size(); at += tuning::kFetchBatch) {
    const auto end = missing.begin() + static_cast<long>(std::min(missing.size(), at + tuning::kFetchBatch));
    std::vector<MissingRevs> chunk(missing.begin() + static_cast<long>(at), end);
    std::vector<MissingRevs> deferred;
    auto docs = retry_.run([&] {
      deferred.clear();  // a retried request sets them aside again
      return source_.fetch(chunk, &deferred);
    });
    if (!docs) return docs.status();
    if (!docs->empty())
      if (Status st = deliver(*docs); !st) return st;
    if (Status st = fetchWithAttachments(deferred, deliver, skipped); !st) return st;
  }
  return Status::ok();
}

Status RevFetcher::fetchWithAttachments(std::vector<MissingRevs>& deferred, const Deliver& deliver,
                                        std::vector<std::string>* skipped) {
  if (maxAttachmentBytes_ > 0) {
    const auto over = std::stable_partition(deferred.begin(), deferred.end(), [this](const MissingRevs& m) {
      return m.attachmentBytes <= maxAttachmentBytes_;
    });
    if (over != deferred.end()) {
      const auto count = static_cast<uint64_t>(deferred.end() - over);
      progress_.update([&](ReplicationStats& s) { s.docsSkipped += count; });
      if (skipped)
        for (auto it = over; it != deferred.end(); ++it) skipped->push_back(it->id);
      deferred.erase(over, deferred.end());
    }
  }
  auto send = [&](const Result<std::vector<FetchedRev>>& docs) -> Status {
    if (!docs) return docs.status();
    return docs->empty() ? Status::ok() : deliver(*docs);
  };
  // Large attachments one document at a time, streamed through a spool file: memory holds a piece of an
  // attachment, never a whole one.
  auto large = std::stable_partition(deferred.begin(), deferred.end(), [](const MissingRevs& m) {
    return m.attachmentBytes < tuning::kStreamThreshold;
  });
  for (auto it = large; it != deferred.end(); ++it) {
    if (Status st = send(retry_.run([&] { return source_.fetchStreamed(*it); })); !st) return st;
  }
  deferred.erase(large, deferred.end());
  // The others in groups of bounded size: memory holds at most a group's bytes, never a batch's.
  for (size_t from = 0; from < deferred.size();) {
    size_t to = from;
    uint64_t bytes = 0;
    while (to < deferred.size() &&
           (to == from || bytes + deferred[to].attachmentBytes <= tuning::kAttachmentGroupBytes))
      bytes += deferred[to++].attachmentBytes;
    std::vector<MissingRevs> group(deferred.begin() + static_cast<long>(from),
                                   deferred.begin() + static_cast<long>(to));
    if (Status st = send(retry_.run([&] { return source_.fetch(group); })); !st) return st;
    from = to;
  }
  return Status::ok();
}

}  // namespace settee::repl
