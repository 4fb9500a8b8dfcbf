// The HTTP client against real servers: a live `settee serve`, an http::Server on the test's own loop,
// a scripted raw libuv server (for closes and framing the real server never produces), a socket that
// never answers, and a TLS server on a thread with a certificate made in the test.
#include "http/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "http/client_test_support.h"
#include "http/server.h"
#include "live_server.h"

using namespace settee::http;
using settee::test::after;
using settee::test::dropsSecondRequest;
using settee::test::get;
using settee::test::Json;
using settee::test::LiveServer;
using settee::test::LoopbackListener;
using settee::test::LoopServer;
using settee::test::okReply;
using settee::test::requestInTurn;
using settee::test::ScriptedServer;
using settee::test::TestLoop;
using settee::test::url;

namespace {

std::string gzip(std::string_view data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// URLs

TEST_CASE("Client URL: parse splits scheme, userinfo, host, port and target", "[http][client]") {
  auto u = Url::parse("HTTPS://bob:p%40ss@Example.COM:6984/db/_changes?since=0#frag");
  REQUIRE(u);
  CHECK(u->scheme == "https");
  CHECK(u->user == "bob");
  CHECK(u->password == "p@ss");
  CHECK(u->host == "example.com");
  CHECK(u->port == 6984);
  CHECK(u->target == "/db/_changes?since=0");
  CHECK(u->toString() == "https://bob:p%40ss@example.com:6984/db/_changes?since=0");
  CHECK(u->redacted() == "https://bob:*****@example.com:6984/db/_changes?since=0");
  CHECK(u->origin() == "https://example.com:6984");

  auto plain = Url::parse("http://127.0.0.1");
  REQUIRE(plain);
  CHECK(plain->port == 80);
  CHECK(plain->target == "/");
  CHECK(plain->hostHeader() == "127.0.0.1");
  CHECK(plain->origin() == "http://127.0.0.1:80");

  auto v6 = Url::parse("http://[::1]:5984?x=1");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->target == "/?x=1");
  CHECK(v6->hostHeader() == "[::1]:5984");

  CHECK_FALSE(Url::parse("ftp://host/"));
  CHECK_FALSE(Url::parse("http://"));
  CHECK_FALSE(Url::parse("http://host:0/"));
  CHECK_FALSE(Url::parse("http://host:99999/"));
  CHECK_FALSE(Url::parse("http://host:12ab/"));
  CHECK_FALSE(Url::parse("http://ho st/"));
  CHECK_FALSE(Url::parse("http://[::1/"));
  CHECK_FALSE(Url::parse("http://host/a b"));
  CHECK_FALSE(Url::parse("host/path"));
}

TEST_CASE("Client URL: ids and query values are percent-encoded, URLs joined with one slash",
          "[http][client]") {
  CHECK(encodePathSegment("a/b c+d%e?f#g") == "a%2Fb%20c%2Bd%25e%3Ff%23g");
  CHECK(encodePathSegment("Az09-._~") == "Az09-._~");
  CHECK(encodePathSegment("\xC3\xA9") == "%C3%A9");
  CHECK(encodeDocId("_design/app/x") == "_design/app%2Fx");
  CHECK(encodeDocId("_local/ckpt") == "_local/ckpt");
  CHECK(encodeDocId("plain/id") == "plain%2Fid");
  CHECK(encodeQueryValue("[\"1-a\",\"2-b\"]") == "%5B%221-a%22%2C%222-b%22%5D");
  CHECK(buildQuery({{"since", "now"}, {"feed", "long poll"}}) == "?since=now&feed=long%20poll");
  CHECK(buildQuery({}).empty());
  CHECK(urlJoin("http://h:5984/db/", "/_changes?x=1") == "http://h:5984/db/_changes?x=1");
  CHECK(urlJoin("http://h:5984/db", "_bulk_docs") == "http://h:5984/db/_bulk_docs");
  CHECK(urlJoin("http://h:5984/db", "") == "http://h:5984/db");
}

// ---------------------------------------------------------------------------------------------------
// Against a live `settee serve`

TEST_CASE("Client: PUT, POST and GET against a live server", "[http][client]") {
  LiveServer node;
  std::string base = "http://127.0.0.1:" + std::to_string(node.port());
  TestLoop loop;
  HttpClient client(&loop);
  std::vector<ClientResponse> got;

  ClientRequest put = get(base + "/db");
  put.method = "PUT";
  REQUIRE(client
              .request(std::move(put),
                       [&](ClientResponse r) {
                         got.push_back(std::move(r));
                         ClientRequest post = get(base + "/db");
                         post.method = "POST";
                         post.headers = {{"Content-Type", "application/json"}};
                         post.body = R"({"_id":"a/b c","n":1})";
                         REQUIRE(client
                                     .request(std::move(post),
                                              [&](ClientResponse r) {
                                                got.push_back(std::move(r));
                                                REQUIRE(
                                                    client
                                                        .request(get(base + "/db/" + encodeDocId("a/b c")),
                                                                 [&](ClientResponse r) {
                                                                   got.push_back(std::move(r));
                                                                   client.close([] {});
                                                                 })
                                                        .ok());
                                              })
                                     .ok());
                       })
              .ok());
  loop.finish();

  REQUIRE(got.size() == 3);
  CHECK(got[0].ok());
  CHECK(got[0].status == 201);
  CHECK(got[1].status == 201);
  CHECK(got[2].status == 200);
  CHECK(Json(got[2].body).str("_id") == "a/b c");
  CHECK(got[2].header("etag"));
}

TEST_CASE("Client: credentials in the URL become a Basic Authorization header", "[http][client]") {
  LiveServer node("[admins]\nadmin = s3cret\n");
  TestLoop loop;
  HttpClient client(&loop);
  int anonymous = 0, admin = 0;
  ClientRequest anon = get("http://127.0.0.1:" + std::to_string(node.port()) + "/db");
  anon.method = "PUT";
  ClientRequest authed = get("http://admin:s3cret@127.0.0.1:" + std::to_string(node.port()) + "/db");
  authed.method = "PUT";
  REQUIRE(client.request(std::move(anon), [&](ClientResponse r) { anonymous = r.status; }).ok());
  REQUIRE(client
              .request(std::move(authed),
                       [&](ClientResponse r) {
                         admin = r.status;
                         client.close([] {});
                       })
              .ok());
  loop.finish();
  CHECK(anonymous == 401);
  CHECK(admin == 201);
}

TEST_CASE("Client: sequential requests reuse one keep-alive connection", "[http][client]") {
  LiveServer node;
  std::string target = "http://127.0.0.1:" + std::to_string(node.port()) + "/_up";
  TestLoop loop;
  HttpClient client(&loop);
  int done = 0;
  std::function<void(ClientResponse)> next = [&](ClientResponse r) {
    CHECK(r.status == 200);
    if (++done == 10) {
      client.close([] {});
      return;
    }
    REQUIRE(client.request(get(target), next).ok());
  };
  REQUIRE(client.request(get(target), next).ok());
  loop.finish();
  CHECK(done == 10);
  CHECK(client.stats().connectionsOpened == 1);
  CHECK(client.stats().requestsOnReusedConnections == 9);
}

TEST_CASE("Client: many concurrent requests share at most the per-origin connection limit",
          "[http][client]") {
  LiveServer node;
  std::string target = "http://127.0.0.1:" + std::to_string(node.port()) + "/";
  TestLoop loop;
  ClientOptions options;
  options.maxConnectionsPerOrigin = 4;
  HttpClient client(&loop, options);
  int ok = 0, done = 0;
  size_t maxQueued = 0;
  for (int i = 0; i < 200; ++i) {
    REQUIRE(client
                .request(get(target),
                         [&](ClientResponse r) {
                           if (r.ok() && r.status == 200 && Json(r.body).str("couchdb") == "Welcome") ++ok;
                           if (++done == 200) client.close([] {});
                         })
                .ok());
    maxQueued = std::max(maxQueued, client.stats().queuedRequests);
  }
  CHECK(client.stats().openConnections == 4);
  loop.finish();
  CHECK(ok == 200);
  CHECK(maxQueued == 196);
  CHECK(client.stats().connectionsOpened == 4);
  CHECK(client.stats().openConnections == 0);
}

TEST_CASE("Client: a large body streams in pieces", "[http][client]") {
  LiveServer node;
  std::string doc = R"({"big":")" + std::string(3 * 1024 * 1024, 'x') + R"("})";
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/big", doc).status == 201);
  TestLoop loop;
  HttpClient client(&loop);
  int status = 0, pieces = 0;
  size_t total = 0;
  bool completed = false;
  StreamHandlers handlers;
  handlers.onHeaders = [&](const ResponseHead& head) { status = head.status; };
  handlers.onData = [&](std::string_view chunk) {
    ++pieces;
    total += chunk.size();
  };
  handlers.onComplete = [&] {
    completed = true;
    client.close([] {});
  };
  handlers.onError = [&](const ClientError& e) { FAIL(e.message); };
  REQUIRE(client.stream(get("http://127.0.0.1:" + std::to_string(node.port()) + "/db/big"), handlers).ok());
  loop.finish();
  CHECK(completed);
  CHECK(status == 200);
  CHECK(total > doc.size());  // plus _rev
  CHECK(pieces > 1);
}

// ---------------------------------------------------------------------------------------------------
// Against an http::Server on the same loop

TEST_CASE("Client: a slow chunked response arrives chunk by chunk, before it ends", "[http][client]") {
  TestLoop loop;
  struct Feed {
    uv_timer_t timer;
    std::shared_ptr<Responder> responder;
    int written = 0;
  };
  Feed feed;
  uv_timer_init(&loop, &feed.timer);
  feed.timer.data = &feed;
  LoopServer server(&loop, [&](Request&&, std::shared_ptr<Responder> responder) {
    feed.responder = std::move(responder);
    feed.responder->start(200, {{"Content-Type", "application/json"}});
    uv_timer_start(
        &feed.timer,
        [](uv_timer_t* t) {
          auto* f = static_cast<Feed*>(t->data);
          f->responder->write("{\"seq\":" + std::to_string(++f->written) + "}\n");
          if (f->written == 5) {
            f->responder->end();
            f->responder.reset();
            uv_timer_stop(t);
          }
        },
        20, 20);
  });
  HttpClient client(&loop);
  std::vector<int> writtenAtEachChunk;
  std::string body;
  bool headersFirst = false, completed = false;
  StreamHandlers handlers;
  handlers.onHeaders = [&](const ResponseHead& head) {
    headersFirst = body.empty() && head.status == 200 && head.header("transfer-encoding");
  };
  handlers.onData = [&](std::string_view chunk) {
    writtenAtEachChunk.push_back(feed.written);
    body += chunk;
  };
  handlers.onComplete = [&] {
    completed = true;
    client.close([] {});
    server.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&feed.timer), nullptr);
  };
  handlers.onError = [&](const ClientError& e) { FAIL(e.message); };
  ClientRequest req = get(server.url("/db/_changes?feed=continuous"));
  req.readTimeoutMs = 1000;
  REQUIRE(client.stream(std::move(req), handlers).ok());
  loop.finish();
  CHECK(headersFirst);
  CHECK(completed);
  CHECK(body == "{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3}\n{\"seq\":4}\n{\"seq\":5}\n");
  REQUIRE(writtenAtEachChunk.size() >= 2);
  CHECK(writtenAtEachChunk.front() == 1);  // the first line was delivered before the second was written
}

