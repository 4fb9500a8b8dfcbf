// Buffered multipart/related and multipart/mixed (http/multipart.h): PUT of a document with attachments,
// and open_revs answers read whole. Input: the boundary on the first line, then the body. A part whose
// Content-Type is itself multipart is parsed again with its own boundary, as the open_revs reader does.
// Properties: every part's bytes are a view into the body; what parses once parses the same again.
#include "fuzz_util.h"
#include "http/multipart.h"

using namespace settee;

namespace {

void parse(std::string_view body, std::string_view boundary, int depth) {
  auto parts = http::parseMultipart(body, boundary);
  if (!parts) return;
  FUZZ_CHECK(!parts->empty());
  for (const http::Part& part : *parts) {
    FUZZ_CHECK(part.body.data() >= body.data() &&
               part.body.data() + part.body.size() <= body.data() + body.size());
    const std::string* type = part.header("Content-Type");
    if (!type || depth > 2) continue;
    if (auto inner = http::boundaryOf(*type)) parse(part.body, *inner, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [first, body] = fuzz::splitLine(fuzz::asText(data, size));
  // The first line is either a bare boundary or a Content-Type carrying one.
  std::string boundary(first);
  if (auto fromType = http::boundaryOf(first)) boundary = *fromType;
  parse(body, boundary, 0);
  return 0;
}
