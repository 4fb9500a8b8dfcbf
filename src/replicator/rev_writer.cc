#include "replicator/rev_writer.h"

namespace settee::repl {

Result<std::vector<DocResult>> RevWriter::write(const std::vector<FetchedRev>& docs) {
  if (docs.empty()) return std::vector<DocResult>{};
  auto failures = retry_.run([&] { return target_.write(docs); });
  if (!failures) return failures.status();
  progress_.update([&](ReplicationStats& s) {
    s.docsRead += docs.size();
    s.docsWritten += docs.size() - failures->size();
    s.docWriteFailures += failures->size();
  });
  return std::move(*failures);
}

}  // namespace settee::repl
