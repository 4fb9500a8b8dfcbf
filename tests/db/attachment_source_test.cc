// Attachment bodies written from a ByteSource in pieces and read back in pieces (Store::readAttachment).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>

#include "db/crypto.h"
#include "db/database_internal.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;

namespace {

// Deterministic bytes from their offset; counts reads. `failAt` makes a read at or past it fail;
// `shortBy` makes the source end that many bytes before size() says; `flip` changes the bytes after
// the first full pass (a source that changes while it is used).
class GenSource : public ByteSource {
 public:
  explicit GenSource(uint64_t size, uint8_t seed = 7) : size_(size), seed_(seed) {}
  uint64_t size() const override { return size_; }
  Result<size_t> read(uint64_t offset, char* buf, size_t n) const override {
    ++reads;
    if (offset >= failAt) return Status(ErrorCode::Internal, "disk on fire");
    const uint64_t end = size_ - shortBy;
    if (offset >= end) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, end - offset));
    const uint8_t salt = flip && passes > 0 ? 1 : 0;
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>(byteAt(offset + i) ^ salt);
    if (offset + n == end) ++passes;
    return n;
  }
  uint8_t byteAt(uint64_t at) const { return static_cast<uint8_t>((at * 2654435761u >> 13) + seed_); }
  std::string all() const {
    std::string s(size_, '\0');
    for (uint64_t i = 0; i < size_; ++i) s[i] = static_cast<char>(byteAt(i));
    return s;
  }
  mutable std::atomic<int> reads{0};
  mutable std::atomic<int> passes{0};
  uint64_t failAt = UINT64_MAX;
  uint64_t shortBy = 0;
  bool flip = false;

 private:
  uint64_t size_;
  uint8_t seed_;
};

std::string docWithFollows(const std::string& id, uint64_t length, const std::string& rev = {}) {
  std::string revPart = rev.empty() ? "" : R"("_rev":")" + rev + R"(",)";
  return R"({"_id":")" + id + R"(",)" + revPart + R"("_attachments":{"big.bin":{"content_type":"application/octet-stream","follows":true,"length":)" +
         std::to_string(length) + "}}}";
}

std::vector<AttachmentBody> body(std::shared_ptr<const ByteSource> source) {
  return {AttachmentBody{"big.bin", {}, std::move(source)}};
}

std::string readAll(db::Store& store, const std::string& digest, size_t piece) {
  std::string out, buf(piece, '\0');
  for (;;) {
    auto got = store.readAttachment(digest, out.size(), buf.data(), buf.size());
    REQUIRE(got);
    if (*got == 0) return out;
    REQUIRE(*got <= piece);
    out.append(buf.data(), *got);
  }
}

}  // namespace

TEST_CASE("Store: an attachment from a ByteSource is stored in pieces and reads back equal", "[db][attachments]") {
  test::TempDir dir;
  auto db = Database::open(dir.file("a.db"), "a");
  REQUIRE(db);
  const uint64_t size = 5 * 1024 * 1024 + 123;  // not a multiple of any piece size
  auto source = std::make_shared<GenSource>(size);
  auto put = (*db)->put(docWithFollows("doc", size), {}, body(source));
  REQUIRE(put);
  auto att = (*db)->getAttachment("doc", "big.bin");
  REQUIRE(att);
  const std::string expected = source->all();
  CHECK(att->length == size);
  CHECK(att->storedLength == size);
  CHECK(att->digest == db::md5Digest(expected));
  CHECK(att->data == expected);
  // Read back in pieces, through the same digest, as a replicator copying it out would.
  CHECK(readAll(db::storeOf(**db), att->digest, 100000) == expected);
  // Two passes: one for the digest, one for the bytes; never the whole body in one read.
  CHECK(source->passes == 2);

  SECTION("the same bytes again are not written again: one pass, for the digest") {
    auto again = std::make_shared<GenSource>(size);
    REQUIRE((*db)->put(docWithFollows("doc2", size), {}, body(again)));
    CHECK(again->passes == 1);
    auto att2 = (*db)->getAttachment("doc2", "big.bin");
    REQUIRE(att2);
    CHECK(att2->digest == att->digest);
    CHECK(att2->data == expected);
  }
  SECTION("a reference read gives the digest and length without the bytes") {
    ReadOptions o;
    o.attachments = true;
    std::vector<Attachment> follows;
    auto json = db::storeOf(**db).get("doc", o, &follows, db::Store::FollowMode::Reference);
    REQUIRE(json);
    CHECK(json->find("\"follows\":true") != std::string::npos);
    REQUIRE(follows.size() == 1);
    CHECK(follows[0].data.empty());
    CHECK(follows[0].storedLength == size);
    CHECK(follows[0].digest == att->digest);
  }
  SECTION("reading past the end gives nothing; an unknown digest is not_found") {
    char buf[16];
    auto past = db::storeOf(**db).readAttachment(att->digest, size, buf, sizeof buf);
    REQUIRE(past);
    CHECK(*past == 0);
    auto gone = db::storeOf(**db).readAttachment("md5-nope", 0, buf, sizeof buf);
    REQUIRE_FALSE(gone);
    CHECK(gone.status().code() == ErrorCode::NotFound);
  }
}

TEST_CASE("Store: a ByteSource that fails, ends early or changes stores nothing", "[db][attachments]") {
  test::TempDir dir;
  auto db = Database::open(dir.file("a.db"), "a");
  REQUIRE(db);
  const uint64_t size = 3 * 1024 * 1024;
  auto good = std::make_shared<GenSource>(size);
  const std::string digest = db::md5Digest(good->all());

  SECTION("a read error half way through the digest pass") {
    auto bad = std::make_shared<GenSource>(size);
    bad->failAt = size / 2;
    auto put = (*db)->put(docWithFollows("doc", size), {}, body(bad));
    REQUIRE_FALSE(put);
  }
  SECTION("a read error half way through the copy pass: the half-written row is dropped") {
    // Fails on the second pass only: the first pass reads up to the end once.
    class SecondPassFails : public GenSource {
     public:
      using GenSource::GenSource;
      Result<size_t> read(uint64_t offset, char* buf, size_t n) const override {
        if (passes > 0 && offset >= size() / 2) return Status(ErrorCode::Internal, "disk on fire");
        return GenSource::read(offset, buf, n);
      }
    };
    auto bad = std::make_shared<SecondPassFails>(size);
    REQUIRE_FALSE((*db)->put(docWithFollows("doc", size), {}, body(bad)));
  }
  SECTION("a source shorter than its size") {
    auto bad = std::make_shared<GenSource>(size);
    bad->shortBy = 10;
    auto put = (*db)->put(docWithFollows("doc", size), {}, body(bad));
    REQUIRE_FALSE(put);
    CHECK(put.status().code() == ErrorCode::BadRequest);
  }
  SECTION("a source whose bytes change between the passes") {
    auto bad = std::make_shared<GenSource>(size);
    bad->flip = true;
    REQUIRE_FALSE((*db)->put(docWithFollows("doc", size), {}, body(bad)));
  }
  // Nothing was written: no document, no attachment under the good bytes' digest...
  CHECK_FALSE((*db)->get("doc"));
  char buf[8];
  auto row = db::storeOf(**db).readAttachment(digest, 0, buf, sizeof buf);
  CHECK_FALSE(row);
  // ...and the same bytes from a good source are stored whole, not skipped as already present.
  REQUIRE((*db)->put(docWithFollows("doc", size), {}, body(good)));
  auto att = (*db)->getAttachment("doc", "big.bin");
  REQUIRE(att);
  CHECK(att->digest == digest);
  CHECK(att->data == good->all());
}
