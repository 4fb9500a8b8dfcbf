// Revision ids (db/rev_id.h) as peers send them in `_rev`, `open_revs`, `_revs_diff` and `_changes`.
// Property: whatever parses prints back to text that parses to the same value.
#include "db/rev_id.h"
#include "fuzz_util.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::asText(data, size);
  (void)db::validRevHash(text);
  auto rev = db::RevId::parse(text);
  if (!rev) return 0;
  FUZZ_CHECK(rev->gen >= 1);
  // An empty hash is CouchDB's `N-` (new_edits=false may store "1-"); any other must be a valid token.
  FUZZ_CHECK(rev->hash.empty() || db::validRevHash(rev->hash));
  auto again = db::RevId::parse(rev->str());
  FUZZ_CHECK(again && *again == *rev);
  return 0;
}
