// Mango selectors (db/mango.h), parsed and matched: `_find` and `_changes?filter=_selector` take them
// from any client, and a replication's selector comes from a user's document.
// Input: the selector on the first line, then one JSON document per line to match against it.
#include <simdjson.h>

#include "db/mango.h"
#include "fuzz_util.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selectorText, docs] = fuzz::splitLine(fuzz::asText(data, size));
  auto selector = db::Selector::parseJson(selectorText);
  if (!selector) return 0;
  simdjson::dom::parser parser;
  while (!docs.empty()) {
    auto [line, rest] = fuzz::splitLine(docs);
    docs = rest;
    simdjson::dom::element doc;
    if (parser.parse(line.data(), line.size()).get(doc)) continue;
    (void)selector->matches(doc);
  }
  return 0;
}
