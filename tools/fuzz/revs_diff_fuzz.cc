// The replicator's decoder of a target's `_revs_diff` answer (replicator/remote_answers.h).
// Input: the revisions offered on the first line ({"id": ["rev", ...]}), then the answer.
// Property: only revisions that were offered come out as missing.
#include <algorithm>

#include "asked.h"
#include "fuzz_util.h"
#include "replicator/remote_answers.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [askedLine, body] = fuzz::splitLine(fuzz::asText(data, size));
  auto asked = fuzz::askedPairs(askedLine);
  auto missing = repl::decodeRevsDiff(std::string(body), asked, "POST _revs_diff");
  if (!missing) return 0;
  for (const auto& m : *missing) {
    for (const auto& rev : m.missing) {
      FUZZ_CHECK(std::any_of(asked.begin(), asked.end(), [&](const auto& a) {
        return a.first == m.id && std::find(a.second.begin(), a.second.end(), rev) != a.second.end();
      }));
    }
  }
  return 0;
}
