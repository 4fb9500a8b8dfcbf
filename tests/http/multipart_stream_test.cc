#include "http/multipart_stream.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "http/multipart.h"
#include "http/multipart_test_support.h"

using settee::ErrorCode;
using settee::Status;
using settee::http::boundaryOf;
using settee::http::findHeader;
using settee::http::HeaderList;
using settee::http::MultipartHandler;
using settee::http::MultipartStreamParser;
using settee::http::MultipartWriter;
using settee::http::parseMultipart;
using settee::http::randomBoundary;
using settee::test::CouchOpenRevsAnswer;
using settee::test::malformedBodies;
using settee::test::MalformedBody;

namespace {

struct ReadPart {
  HeaderList headers;
  std::string body;
  bool operator==(const ReadPart& other) const { return headers == other.headers && body == other.body; }
};

// What a parser reported, with any breach of the event order (data or end outside a part, empty data).
struct Recording {
  std::vector<ReadPart> parts;
  bool open = false;
  int orderErrors = 0;
};

MultipartHandler recorder(Recording& r) {
  return MultipartHandler{
      [&r](const HeaderList& headers) {
        if (r.open) ++r.orderErrors;
        r.open = true;
        r.parts.push_back(ReadPart{headers, {}});
        return Status::ok();
      },
      [&r](std::string_view bytes) {
        if (!r.open || bytes.empty()) ++r.orderErrors;
        if (!r.parts.empty()) r.parts.back().body += bytes;
        return Status::ok();
      },
      [&r]() {
        if (!r.open) ++r.orderErrors;
        r.open = false;
        return Status::ok();
      },
  };
}

struct StreamOutcome {
  Recording recording;
  Status status;  // the first error of feed() or finish()
  bool done = false;
};

// Feeds `body` cut at the (ascending) offsets in `cuts`, then finishes.
StreamOutcome streamParse(std::string_view body, const std::string& boundary, const std::vector<size_t>& cuts,
                          size_t maxHeaderBytes = 64 * 1024) {
  StreamOutcome out;
  MultipartStreamParser parser(boundary, recorder(out.recording), maxHeaderBytes);
  size_t from = 0;
  auto feed = [&](size_t to) {
    if (out.status.isOk()) out.status = parser.feed(body.substr(from, to - from));
    from = to;
  };
  for (size_t cut : cuts) feed(cut);
  feed(body.size());
  if (out.status.isOk()) out.status = parser.finish();
  out.done = parser.done();
  return out;
}

std::vector<ReadPart> wholeParse(std::string_view body, std::string_view boundary) {
  auto parts = parseMultipart(body, boundary);
  REQUIRE(parts.isOk());
  std::vector<ReadPart> out;
  for (const auto& p : *parts) out.push_back(ReadPart{p.headers, std::string(p.body)});
  return out;
}

// Checks that every way of cutting `body` gives the parts parseMultipart() finds in it whole.
void checkEverySplit(const std::string& body, const std::string& boundary) {
  INFO("body: " << body.substr(0, 200));
  const std::vector<ReadPart> expected = wholeParse(body, boundary);
  auto same = [&](const StreamOutcome& got) {
    return got.status.isOk() && got.done && got.recording.orderErrors == 0 && !got.recording.open &&
           got.recording.parts == expected;
  };
  auto whole = streamParse(body, boundary, {});
  INFO("whole body: " << whole.status.reason());
  CHECK(same(whole));

  size_t failedCut = SIZE_MAX;
  for (size_t cut = 0; cut <= body.size() && failedCut == SIZE_MAX; ++cut) {
    if (!same(streamParse(body, boundary, {cut}))) failedCut = cut;
  }
  CHECK(failedCut == SIZE_MAX);

  std::vector<size_t> bytewise;
  for (size_t i = 1; i < body.size(); ++i) bytewise.push_back(i);
  CHECK(same(streamParse(body, boundary, bytewise)));

  std::mt19937 rng(7);
  int failedRandom = 0;
  for (int round = 0; round < 50; ++round) {
    std::vector<size_t> cuts;
    for (size_t at = 0; at < body.size(); at += 1 + rng() % 40) cuts.push_back(at);
    if (!same(streamParse(body, boundary, cuts))) ++failedRandom;
  }
  CHECK(failedRandom == 0);
}

std::string pseudoRandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

// Bodies written by MultipartWriter: parts that look like framing but are not, empty ones, and parts whose
// Content-Length lets them hold the delimiter itself.
std::string writtenBody(const std::string& boundary) {
  MultipartWriter w(boundary);
  std::string out;
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  const std::string dash = "--" + boundary;
  std::string tricky = "line\r\n--\r\n-\r\n" + dash + "x\r\n" + dash + "-\r\n" + dash + " \tx\r\n" +
                       dash.substr(0, dash.size() - 1) + "\r\n\r\n-\r";
  std::string holdsDelimiter = "a\r\n" + dash + "\r\nb\r\n" + dash + "--\r\n";
  w.addPart({{"Content-Type", "application/json"}}, R"({"_id":"d"})", out);
  w.addPart({{"Content-Type", "application/octet-stream"}}, binary, out);
  w.addPart({{"Content-Type", "text/plain"}}, tricky, out);
  w.addPart({}, "", out);
  w.addPart({{"X-Empty", ""}}, "\r\n", out);
  w.addPart({{"X-Ends", "cr"}}, "ab\r\r", out);
  w.addPart({{"X-Only", "lf"}}, "\n", out);
  w.addPart({{"Content-Length", std::to_string(holdsDelimiter.size())}}, holdsDelimiter, out);
  w.addPart({{"Content-Length", "0"}}, "", out);
  w.addPart({{"content-length", "3"}, {"X-After", "1"}}, "\r\n-", out);
  w.addPart({{"Content-Type", "application/octet-stream"}}, pseudoRandomBytes(300, 1), out);
  w.finish(out);
  return out;
}

}  // namespace

