// The replicator's decoder of a source's `_changes` answer (replicator/remote_answers.h).
#include "fuzz_util.h"
#include "replicator/remote_answers.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto batch = repl::decodeChanges(std::string(fuzz::asText(data, size)), "0", "GET _changes");
  if (!batch) return 0;
  FUZZ_CHECK(!batch->lastSeq.empty());
  return 0;
}
