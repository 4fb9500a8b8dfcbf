// replicator/rev_fetcher.h — the agent that fetches missing revisions from the source, attachments included.
//
// Revisions come in chunks of tuning::kFetchBatch through `_bulk_get` (or open_revs). A revision with
// attachments is set aside by the first request and fetched apart, so memory never holds a batch's worth
// of attachment bytes: one whose attachments reach tuning::kStreamThreshold alone and streamed through a
// spool file, the others in groups of at most tuning::kAttachmentGroupBytes.
// Each fetched group is handed to `deliver` (the revision writer) before the next is fetched, so at most
// one group is held at a time. FetchedRev is opaque here: moved along, counted, never looked into.
// With a `maxAttachmentBytes` limit (ReplicationOptions, local sources, whose set-aside revisions count
// exactly the attachment bytes that would travel), a revision over it is left out: not fetched, not
// written, counted as skipped.
// Contract: fetch() from several worker threads at once; the endpoint and policy outlive it.
#pragma once

#include <functional>
#include <vector>

#include "replicator/endpoint.h"
#include "replicator/progress.h"
#include "replicator/retry_policy.h"

namespace settee::repl {

class RevFetcher {
 public:
  // Takes a fetched group and writes it; an error stops the fetch.
  using Deliver = std::function<Status(const std::vector<FetchedRev>&)>;

  RevFetcher(Endpoint& source, RetryPolicy& retry, Progress& progress, uint64_t maxAttachmentBytes = 0)
      : source_(source), retry_(retry), progress_(progress), maxAttachmentBytes_(maxAttachmentBytes) {}

  // Fetches every revision in `missing` and delivers it; the first failure (fetching or delivering) ends it.
  // The ids of documents left out by the attachment limit are added to `skipped` (when given).
  Status fetch(const std::vector<MissingRevs>& missing, const Deliver& deliver,
               std::vector<std::string>* skipped = nullptr);

 private:
  // The revisions the first request set aside because they have attachments (see the header comment).
  Status fetchWithAttachments(std::vector<MissingRevs>& deferred, const Deliver& deliver,
                              std::vector<std::string>* skipped);

  Endpoint& source_;
  RetryPolicy& retry_;
  Progress& progress_;
  const uint64_t maxAttachmentBytes_;  // 0: no limit
};

}  // namespace settee::repl