TEST_CASE("MultipartStream: written bodies give the parts parseMultipart finds, however they are cut",
          "[http][multipart]") {
  checkEverySplit(writtenBody("B"), "B");
  const std::string random = randomBoundary();
  checkEverySplit(writtenBody(random), random);
}

TEST_CASE("MultipartStream: preamble, epilogue, padding, LF-only lines and bare parts, however cut",
          "[http][multipart]") {
  const std::vector<std::string> bodies = {
      "This is a preamble.\r\n--B  \t\r\nContent-Type: text/plain\r\nX-Long: one\r\n  two\r\n\r\nhello"
      "\r\n--B\r\n\r\nworld\r\n--B--\r\nThis is an epilogue.\r\n--B\r\n\r\nignored",
      "--B\r\n\r\n--B\r\nX-A: 1\r\n--B\r\nX-B: 2\r\n\r\n\r\n--B--",
      "--B\nContent-Type: a/b\n\nfirst\n--B\n\nsecond\n--B--\n",
      "--B\nContent-Length: 5\n\nab\n--\n--B\nContent-Length: 0\n\n\n--B\nContent-Length: 0\n\n--B--",
      "--B\r\nContent-Length: 0\r\n\r\n--B\r\n\r\nx\r\n--B--",
      "--Bx\r\n\n--B-\r\n--B \r\n\r\n--B\r\nX: y\r\n\r\nbody\r\n--B--epilogue\r\n--B\r\n",
      "\r\n--B\t \t\n\r\n\r\nx\r\n--B \r\nX-Y:z\r\n\r\n--B--",
      "--B\r\n\r\n\r\n--B\r\n\r\n\r\r\n--B\r\n\r\n\n--B--",
  };
  for (const auto& body : bodies) checkEverySplit(body, "B");
}

TEST_CASE("MultipartStream: CouchDB's open_revs answer with an attachment, however cut",
          "[http][multipart]") {
  const CouchOpenRevsAnswer answer;
  checkEverySplit(answer.body, answer.boundary);
}

