// Streamed request bodies (ClientRequest::bodyReader): read piece by piece only as the socket takes them,
// against a live `settee serve`, the scripted raw server, and a peer that never reads.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "db/crypto.h"
#include "http/client.h"
#include "http/client_test_support.h"
#include "live_server.h"

using namespace settee::http;
using settee::test::dropsSecondRequest;
using settee::test::get;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::LoopbackListener;
using settee::test::okReply;
using settee::test::requestInTurn;
using settee::test::ScriptedServer;
using settee::test::TestLoop;

namespace {

using Reader = std::function<settee::Result<size_t>(uint64_t, char*, size_t)>;

// Byte `i` of a deterministic pseudo-random body, the same whatever offsets it is asked for at.
char bodyByte(uint64_t i) {
  uint64_t x = (i >> 3) + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<char>(x >> ((i & 7) * 8));
}

std::string bodyBytes(uint64_t offset, size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = bodyByte(offset + i);
  return out;
}

// How a reader was called.
struct ReaderLog {
  size_t calls = 0;
  size_t largestAsk = 0;
  size_t restarts = 0;     // calls at offset 0 after the first: the request was sent again
  bool contiguous = true;  // every other call started where the previous one ended
  uint64_t next = 0;       // where the next call should start
};

// A reader of bodyByte that hands out at most `most` bytes per call, and logs its calls in `log`.
Reader readerOf(ReaderLog& log, size_t most = SIZE_MAX) {
  return [&log, most](uint64_t offset, char* buf, size_t n) -> settee::Result<size_t> {
    if (log.calls++ > 0 && offset == 0) {
      ++log.restarts;
    } else if (offset != log.next) {
      log.contiguous = false;
    }
    log.largestAsk = std::max(log.largestAsk, n);
    size_t give = std::min(n, most);
    for (size_t i = 0; i < give; ++i) buf[i] = bodyByte(offset + i);
    log.next = offset + give;
    return give;
  };
}

std::string md5DigestOfBody(uint64_t size) {
  settee::db::Md5 md5;
  for (uint64_t at = 0; at < size; at += kBodyPieceSize) {
    md5.update(bodyBytes(at, static_cast<size_t>(std::min<uint64_t>(kBodyPieceSize, size - at))));
  }
  return md5.finishDigest();
}

ClientRequest putWithReader(const std::string& target, Reader reader, uint64_t length) {
  ClientRequest req = get(target);
  req.method = "PUT";
  req.headers = {{"Content-Type", "application/octet-stream"}};
  req.bodyReader = std::move(reader);
  req.bodyLength = length;
  return req;
}

}  // namespace

TEST_CASE("Client body: a 40 MB attachment from a reader is stored whole, read a piece at a time",
          "[http][client][timing]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  std::string base = "http://127.0.0.1:" + std::to_string(node.port());
  const uint64_t size = 40ull * 1024 * 1024;
  TestLoop loop;
  HttpClient client(&loop);
  ReaderLog log;
  ClientResponse stored;
  uint64_t readBack = 0;
  bool same = true, completed = false;
  StreamHandlers back;
  back.onData = [&](std::string_view chunk) {
    for (size_t i = 0; i < chunk.size() && same; ++i) same = chunk[i] == bodyByte(readBack + i);
    readBack += chunk.size();
  };
  back.onComplete = [&] {
    completed = true;
    client.close([] {});
  };
  ClientError readError;
  back.onError = [&](const ClientError& e) {
    readError = e;
    client.close([] {});
  };
  REQUIRE(client
              .request(putWithReader(base + "/db/doc/att", readerOf(log), size),
                       [&](ClientResponse r) {
                         stored = std::move(r);
                         if (!stored.ok() || stored.status != 201) {
                           client.close([] {});
                           return;
                         }
                         REQUIRE(client.stream(get(base + "/db/doc/att"), back).ok());
                       })
              .ok());
  loop.finish();

  INFO(stored.error.message << " " << stored.body << " " << readError.message);
  CHECK(stored.status == 201);
  CHECK(completed);
  CHECK(readBack == size);
  CHECK(same);
  // Asked in order, a piece at a time, never twice, and never ahead of the socket.
  CHECK(log.contiguous);
  CHECK(log.restarts == 0);
  CHECK(log.largestAsk == kBodyPieceSize);
  CHECK(log.calls == size / kBodyPieceSize);
  CHECK(log.next == size);
  CHECK(client.stats().maxQueuedWriteBytes > 0);
  CHECK(client.stats().maxQueuedWriteBytes <= 2 * kBodyPieceSize);

  Json doc(node("GET", "/db/doc").body);
  auto att = doc["_attachments"]["att"];
  CHECK(att["length"].get_uint64().value() == size);
  CHECK(std::string(att["digest"].get_string().value()) == md5DigestOfBody(size));
}