TEST_CASE("Client: a stream cancelled from its own onData ends with Cancelled", "[http][client]") {
  TestLoop loop;
  std::shared_ptr<Responder> held;
  bool serverSawClose = false;
  LoopServer server(&loop, [&](Request&&, std::shared_ptr<Responder> responder) {
    held = std::move(responder);
    held->onClose([&] {
      serverSawClose = true;
      held.reset();
      server.close();
    });
    held->start(200);
    held->write("first\n");  // and then nothing: a live feed
  });
  HttpClient client(&loop);
  RequestId id = 0;
  ClientError error;
  int data = 0;
  StreamHandlers handlers;
  handlers.onData = [&](std::string_view) {
    ++data;
    CHECK(client.cancel(id));
    CHECK_FALSE(client.cancel(id));  // already over
  };
  handlers.onComplete = [&] { FAIL("completed"); };
  handlers.onError = [&](const ClientError& e) {
    error = e;
    client.close([] {});
  };
  REQUIRE(client.stream(get(server.url("/feed")), handlers, &id).ok());
  loop.finish();
  CHECK(data == 1);
  CHECK(error.code == ClientErrc::Cancelled);
  CHECK(serverSawClose);
}

TEST_CASE("Client: gzip responses are inflated, and Accept-Encoding is sent only when asked",
          "[http][client]") {
  TestLoop loop;
  std::string text = std::string(100000, 'a') + "end";
  std::vector<std::string> acceptEncoding;
  LoopServer server(&loop, [&](Request&& req, std::shared_ptr<Responder> responder) {
    const std::string* accept = req.header("Accept-Encoding");
    acceptEncoding.push_back(accept ? *accept : "");
    Response response;
    if (req.path == "/corrupt") {
      response.body = gzip(text).substr(0, 40) + "garbage-garbage-garbage";
      response.setHeader("Content-Encoding", "gzip");
    } else if (accept) {
      response.body = gzip(text);
      response.setHeader("Content-Encoding", "gzip");
    } else {
      response.body = text;
    }
    responder->send(std::move(response));
  });
  HttpClient client(&loop);
  std::vector<ClientResponse> got;
  ClientRequest zipped = get(server.url("/zipped"));
  zipped.acceptGzip = true;
  std::vector<ClientRequest> requests;
  requests.push_back(std::move(zipped));
  requests.push_back(get(server.url("/plain")));
  requests.push_back(get(server.url("/corrupt")));
  requestInTurn(client, std::move(requests), &got, [&] {
    client.close([] {});
    server.close();
  });
  loop.finish();
  REQUIRE(got.size() == 3);
  CHECK(got[0].ok());
  CHECK(*got[0].header("Content-Encoding") == "gzip");
  CHECK(got[0].body == text);
  CHECK(got[1].body == text);
  CHECK(got[2].error.code == ClientErrc::ProtocolError);
  CHECK(acceptEncoding == std::vector<std::string>{"gzip", "", ""});
}