TEST_CASE("MultipartStream: a nested multipart/related part is read by a second parser fed its data",
          "[http][multipart]") {
  // A CouchDB-shaped open_revs answer: a revision without attachments, one with a JSON document and two
  // attachments in a nested multipart/related part, and a missing revision.
  const std::string big = pseudoRandomBytes(1 << 20, 3) + "\r\n--inner\r\n";  // holds the inner delimiter
  const std::string small = "hello, world";
  const std::string docJson =
      R"({"_id":"a","_rev":"2-y","_attachments":{"big.bin":{"follows":true,"length":)" +
      std::to_string(big.size()) + R"(},"small.txt":{"follows":true,"length":12}}})";
  MultipartWriter inner("inner");
  std::string related;
  inner.addPart({{"Content-Type", "application/json"}}, docJson, related);
  inner.addPart({{"Content-Disposition", "attachment; filename=\"big.bin\""},
                 {"Content-Type", "application/octet-stream"},
                 {"Content-Length", std::to_string(big.size())}},
                big, related);
  inner.addPart({{"Content-Disposition", "attachment; filename=\"small.txt\""},
                 {"Content-Type", "text/plain"},
                 {"Content-Length", std::to_string(small.size())}},
                small, related);
  inner.finish(related);
  MultipartWriter outer(randomBoundary());
  std::string mixed;
  outer.addPart({{"Content-Type", "application/json"}}, R"({"_id":"a","_rev":"1-x"})", mixed);
  outer.addPart({{"Content-Type", inner.contentType("related")}}, related, mixed);
  outer.addPart({{"Content-Type", "application/json; error=\"true\""}}, R"({"missing":"3-z"})", mixed);
  outer.finish(mixed);

  // What the replicator will keep of it: per revision its content type and JSON, and the attachments
  // (named by Content-Disposition) of a multipart/related one.
  struct Revision {
    std::string contentType;
    std::string json;
    std::vector<std::pair<std::string, std::string>> attachments;
  };
  for (size_t chunk : {size_t{1} << 16, size_t{4093}, size_t{17}}) {
    INFO("chunk size " << chunk);
    std::vector<Revision> revisions;
    std::unique_ptr<MultipartStreamParser> nested;
    bool nestedJsonSeen = false;
    MultipartHandler nestedHandler{
        [&](const HeaderList& headers) {
          if (!nestedJsonSeen) return Status::ok();  // the first part is the document
          const std::string* disposition = findHeader(headers, "content-disposition");
          revisions.back().attachments.emplace_back(disposition ? *disposition : "", "");
          return Status::ok();
        },
        [&](std::string_view bytes) {
          if (!nestedJsonSeen) {
            revisions.back().json += bytes;
          } else {
            revisions.back().attachments.back().second += bytes;
          }
          return Status::ok();
        },
        [&]() {
          nestedJsonSeen = true;
          return Status::ok();
        },
    };
    MultipartHandler handler{
        [&](const HeaderList& headers) {
          const std::string* type = findHeader(headers, "Content-Type");
          revisions.push_back(Revision{type ? *type : "", "", {}});
          if (type && type->rfind("multipart/related", 0) == 0) {
            auto boundary = boundaryOf(*type);
            if (!boundary) return settee::badRequest("multipart/related part without a boundary");
            nestedJsonSeen = false;
            nested = std::make_unique<MultipartStreamParser>(*boundary, nestedHandler);
          }
          return Status::ok();
        },
        [&](std::string_view bytes) {
          if (nested) return nested->feed(bytes);
          revisions.back().json += bytes;
          return Status::ok();
        },
        [&]() {
          if (!nested) return Status::ok();
          Status s = nested->finish();
          nested.reset();
          return s;
        },
    };
    MultipartStreamParser parser(outer.boundary(), handler);
    for (size_t at = 0; at < mixed.size(); at += chunk) {
      REQUIRE(parser.feed(std::string_view(mixed).substr(at, chunk)).isOk());
    }
    REQUIRE(parser.finish().isOk());

    REQUIRE(revisions.size() == 3);
    CHECK(revisions[0].contentType == "application/json");
    CHECK(revisions[0].json == R"({"_id":"a","_rev":"1-x"})");
    CHECK(revisions[0].attachments.empty());
    CHECK(revisions[1].contentType == R"(multipart/related; boundary="inner")");
    CHECK(revisions[1].json == docJson);
    REQUIRE(revisions[1].attachments.size() == 2);
    CHECK(revisions[1].attachments[0].first == "attachment; filename=\"big.bin\"");
    CHECK(revisions[1].attachments[0].second == big);
    CHECK(revisions[1].attachments[1].first == "attachment; filename=\"small.txt\"");
    CHECK(revisions[1].attachments[1].second == small);
    CHECK(revisions[2].contentType == "application/json; error=\"true\"");
    CHECK(revisions[2].json == R"({"missing":"3-z"})");
  }
}