TEST_CASE(
    "Client body: a reader that fails half way ends the request with BodyReadFailed, and nothing is stored",
    "[http][client]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  std::string base = "http://127.0.0.1:" + std::to_string(node.port());
  const uint64_t size = 4ull * 1024 * 1024;
  TestLoop loop;
  HttpClient client(&loop);
  ReaderLog log;
  Reader good = readerOf(log);
  size_t callsAfterFailure = 0;
  bool failed = false;
  Reader failing = [&](uint64_t offset, char* buf, size_t n) -> settee::Result<size_t> {
    if (failed) ++callsAfterFailure;
    if (offset >= size / 2) {
      failed = true;
      return settee::Status(settee::ErrorCode::Internal, "disk on fire");
    }
    return good(offset, buf, n);
  };
  // The same client goes on after the failed PUT: its connection was closed, not pooled.
  std::vector<ClientRequest> requests;
  requests.push_back(putWithReader(base + "/db/doc/att", failing, size));
  requests.push_back(get(base + "/db/doc/att"));
  requests.push_back(get(base + "/_up"));
  std::vector<ClientResponse> got;
  requestInTurn(client, std::move(requests), &got, [&] { client.close([] {}); });
  loop.finish();
  REQUIRE(got.size() == 3);
  const ClientResponse& put = got[0];
  const ClientResponse& attachment = got[1];
  const ClientResponse& up = got[2];

  CHECK(put.error.code == ClientErrc::BodyReadFailed);
  CHECK(std::string(clientErrcName(put.error.code)) == "body_read_failed");
  INFO(put.error.message);
  CHECK(put.error.message.find("disk on fire") != std::string::npos);
  CHECK(put.error.message.find(std::to_string(size / 2)) != std::string::npos);  // the offset
  CHECK(failed);
  CHECK(callsAfterFailure == 0);
  CHECK(attachment.ok());
  CHECK(attachment.status == 404);
  CHECK(up.status == 200);
  CHECK(node("GET", "/db/doc").status == 404);
}

TEST_CASE("Client body: a zero-length streamed body is sent as Content-Length: 0 without calling the reader",
          "[http][client]") {
  TestLoop loop;
  std::vector<std::string> heads;
  ScriptedServer server(&loop, [&](int, int, const std::string& head) -> ScriptedServer::Reply {
    heads.push_back(head);
    return {okReply("ok")};
  });
  HttpClient client(&loop);
  bool called = false, readerCalled = false;
  Reader reader = [&](uint64_t, char*, size_t) -> settee::Result<size_t> {
    readerCalled = true;
    return size_t{0};
  };
  // A reader and a body string together are refused, without a callback.
  ClientRequest both = putWithReader(server.url("/both"), reader, 2);
  both.body = "xx";
  CHECK(client.request(std::move(both), [&](ClientResponse) { called = true; }).code ==
        ClientErrc::InvalidRequest);

  ClientResponse got;
  ClientRequest empty = putWithReader(server.url("/empty"), reader, 0);
  empty.headers.emplace_back("Content-Length", "987654321");  // the client owns the framing
  REQUIRE(client
              .request(std::move(empty),
                       [&](ClientResponse r) {
                         got = std::move(r);
                         client.close([] {});
                         server.close();
                       })
              .ok());
  loop.finish();
  CHECK_FALSE(called);
  CHECK_FALSE(readerCalled);
  CHECK(got.ok());
  CHECK(got.body == "ok");
  REQUIRE(heads.size() == 1);
  CHECK(heads[0].find("PUT /empty HTTP/1.1\r\n") == 0);
  CHECK(heads[0].find("\r\nContent-Length: 0") != std::string::npos);
  CHECK(heads[0].find("987654321") == std::string::npos);
  REQUIRE(server.bodies().size() == 1);
  CHECK(server.bodies()[0].empty());
}