TEST_CASE("Client: a request that cannot start returns an error and never calls back", "[http][client]") {
  TestLoop loop;
  HttpClient client(&loop);
  bool called = false;
  ClientRequest bad = get("http://127.0.0.1:1/");
  bad.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  ClientError error = client.request(std::move(bad), [&](ClientResponse) { called = true; });
  CHECK(error.code == ClientErrc::InvalidRequest);
  ClientRequest badMethod = get("http://127.0.0.1:1/");
  badMethod.method = "GE T";
  CHECK(client.request(std::move(badMethod), [&](ClientResponse) { called = true; }).code ==
        ClientErrc::InvalidRequest);
  ClientOptions missingCa;
  missingCa.caFile = "/nonexistent/ca.pem";
  HttpClient tlsClient(&loop, missingCa);
  CHECK(tlsClient.request(get("https://127.0.0.1:1/"), [&](ClientResponse) { called = true; }).code ==
        ClientErrc::TlsFailed);
  client.close([] {});
  tlsClient.close([] {});
  CHECK(client.request(get("http://127.0.0.1:1/"), [&](ClientResponse) { called = true; }).code ==
        ClientErrc::InvalidRequest);  // closing
  loop.finish();
  CHECK_FALSE(called);
}

TEST_CASE("Client: close cancels queued and in-flight requests", "[http][client]") {
  TestLoop loop;
  std::vector<std::shared_ptr<Responder>> never;  // held unanswered until the end
  LoopServer server(&loop, [&](Request&&, std::shared_ptr<Responder> r) { never.push_back(std::move(r)); });
  ClientOptions options;
  options.maxConnectionsPerOrigin = 2;
  HttpClient client(&loop, options);
  std::vector<ClientErrc> errors;
  bool closeDone = false;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(
        client.request(get(server.url("/")), [&](ClientResponse r) { errors.push_back(r.error.code); }).ok());
  }
  after(&loop, 100, [&] {
    CHECK(never.size() == 2);  // two in flight, three queued
    client.close([&] { closeDone = true; });
    CHECK(errors == std::vector<ClientErrc>(5, ClientErrc::Cancelled));  // before close returned
    never.clear();
    server.close();
  });
  loop.finish();
  CHECK(closeDone);
}