TEST_CASE("MultipartStream: a body cut anywhere before its closing delimiter fails at finish",
          "[http][multipart]") {
  const std::string body = writtenBody("B");
  REQUIRE(streamParse(body, "B", {}).status.isOk());
  size_t wronglyAccepted = 0;
  size_t failedEarly = 0;
  for (size_t size = 0; size < body.size(); ++size) {
    Recording r;
    MultipartStreamParser parser("B", recorder(r));
    if (!parser.feed(std::string_view(body).substr(0, size)).isOk()) ++failedEarly;
    Status finished = parser.finish();
    if (finished.isOk() || finished.code() != ErrorCode::BadRequest || parser.done()) ++wronglyAccepted;
  }
  CHECK(failedEarly == 0);
  CHECK(wronglyAccepted == 0);

  Recording r;
  MultipartStreamParser parser("B", recorder(r));
  REQUIRE(parser.feed("--B\r\n\r\nbody\r\n--B-").isOk());
  Status s = parser.finish();
  CHECK(s.reason().find("truncated") != std::string::npos);
  CHECK(parser.finish().reason() == s.reason());  // stays failed
}

TEST_CASE("MultipartStream: malformed framing is bad_request and the parser stays failed",
          "[http][multipart]") {
  auto rejection = [](std::string_view body, size_t maxHeaderBytes = 64 * 1024) {
    auto got = streamParse(body, "B", {}, maxHeaderBytes);
    if (got.status.isOk()) return std::string("(accepted)");
    CHECK(got.status.code() == ErrorCode::BadRequest);
    CHECK_FALSE(got.done);
    return got.status.reason();
  };
  // No first delimiter (the whole body is a preamble), no parts, malformed header lines.
  for (const MalformedBody& m : malformedBodies()) {
    INFO(m.body);
    CHECK(rejection(m.body).find(m.reason) != std::string::npos);
  }
  // A Content-Length that the delimiter does not follow (parseMultipart would fall back to searching).
  CHECK(rejection("--B\r\nContent-Length: 2\r\n\r\nabcd\r\n--B--").find("not followed by the boundary") !=
        std::string::npos);
  CHECK(rejection("--B\r\nContent-Length: 2\r\n\r\nab--B--").find("not followed by the boundary") !=
        std::string::npos);
  CHECK(rejection("--B\r\nContent-Length: 2\r\n\r\nab\r\n--Bx").find("not followed by the boundary") !=
        std::string::npos);
  CHECK(rejection("--B\r\nContent-Length: 3\r\n--B--").find("has no body") != std::string::npos);
  CHECK(rejection("--B\r\nContent-Length: 2\r\n\r\nab\r\n--B--") == "(accepted)");
  // Transport padding is bounded.
  const std::string pad(MultipartStreamParser::kMaxPadding, ' ');
  CHECK(rejection("--B" + pad + "\r\n\r\nx\r\n--B--") == "(accepted)");
  CHECK(rejection("--B" + pad + " \r\n\r\nx\r\n--B--").find("blanks") != std::string::npos);
  CHECK(rejection("--B\r\n\r\nx\r\n--B" + pad + " ").find("blanks") != std::string::npos);
  CHECK(rejection("--B\r\n\r\nx\r\n--B--", 64) == "(accepted)");

  auto empty = streamParse("--B\r\n\r\nx\r\n--B--", "", {});
  CHECK(empty.status.reason().find("boundary is empty") != std::string::npos);

  Recording r;
  MultipartStreamParser parser("B", recorder(r));
  Status first = parser.feed("--B\r\nX-A: 1\r\nno colon\r\n\r\n");
  REQUIRE_FALSE(first.isOk());
  CHECK(parser.feed("\r\n--B--").reason() == first.reason());
  CHECK(parser.finish().reason() == first.reason());
  CHECK(r.parts.empty());
}

