// The replicator's decoder of a source's `_bulk_get` answer (replicator/remote_answers.h), and what the
// replicator does next with each fetched revision: total its attachment stubs and render it for a
// target. Input: the revisions asked on the first line ({"id": ["rev", ...]}), then the answer.
// Properties: every revision that comes out is of a document asked for, and renders as JSON that parses
// again into the same revision.
#include <simdjson.h>

#include <algorithm>

#include "asked.h"
#include "db/document.h"
#include "fuzz_util.h"
#include "replicator/remote_answers.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [askedLine, body] = fuzz::splitLine(fuzz::asText(data, size));
  auto asked = fuzz::askedRevs(askedLine);
  auto docs = repl::decodeBulkGet(std::string(body), asked, "POST _bulk_get");
  if (!docs) return 0;
  simdjson::dom::parser parser;
  for (const auto& d : *docs) {
    FUZZ_CHECK(std::any_of(asked.begin(), asked.end(), [&](const auto& m) { return m.id == d.id; }));
    if (!d.rev) continue;  // a revision the target would refuse
    (void)d.rev->stubBytes();
    std::string json = db::renderRevision(*d.rev);
    simdjson::dom::element root;
    FUZZ_CHECK(!parser.parse(json).get(root));
    auto again = db::parseDocument(root);
    FUZZ_CHECK(again && again->body == d.rev->body && again->revString() == d.rev->revString());
  }
  return 0;
}
