// capi_bench_cpp — the twin of capi_bench.c: the same work through settee::Database (the C++ API), so
// tools/bench/capi_bench.sh can state the C API's cost as a ratio measured in one run.
//
//   build/capi_bench_cpp [N=100000] [DIR=a new temp dir]
//
// Same documents byte for byte, same operations, same output lines ("<operation> <rate> <unit>"). Where
// the two APIs differ, each does what an app of its language does:
// - bulk: the C app makes one {"docs":[...]} text per batch; the C++ app passes the documents' texts.
// - all_docs / changes: the C cursor hands out each row as CouchDB's JSON; the C++ callback gets structs
//   (AllDocsRow with the document's text; Change without the document, as the C cursor's rows).
// - attachment write: the C writer spools its pieces to a file, read back at commit; the C++ app gives
//   put() a ByteSource that makes each 64 KB piece when the store asks for it (the C++ API's way to stream
//   bytes in), so the C figure includes the spool.
// - attachment read: the C++ API has no piece reader (Database::getAttachment loads the whole body), so
//   the twin reads 64 KB pieces from the Store as the C reader does (db/database_internal.h), keeping the
//   memory of both runs comparable.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "db/database_internal.h"
#include "db/store.h"
#include "settee/database.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 500;
constexpr size_t kPiece = 64 * 1024;
constexpr size_t kAttachmentBytes = size_t{64} * 1024 * 1024;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "capi_bench_cpp: %s\n", what.c_str());
  std::exit(1);
}

void check(const settee::Status& st, const char* what) {
  if (!st) fail(std::string(what) + ": " + st.reason());
}

// The pool and the document are capi_bench.c's, byte for byte.
const std::string& pool() {
  static const std::string text = [] {
    std::string t;
    uint32_t x = 2654435761u;
    while (t.size() < 4096) {
      x = x * 1103515245u + 12345u;
      t.push_back(static_cast<char>('a' + (x >> 16) % 26));
      if ((x >> 8) % 7 == 0) t.push_back(' ');
    }
    return t;
  }();
  return text;
}

std::string makeDoc(const char* prefix, int i) {
  char head[160];
  std::snprintf(
      head, sizeof head,
      R"({"_id":"%s-%08d","type":"reading","sensor":"%d","value":%d.25,"ok":true,"tags":["a","b","c"],"note":")",
      prefix, i, i % 97, (i * 37) % 1000);
  std::string doc;
  doc.reserve(1100);
  doc += head;
  doc.append(pool(), static_cast<size_t>(i * 7) % 3000, 820);
  doc += "\"}";
  return doc;
}

void report(const char* operation, double count, Clock::time_point start, const char* unit) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%s %.1f %s\n", operation, count / seconds, unit);
  std::fflush(stdout);
}

unsigned char patternByte(size_t i) { return static_cast<unsigned char>((i * 2654435761u) >> 13); }

// The attachment's bytes, made a piece at a time as the store reads them (never held whole).
class PatternSource : public settee::ByteSource {
 public:
  uint64_t size() const override { return kAttachmentBytes; }
  settee::Result<size_t> read(uint64_t offset, char* buf, size_t n) const override {
    if (offset >= kAttachmentBytes) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, kAttachmentBytes - offset));
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>(patternByte(offset + i));
    return n;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  char dirBuffer[] = "/tmp/capi_bench_XXXXXX";
  const char* dir = argc > 2 ? argv[2] : ::mkdtemp(dirBuffer);
  if (n <= 0 || !dir) fail("usage: capi_bench_cpp [N>0] [DIR]");

  settee::DataDir data(dir);
  auto opened = data.create("bench");
  if (!opened) fail("create: " + opened.status().reason());
  settee::Database& db = **opened;

  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) check(db.put(makeDoc("p", i)).status(), "put");
  report("put", n, t0, "docs/s");

  t0 = Clock::now();
  std::vector<std::string> texts;
  std::vector<std::string_view> views;
  for (int first = 0; first < n; first += kBatch) {
    texts.clear();
    for (int i = first; i < first + kBatch && i < n; ++i) texts.push_back(makeDoc("b", i));
    views.assign(texts.begin(), texts.end());
    for (const settee::DocResult& r : db.bulkDocs(views)) check(r.status, "bulk");
  }
  report("bulk", n, t0, "docs/s");

  t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "p-%08d", i);
    check(db.get(id).status(), "get");
  }
  report("get", n, t0, "docs/s");

  size_t rows = 0, bytes = 0;
  t0 = Clock::now();
  settee::AllDocsOptions all;
  all.includeDocs = true;
  check(db.allDocs(all,
                   [&](const settee::AllDocsRow& row) {
                     ++rows;
                     bytes += row.doc.size();
                     return true;
                   })
            .status(),
        "all_docs");
  report("all_docs", static_cast<double>(rows), t0, "docs/s");
  if (rows != size_t(n) * 2) fail("all_docs did not answer every document");

  rows = 0;
  t0 = Clock::now();
  check(db.changes({},
                   [&](const settee::Change& change) {
                     ++rows;
                     bytes += change.id.size();
                     return true;
                   })
            .status(),
        "changes");
  report("changes", static_cast<double>(rows), t0, "docs/s");
  if (rows != size_t(n) * 2) fail("changes did not answer every document");

  t0 = Clock::now();
  std::vector<settee::AttachmentBody> bodies;
  bodies.push_back({"data.bin", {}, std::make_shared<PatternSource>()});
  check(db.put(R"({"_attachments":{"data.bin":{"content_type":"application/octet-stream","follows":true}}})",
               {.id = "blob"}, std::move(bodies))
            .status(),
        "attachment write");
  report("attachment_write", kAttachmentBytes / 1048576.0, t0, "MB/s");

  t0 = Clock::now();
  settee::ReadOptions read;
  read.attachments = true;
  std::vector<settee::Attachment> atts;
  settee::db::Store& store = settee::db::storeOf(db);
  check(store.get("blob", read, &atts, settee::db::Store::FollowMode::Reference).status(), "attachment open");
  if (atts.size() != 1) fail("the attachment is missing");
  std::vector<char> piece(kPiece);
  size_t total = 0;
  for (;;) {
    auto got = store.readAttachment(atts[0].digest, total, piece.data(), kPiece);
    check(got.status(), "attachment read");
    if (*got == 0) break;
    if (static_cast<unsigned char>(piece[*got - 1]) != patternByte(total + *got - 1))
      fail("the attachment's bytes differ");
    total += *got;
  }
  report("attachment_read", kAttachmentBytes / 1048576.0, t0, "MB/s");
  if (total != kAttachmentBytes) fail("the attachment's length differs");
  return 0;
}
