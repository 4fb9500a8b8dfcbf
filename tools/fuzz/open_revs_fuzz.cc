// The replicator's reader of `GET {id}?open_revs=[...]` answers (replicator/open_revs_reader.h): a
// multipart/mixed stream of revisions, some of them multipart/related with attachment bodies spooled to
// a file, or a JSON array. Input: the answer's Content-Type on the first line, the revisions asked on
// the second ({"id": ["rev", ...]}, the first entry is used), then the body, which is fed in uneven
// pieces as a network would deliver it.
// Properties: every revision found is of the document asked for; its attachment bodies read back whole
// from the spool. The JSON-array decoder of the non-streamed fetch (remote_answers.h) takes the same
// bytes too.
#include <vector>

#include "asked.h"
#include "fuzz_util.h"
#include "replicator/open_revs_reader.h"
#include "replicator/remote_answers.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [contentType, rest] = fuzz::splitLine(fuzz::asText(data, size));
  auto [askedLine, body] = fuzz::splitLine(rest);
  auto askedList = fuzz::askedRevs(askedLine);
  repl::MissingRevs asked = askedList.empty() ? repl::MissingRevs{"doc", {"1-a"}, {}, 0} : askedList.front();
  (void)repl::decodeOpenRevs(std::string(body), asked, "GET open_revs");

  auto spool = repl::Spool::create();
  FUZZ_CHECK(spool);
  repl::OpenRevsReader reader(asked, *spool, "GET open_revs", 1 << 20);
  http::ResponseHead head;
  head.status = 200;
  head.headers.emplace_back("Content-Type", std::string(contentType));
  reader.headers(head);
  uint32_t state = static_cast<uint32_t>(size) * 2654435761u;
  for (size_t at = 0; at < body.size();) {
    state = state * 1103515245u + 12345u;
    size_t n = std::min<size_t>(1 + (state >> 16) % 257, body.size() - at);
    if (!reader.data(body.substr(at, n))) break;
    at += n;
  }
  auto revs = reader.finish();
  if (!revs) return 0;
  std::vector<char> buf;
  for (const auto& rev : *revs) {
    FUZZ_CHECK(rev.id == asked.id);
    for (const auto& att : rev.bodies) {
      if (!att.source) continue;
      buf.resize(att.source->size());
      for (size_t at = 0; at < buf.size();) {
        auto got = att.source->read(at, buf.data() + at, buf.size() - at);
        FUZZ_CHECK(got && *got > 0);
        at += *got;
      }
    }
  }
  return 0;
}