TEST_CASE("Client body: short reads are continued; a reader that runs dry or overfills fails, never hangs",
          "[http][client]") {
  TestLoop loop;
  // Answers only once the whole Content-Length has arrived: a body cut short would wait forever.
  ScriptedServer server(
      &loop, [](int, int, const std::string&) -> ScriptedServer::Reply { return {okReply("got it")}; });
  HttpClient client(&loop);
  const uint64_t size = 300000;
  ReaderLog shortLog;
  Reader shortReads = readerOf(shortLog, 1000);  // hands out 1000 bytes whatever it is asked for
  ReaderLog dryLog;
  Reader good = readerOf(dryLog);
  Reader dry = [&](uint64_t offset, char* buf, size_t n) -> settee::Result<size_t> {
    if (offset >= size / 3) return size_t{0};  // the file was shorter than its announced length
    return good(offset, buf, std::min<size_t>(n, size / 3 - offset));
  };
  Reader overfill = [](uint64_t, char*, size_t n) -> settee::Result<size_t> { return n + 1; };
  std::vector<ClientResponse> got;
  std::vector<Reader> readers = {shortReads, dry, overfill};
  std::function<void(size_t)> step = [&](size_t i) {
    REQUIRE(client
                .request(putWithReader(server.url("/" + std::to_string(i)), readers[i], size),
                         [&, i](ClientResponse r) {
                           got.push_back(std::move(r));
                           if (i + 1 < readers.size()) {
                             step(i + 1);
                           } else {
                             client.close([] {});
                             server.close();
                           }
                         })
                .ok());
  };
  step(0);
  loop.finish();
  REQUIRE(got.size() == 3);
  CHECK(got[0].ok());
  CHECK(got[0].body == "got it");
  CHECK(shortLog.contiguous);
  CHECK(shortLog.calls == (size + 999) / 1000);
  REQUIRE_FALSE(server.bodies().empty());
  CHECK(server.bodies()[0] == bodyBytes(0, size));
  CHECK(got[1].error.code == ClientErrc::BodyReadFailed);
  CHECK(dryLog.next == size / 3);
  CHECK(got[2].error.code == ClientErrc::BodyReadFailed);
  CHECK(server.bodies().size() == 1);  // neither cut body was taken for a whole request
}

TEST_CASE("Client body: a streamed PUT retried on a fresh connection reads its body again from offset 0",
          "[http][client]") {
  TestLoop loop;
  ScriptedServer server(&loop,
                        dropsSecondRequest([](int connection) { return "c" + std::to_string(connection); }));
  HttpClient client(&loop);
  const uint64_t size = 5 * kBodyPieceSize + 123;
  ReaderLog log;
  std::vector<ClientResponse> got;
  std::vector<ClientRequest> requests;
  requests.push_back(get(server.url("/a")));
  requests.push_back(putWithReader(server.url("/b"), readerOf(log), size));
  requestInTurn(client, std::move(requests), &got, [&] {
    client.close([] {});
    server.close();
  });
  loop.finish();
  REQUIRE(got.size() == 2);
  CHECK(got[1].ok());
  CHECK(got[1].body == "c1");
  CHECK(client.stats().connectionsOpened == 2);
  CHECK(log.restarts == 1);
  CHECK(log.contiguous);
  CHECK(log.calls == 2 * 6);
  REQUIRE(server.bodies().size() == 3);
  CHECK(server.bodies()[1] == bodyBytes(0, size));  // what the dropped connection had received
  CHECK(server.bodies()[2] == bodyBytes(0, size));  // the retry, whole again
}

TEST_CASE("Client body: a peer that stops reading gets a ReadTimeout, and the reader never runs ahead of it",
          "[http][client]") {
  LoopbackListener peer;  // nobody accepts: the kernel buffers what arrives until full, never answers
  TestLoop loop;
  HttpClient client(&loop);
  const uint64_t size = 64ull * 1024 * 1024;
  ReaderLog log;
  ClientResponse got;
  uint64_t started = uv_now(&loop), took = 0;
  ClientRequest req = putWithReader(peer.url("/db/doc/att"), readerOf(log), size);
  req.readTimeoutMs = 300;
  REQUIRE(client
              .request(std::move(req),
                       [&](ClientResponse r) {
                         got = std::move(r);
                         took = uv_now(&loop) - started;
                         client.close([] {});
                       })
              .ok());
  loop.finish();
  CHECK(got.error.code == ClientErrc::ReadTimeout);
  CHECK(took >= 290);
  CHECK(took < 10000);
  // Only what the kernel's socket buffers took was read, a few MB at most: not the body.
  CHECK(log.next > 0);
  CHECK(log.next < size / 4);
  CHECK(log.contiguous);
  CHECK(client.stats().maxQueuedWriteBytes <= 2 * kBodyPieceSize);
}

TEST_CASE("Client body: a reader that cancels its own request is not called again", "[http][client]") {
  TestLoop loop;
  ScriptedServer server(
      &loop, [](int, int, const std::string&) -> ScriptedServer::Reply { return {okReply("unexpected")}; });
  HttpClient client(&loop);
  RequestId id = 0;
  ReaderLog log;
  Reader good = readerOf(log);
  Reader cancelling = [&](uint64_t offset, char* buf, size_t n) -> settee::Result<size_t> {
    if (offset >= 2 * kBodyPieceSize) {
      CHECK(client.cancel(id));
      return n;  // too late: the request has ended
    }
    return good(offset, buf, n);
  };
  ClientResponse got;
  REQUIRE(client
              .request(
                  putWithReader(server.url("/x"), cancelling, 10 * kBodyPieceSize),
                  [&](ClientResponse r) {
                    got = std::move(r);
                    client.close([] {});
                    server.close();
                  },
                  &id)
              .ok());
  loop.finish();
  CHECK(got.error.code == ClientErrc::Cancelled);
  CHECK(log.calls == 2);
  CHECK(server.bodies().empty());
}