TEST_CASE("MultipartStream: a header block over maxHeaderBytes is rejected without holding more",
          "[http][multipart]") {
  // "--B\r\n" then the header block: "X: <value>\r\n" and the blank line "\r\n".
  auto bodyWithBlock = [](size_t blockSize) {
    return "--B\r\nX: " + std::string(blockSize - 7, 'v') + "\r\n\r\nbody\r\n--B--";
  };
  CHECK(streamParse(bodyWithBlock(100), "B", {}, 100).status.isOk());
  auto over = streamParse(bodyWithBlock(101), "B", {}, 100);
  CHECK(over.status.reason().find("headers are longer than 100 bytes") != std::string::npos);
  for (size_t blockSize : {100, 101}) {
    std::string body = bodyWithBlock(blockSize);
    std::vector<size_t> bytewise;
    for (size_t i = 1; i < body.size(); ++i) bytewise.push_back(i);
    CHECK(streamParse(body, "B", bytewise, 100).status.isOk() == (blockSize == 100));
  }

  // A header line that never ends fails as soon as it passes the limit; until then it is all the parser
  // holds.
  Recording r;
  MultipartStreamParser parser("B", recorder(r), 1000);
  REQUIRE(parser.feed("--B\r\nX: ").isOk());
  Status s;
  size_t fed = 0;
  while (s.isOk() && fed < 5000) {
    s = parser.feed("v");
    ++fed;
    CHECK(parser.buffered() <= 1000);
  }
  CHECK(s.reason().find("headers are longer than 1000 bytes") != std::string::npos);
  CHECK(fed == 1000 - 3 + 1);
}

TEST_CASE("MultipartStream: a handler's error stops the parse and is returned", "[http][multipart]") {
  const std::string body = writtenBody("B");
  for (int failing = 0; failing < 3; ++failing) {
    INFO("failing handler " << failing);
    int begins = 0;
    int dataCalls = 0;
    int ends = 0;
    MultipartHandler handler{
        [&](const HeaderList&) {
          ++begins;
          return failing == 0 && begins == 2 ? Status(ErrorCode::TooLarge, "no more parts") : Status::ok();
        },
        [&](std::string_view) {
          ++dataCalls;
          return failing == 1 && begins == 2 ? Status(ErrorCode::TooLarge, "no more data") : Status::ok();
        },
        [&]() {
          ++ends;
          return failing == 2 && ends == 2 ? Status(ErrorCode::TooLarge, "no more ends") : Status::ok();
        },
    };
    MultipartStreamParser parser("B", handler);
    Status s = parser.feed(body);
    CHECK(s.code() == ErrorCode::TooLarge);
    CHECK(begins == 2);
    CHECK(ends == (failing == 2 ? 2 : 1));
    int callsAtFailure = begins + dataCalls + ends;
    CHECK(parser.feed(body).reason() == s.reason());
    CHECK(parser.finish().reason() == s.reason());
    CHECK(begins + dataCalls + ends == callsAtFailure);
    CHECK_FALSE(parser.done());
  }
}