// ---------------------------------------------------------------------------------------------------
// Failures

TEST_CASE("Client: a closed port is a ConnectionRefused error", "[http][client]") {
  TestLoop loop;
  HttpClient client(&loop);
  ClientResponse got;
  int port = settee::test::freePort();
  REQUIRE(client
              .request(get("http://127.0.0.1:" + std::to_string(port) + "/"),
                       [&](ClientResponse r) {
                         got = std::move(r);
                         client.close([] {});
                       })
              .ok());
  loop.finish();
  CHECK(got.error.code == ClientErrc::ConnectionRefused);
  CHECK(got.error.message.find(std::to_string(port)) != std::string::npos);
}

TEST_CASE("Client: a server that accepts but never answers gives a ReadTimeout", "[http][client]") {
  // A listening socket nobody accepts on: the kernel completes the handshake, then nothing.
  LoopbackListener deaf;

  TestLoop loop;
  HttpClient client(&loop);
  ClientError error;
  uint64_t started = uv_now(&loop);
  uint64_t took = 0;
  StreamHandlers handlers;
  handlers.onError = [&](const ClientError& e) {
    error = e;
    took = uv_now(&loop) - started;
    client.close([] {});
  };
  ClientRequest req = get(deaf.url("/db/_changes?feed=continuous"));
  req.readTimeoutMs = 200;
  REQUIRE(client.stream(std::move(req), handlers).ok());
  loop.finish();
  CHECK(error.code == ClientErrc::ReadTimeout);
  CHECK(took >= 190);
  CHECK(took < 2000);
}

