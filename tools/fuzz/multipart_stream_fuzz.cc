// The streaming multipart parser (http/multipart_stream.h), which reads open_revs answers from a
// replication source as they arrive. Input: the boundary on the first line, then the body.
// Properties:
// - Where the network splits the body changes nothing: fed whole, one byte at a time, or in uneven
//   pieces, the parser gives the same parts (headers and bytes) and the same verdict.
// - It keeps no part body: what it holds between feeds stays small.
// - It agrees with the buffered parseMultipart() on bodies both accept, when no part declares a
//   Content-Length (the one documented difference in how parts are cut).
#include <vector>

#include "fuzz_util.h"
#include "http/multipart.h"
#include "http/multipart_stream.h"

using namespace settee;

namespace {

struct Parsed {
  std::vector<std::pair<http::HeaderList, std::string>> parts;
  int ended = 0;
  bool ok = false;
  bool done = false;
  bool operator==(const Parsed&) const = default;
};

constexpr size_t kMaxHeaderBytes = 1024;

template <class Split>
Parsed run(std::string_view boundary, std::string_view body, Split split) {
  Parsed out;
  http::MultipartStreamParser parser(
      std::string(boundary),
      http::MultipartHandler{[&](const http::HeaderList& headers) {
                               out.parts.emplace_back(headers, std::string());
                               return Status::ok();
                             },
                             [&](std::string_view bytes) {
                               FUZZ_CHECK(!bytes.empty() && !out.parts.empty());
                               out.parts.back().second.append(bytes);
                               return Status::ok();
                             },
                             [&] {
                               ++out.ended;
                               return Status::ok();
                             }},
      kMaxHeaderBytes);
  Status st;
  for (size_t at = 0; at < body.size() && st;) {
    size_t n = std::min(split(at), body.size() - at);
    st = parser.feed(body.substr(at, n));
    at += n;
    // A delimiter candidate, a header block, or a held piece being completed: never a body.
    FUZZ_CHECK(parser.buffered() <=
               kMaxHeaderBytes + boundary.size() + http::MultipartStreamParser::kMaxPadding + 8192);
  }
  if (st) st = parser.finish();
  out.ok = st.isOk();
  out.done = parser.done();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Plain variables, not a structured binding: the lambdas below capture them.
  const auto input = fuzz::splitLine(fuzz::asText(data, size));
  const std::string_view boundary = input.first, body = input.second;
  Parsed whole = run(boundary, body, [&](size_t) { return body.size(); });
  Parsed bytes = run(boundary, body, [](size_t) { return size_t(1); });
  uint32_t state = static_cast<uint32_t>(size) * 2654435761u;
  Parsed pieces = run(boundary, body, [&](size_t) {
    state = state * 1103515245u + 12345u;
    return size_t(1 + (state >> 16) % 97);
  });
  FUZZ_CHECK(whole == bytes);
  FUZZ_CHECK(whole == pieces);
  if (whole.ok) FUZZ_CHECK(whole.done && whole.ended == static_cast<int>(whole.parts.size()));

  auto buffered = http::parseMultipart(body, boundary);
  if (!whole.ok || !buffered) return 0;
  for (const auto& [headers, bytesOfPart] : whole.parts)
    if (http::findHeader(headers, "Content-Length")) return 0;
  FUZZ_CHECK(buffered->size() == whole.parts.size());
  for (size_t i = 0; i < buffered->size(); ++i) {
    FUZZ_CHECK((*buffered)[i].headers == whole.parts[i].first);
    FUZZ_CHECK((*buffered)[i].body == whole.parts[i].second);
  }
  return 0;
}