TEST_CASE("MultipartStream: a 20 MB part fed in 64 KB chunks is passed on without being held",
          "[http][multipart]") {
  const std::string boundary = randomBoundary();
  const std::string dash = "--" + boundary;
  const size_t kChunk = 64 * 1024;
  for (bool sized : {false, true}) {
    INFO((sized ? "with" : "without") << " Content-Length");
    std::string data = pseudoRandomBytes(20 << 20, 11);
    MultipartWriter w(boundary);
    std::string body;
    HeaderList headers{{"Content-Type", "application/octet-stream"}};
    if (sized) headers.emplace_back("Content-Length", std::to_string(data.size()));
    w.beginPart(headers, body);
    const size_t dataStart = body.size();
    // Near-delimiters straddling chunk edges at every offset, so pieces of them must be held.
    for (size_t edge = 2 * kChunk, n = 0; edge + kChunk < dataStart + data.size(); edge += 3 * kChunk, ++n) {
      std::string fake = "\r\n" + dash + (n % 2 ? "x" : " \t-");
      size_t at = edge - dataStart - n % fake.size();
      data.replace(at, fake.size(), fake);
    }
    body += data;
    w.finish(body);

    std::string received;
    Recording unused;
    MultipartHandler handler = recorder(unused);
    handler.onPartData = [&](std::string_view bytes) {
      received += bytes;
      return Status::ok();
    };
    MultipartStreamParser parser(boundary, handler);
    // At most a candidate delimiter: CR LF, "--boundary", the padding and a CR.
    const size_t bound = 2 + dash.size() + MultipartStreamParser::kMaxPadding + 1;
    size_t maxHeld = 0;
    size_t lagging = 0;  // feeds after which bytes fed were neither passed on nor held
    for (size_t at = 0; at < body.size(); at += kChunk) {
      REQUIRE(parser.feed(std::string_view(body).substr(at, kChunk)).isOk());
      maxHeld = std::max(maxHeld, parser.buffered());
      size_t fedData = std::min(at + kChunk, dataStart + data.size()) - dataStart;
      if (at + kChunk > dataStart && received.size() + parser.buffered() < fedData) ++lagging;
    }
    REQUIRE(parser.finish().isOk());
    if (!sized) CHECK(maxHeld > 0);  // the planted pieces were held
    CHECK(maxHeld <= bound);
    CHECK(lagging == 0);
    CHECK(received.size() == data.size());
    CHECK(received == data);
  }
}

TEST_CASE("MultipartStream: throughput of a 50 MB body fed in 64 KB chunks", "[.bench]") {
  const std::string boundary = randomBoundary();
  const size_t kPart = 10 << 20;
  for (bool text : {false, true}) {
    std::string data = pseudoRandomBytes(kPart, 5);
    if (text) {
      // Lines of 80 characters: a line feed every 81 bytes, each a delimiter candidate to check.
      for (size_t i = 0; i < data.size(); ++i)
        data[i] = (i % 81 == 80) ? '\n' : static_cast<char>('a' + i % 26);
    }
    for (bool sized : {false, true}) {
      MultipartWriter w(boundary);
      std::string body;
      for (int i = 0; i < 5; ++i) {
        HeaderList headers{{"Content-Type", "application/octet-stream"}};
        if (sized) headers.emplace_back("Content-Length", std::to_string(data.size()));
        w.addPart(headers, data, body);
      }
      w.finish(body);
      size_t received = 0;
      MultipartHandler handler{nullptr,
                               [&](std::string_view bytes) {
                                 received += bytes.size();
                                 return Status::ok();
                               },
                               nullptr};
      double best = 0;
      for (int round = 0; round < 5; ++round) {
        received = 0;
        auto start = std::chrono::steady_clock::now();
        MultipartStreamParser parser(boundary, handler);
        for (size_t at = 0; at < body.size(); at += 64 * 1024) {
          REQUIRE(parser.feed(std::string_view(body).substr(at, 64 * 1024)).isOk());
        }
        REQUIRE(parser.finish().isOk());
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        best = std::max(best, static_cast<double>(body.size()) / seconds / 1e6);
      }
      CHECK(received == 5 * data.size());
      std::cout << "multipart stream: " << (text ? "text lines" : "random bytes") << ", "
                << (sized ? "Content-Length" : "delimiter search") << ": " << static_cast<int>(best)
                << " MB/s\n";
    }
  }
}
