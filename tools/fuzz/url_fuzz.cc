// URLs (http/client_url.h): replication sources and targets come from users' documents.
// Properties: a parsed URL printed with toString() parses back to the same URL; the helpers that build
// URLs accept any text.
#include "fuzz_util.h"
#include "http/client_url.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::asText(data, size);
  (void)http::encodeDocId(text);
  (void)http::buildQuery({{std::string(text), std::string(text)}});
  auto [base, path] = fuzz::splitLine(text);
  (void)http::urlJoin(base, path);

  auto url = http::Url::parse(text);
  if (!url) return 0;
  FUZZ_CHECK(!url->target.empty() && url->target.front() == '/');
  FUZZ_CHECK(url->port >= 1 && url->port <= 65535);
  (void)url->redacted();
  (void)url->origin();
  (void)url->hostHeader();
  auto again = http::Url::parse(url->toString());
  FUZZ_CHECK(again);
  FUZZ_CHECK(again->scheme == url->scheme && again->host == url->host && again->port == url->port);
  FUZZ_CHECK(again->user == url->user && again->password == url->password);
  FUZZ_CHECK(again->target == url->target);
  return 0;
}
