// `_find` / `_explain` bodies (db/mango_find.h): any client sends them, and parseFindRequest reads the
// selector, sort, fields, limit, skip, bookmark and use_index out of them before any row is read.
// Properties: a body that is refused is refused as bad input (400), never as a server error; a body that
// is accepted gives the same query through the app's door (makeFindQuery with its selector and options),
// and the two selectors match the same documents.
#include <simdjson.h>

#include <array>

#include "db/mango_find.h"
#include "fuzz_util.h"

using namespace settee;

namespace {

// Documents of every shape a selector looks at: nested fields, arrays of scalars and of objects, each JSON
// type. Parsed once; they never change, so no input depends on an earlier one.
constexpr std::array<std::string_view, 6> kDocs = {
    R"({"_id":"o1","type":"order","n":2,"ts":1002,"tags":["a","b"],"route":"r1","status":"open"})",
    R"({"_id":"c1","type":"customer","name":"Ann","vip":true,"address":{"city":"Lyon","zip":"69001"}})",
    R"({"_id":"m1","v":null,"lines":[{"sku":"s1","qty":2},{"sku":"s2","qty":1}],"scores":[3,8]})",
    R"({"_id":"m2","v":2.5,"a":{"b":{"c":[1,{"d":"x"}]}},"a.b":"dotted","":0})",
    R"({"_id":"m3","v":"Émile","w":[],"x":{},"n":-9223372036854775808,"u":18446744073709551615})",
    R"({"_id":"_design/x","language":"query","views":{}})",
};

struct Docs {
  simdjson::dom::parser parsers[kDocs.size()];
  simdjson::dom::element elements[kDocs.size()];
  Docs() {
    for (size_t i = 0; i < kDocs.size(); ++i) FUZZ_CHECK(!parsers[i].parse(kDocs[i]).get(elements[i]));
  }
};

const Docs& docs() {
  static const Docs d;
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto query = db::parseFindRequest(fuzz::asText(data, size));
  if (!query) {
    FUZZ_CHECK(query.status().code() == ErrorCode::BadRequest);
    FUZZ_CHECK(!query.status().reason().empty());
    return 0;
  }
  auto again = db::makeFindQuery(query->selectorJson, query->options);
  FUZZ_CHECK(again.isOk());
  FUZZ_CHECK(again->options.limit == query->options.limit && again->options.skip == query->options.skip);
  for (simdjson::dom::element doc : docs().elements) {
    FUZZ_CHECK(query->selector.matches(doc) == again->selector.matches(doc));
  }
  return 0;
}