TEST_CASE("Client: a keep-alive connection the server dropped is retried once on a fresh one",
          "[http][client]") {
  TestLoop loop;
  ScriptedServer server(&loop,
                        dropsSecondRequest([](int connection) { return "c" + std::to_string(connection); }));
  HttpClient client(&loop);
  std::vector<ClientResponse> got;
  std::vector<ClientRequest> requests;
  requests.push_back(get(server.url("/a")));
  requests.push_back(get(server.url("/b")));
  requestInTurn(client, std::move(requests), &got, [&] {
    client.close([] {});
    server.close();
  });
  loop.finish();
  REQUIRE(got.size() == 2);
  CHECK(got[0].body == "c0");
  CHECK(got[1].ok());
  CHECK(got[1].body == "c1");
  CHECK(client.stats().connectionsOpened == 2);
}

TEST_CASE("Client: a POST on a dropped keep-alive connection is not retried", "[http][client]") {
  TestLoop loop;
  ScriptedServer server(&loop, dropsSecondRequest([](int) { return "ok"; }));
  HttpClient client(&loop);
  std::vector<ClientResponse> got;
  std::vector<ClientRequest> requests;
  requests.push_back(get(server.url("/a")));
  ClientRequest post = get(server.url("/db"));
  post.method = "POST";
  post.body = "{}";
  requests.push_back(std::move(post));
  requestInTurn(client, std::move(requests), &got, [&] {
    client.close([] {});
    server.close();
  });
  loop.finish();
  REQUIRE(got.size() == 2);
  CHECK(got[1].error.code == ClientErrc::ConnectionReset);
  CHECK(server.connections() == 1);
}

TEST_CASE("Client: bodies framed by close, by chunks, cut short, and HEAD", "[http][client]") {
  TestLoop loop;
  ScriptedServer server(&loop, [](int, int, const std::string& head) -> ScriptedServer::Reply {
    switch (head[head.find('/') + 1] - '0') {
      case 0:
        return {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", true};
      case 1:
        return {
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"};
      case 2:
        return {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", true};
      default:
        return {"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"};
    }
  });
  HttpClient client(&loop);
  std::vector<ClientResponse> got;
  // One after another, so each lands on the scripted connection number it expects.
  std::function<void(int)> step = [&](int i) {
    ClientRequest req = get(server.url("/" + std::to_string(i)));
    if (i == 3) req.method = "HEAD";
    REQUIRE(client
                .request(std::move(req),
                         [&, i](ClientResponse r) {
                           got.push_back(std::move(r));
                           if (i == 3) {
                             client.close([] {});
                             server.close();
                           } else {
                             step(i + 1);
                           }
                         })
                .ok());
  };
  step(0);
  loop.finish();
  REQUIRE(got.size() == 4);
  CHECK(got[0].ok());
  CHECK(got[0].body == "until the end");
  CHECK(got[1].ok());
  CHECK(got[1].status == 200);
  CHECK(got[1].body == "hello world");
  CHECK(got[2].error.code == ClientErrc::ConnectionReset);
  CHECK(got[2].body == "only part");
  CHECK(got[3].ok());
  CHECK(*got[3].header("content-length") == "1234");
  CHECK(got[3].body.empty());
}

TEST_CASE("Client: a buffered body larger than the limit fails with TooLarge", "[http][client]") {
  TestLoop loop;
  ScriptedServer server(&loop, [](int, int, const std::string&) -> ScriptedServer::Reply {
    return {okReply(std::string(5000, 'z'))};
  });
  ClientOptions options;
  options.maxBufferedBodySize = 4096;
  HttpClient client(&loop, options);
  ClientResponse got;
  REQUIRE(client
              .request(get(server.url("/")),
                       [&](ClientResponse r) {
                         got = std::move(r);
                         client.close([] {});
                         server.close();
                       })
              .ok());
  loop.finish();
  CHECK(got.error.code == ClientErrc::TooLarge);
}

TEST_CASE("Client: a host name is resolved; an unknown one is a ResolveFailed error", "[http][client]") {
  LiveServer node;
  TestLoop loop;
  HttpClient client(&loop);
  ClientResponse named, unknown;
  REQUIRE(client
              .request(get("http://localhost:" + std::to_string(node.port()) + "/_up"),
                       [&](ClientResponse r) {
                         named = std::move(r);
                         REQUIRE(client
                                     .request(get("http://no-such-host.invalid/"),
                                              [&](ClientResponse r) {
                                                unknown = std::move(r);
                                                client.close([] {});
                                              })
                                     .ok());
                       })
              .ok());
  loop.finish();
  CHECK(named.ok());
  CHECK(named.status == 200);
  CHECK(unknown.error.code == ClientErrc::ResolveFailed);
}

TEST_CASE("Client: idle connections expire, and one the server closed is forgotten, not failed",
          "[http][client]") {
  TestLoop loop;
  Server::Options serverOptions;
  serverOptions.idleTimeoutMs = 50;  // the server drops idle keep-alive connections first
  LoopServer server(
      &loop, [](Request&&, std::shared_ptr<Responder> r) { r->send(Response::json(200, "{}")); },
      serverOptions);
  ClientOptions options;
  options.idleConnectionTimeoutMs = 60000;
  HttpClient client(&loop, options);
  ClientOptions shortIdle;
  shortIdle.idleConnectionTimeoutMs = 20;
  HttpClient expiring(&loop, shortIdle);
  std::vector<ClientResponse> got;
  REQUIRE(client.request(get(server.url()), [&](ClientResponse r) { got.push_back(std::move(r)); }).ok());
  REQUIRE(expiring.request(get(server.url()), [&](ClientResponse r) { got.push_back(std::move(r)); }).ok());
  after(&loop, 200, [&] {
    CHECK(client.stats().openConnections == 0);    // the server's close was noticed while idle
    CHECK(expiring.stats().openConnections == 0);  // closed by our own idle timeout
    REQUIRE(client
                .request(get(server.url()),
                         [&](ClientResponse r) {
                           got.push_back(std::move(r));
                           client.close([] {});
                           expiring.close([] {});
                           server.close();
                         })
                .ok());
  });
  loop.finish();
  REQUIRE(got.size() == 3);
  for (const auto& r : got) CHECK(r.status == 200);
  CHECK(client.stats().connectionsOpened == 2);
  CHECK(client.stats().requestsOnReusedConnections == 0);
}
