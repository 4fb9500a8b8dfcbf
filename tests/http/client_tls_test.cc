// The HTTP client over TLS, against a small OpenSSL server on a plain socket in a thread, with
// self-signed certificates made in-process: trusted through ClientOptions::caFile, or not trusted at all.
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <thread>

#include "db/crypto.h"
#include "http/client.h"
#include "http/client_test_support.h"
#include "test_util.h"

using namespace settee::http;

namespace {

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// A self-signed P-256 certificate for `subjectAltName` (e.g. "IP:127.0.0.1,DNS:localhost"), written as
// cert.pem and key.pem into `dir`.
void makeCertificate(const settee::test::TempDir& dir, const std::string& subjectAltName) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Settee test"),
                             -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, subjectAltName.c_str()},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
  BIO* certBio = BIO_new(BIO_s_mem());
  BIO* keyBio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(certBio, cert);
  PEM_write_bio_PrivateKey(keyBio, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::ofstream(dir.file("cert.pem")) << bioText(certBio);
  std::ofstream(dir.file("key.pem")) << bioText(keyBio);
  BIO_free(certBio);
  BIO_free(keyBio);
  X509_free(cert);
  EVP_PKEY_free(key);
}

// Answers every request on a connection with `200` and the request line as the body (followed, when the
// request had a body, by its length and MD5 digest), keeping the connection open until the client closes
// it. One connection at a time, which is all the tests need.
class TlsEchoServer {
 public:
  explicit TlsEchoServer(const settee::test::TempDir& dir) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    REQUIRE(SSL_CTX_use_certificate_file(ctx_, dir.file("cert.pem").c_str(), SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_, dir.file("key.pem").c_str(), SSL_FILETYPE_PEM) == 1);
    thread_ = std::thread([this] { run(); });
  }
  ~TlsEchoServer() {
    stop_ = true;
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  int port() const { return listener_.port(); }
  int accepted() const { return accepted_; }
  int handshakes() const { return handshakes_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{listener_.fd(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int client = ::accept(listener_.fd(), nullptr, nullptr);
      if (client < 0) continue;
      ++accepted_;
      timeval timeout{5, 0};  // never hang the test on a client that went quiet
      ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, client);
      if (SSL_accept(ssl) == 1) {
        ++handshakes_;
        serve(ssl);
      }
      SSL_free(ssl);
      ::close(client);
      ERR_clear_error();
    }
  }
  void serve(SSL* ssl) {
    std::string buffer;
    char chunk[4096];
    for (;;) {
      size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<size_t>(n));
      }
      std::string line = buffer.substr(0, buffer.find("\r\n"));
      size_t length = 0;
      if (size_t at = buffer.find("\r\nContent-Length: "); at < end) {
        length = std::stoul(buffer.substr(at + 18));
      }
      buffer.erase(0, end + 4);
      if (length > 0) {
        settee::db::Md5 md5;
        size_t left = length;
        while (left > 0) {
          if (buffer.empty()) {
            int n = SSL_read(ssl, chunk, sizeof chunk);
            if (n <= 0) return;
            buffer.append(chunk, static_cast<size_t>(n));
          }
          size_t take = std::min(left, buffer.size());
          md5.update(std::string_view(buffer).substr(0, take));
          buffer.erase(0, take);
          left -= take;
        }
        line += " " + std::to_string(length) + " " + md5.finishDigest();
      }
      std::string reply =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(line.size()) + "\r\n\r\n" + line;
      if (SSL_write(ssl, reply.data(), static_cast<int>(reply.size())) <= 0) return;
    }
  }

  SSL_CTX* ctx_ = nullptr;
  settee::test::LoopbackListener listener_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> handshakes_{0};
};

Url url(const std::string& text) {
  auto parsed = Url::parse(text);
  REQUIRE(parsed);
  return *parsed;
}

// Sends the GETs in `paths` one after another and returns the responses; closes the client and checks
// the loop is left with nothing open.
std::vector<ClientResponse> getAll(ClientOptions options, int port, std::vector<std::string> paths,
                                   HttpClient::Stats* stats = nullptr) {
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<ClientResponse> got;
  {
    HttpClient client(&loop, options);
    std::function<void(size_t)> step = [&](size_t i) {
      ClientRequest req;
      req.url = url("https://127.0.0.1:" + std::to_string(port) + paths[i]);
      req.connectTimeoutMs = 5000;
      REQUIRE(client
                  .request(std::move(req),
                           [&, i](ClientResponse r) {
                             got.push_back(std::move(r));
                             if (i + 1 < paths.size()) {
                               step(i + 1);
                             } else {
                               client.close([] {});
                             }
                           })
                  .ok());
    };
    step(0);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (stats) *stats = client.stats();
  }
  CHECK(uv_loop_close(&loop) == 0);
  return got;
}

}  // namespace

TEST_CASE("Client TLS: a certificate trusted through caFile is accepted, and keep-alive works over TLS",
          "[http][client]") {
  settee::test::TempDir dir;
  makeCertificate(dir, "IP:127.0.0.1,DNS:localhost");
  TlsEchoServer server(dir);
  ClientOptions options;
  options.caFile = dir.file("cert.pem");
  HttpClient::Stats stats;
  auto got = getAll(options, server.port(), {"/db?x=1", "/second"}, &stats);
  REQUIRE(got.size() == 2);
  CHECK(got[0].ok());
  CHECK(got[0].status == 200);
  CHECK(got[0].body == "GET /db?x=1 HTTP/1.1");
  CHECK(got[1].body == "GET /second HTTP/1.1");
  CHECK(stats.connectionsOpened == 1);
  CHECK(server.handshakes() == 1);
}

TEST_CASE("Client TLS: an untrusted self-signed certificate is refused", "[http][client]") {
  settee::test::TempDir dir;
  makeCertificate(dir, "IP:127.0.0.1");
  TlsEchoServer server(dir);
  auto got = getAll(ClientOptions{}, server.port(), {"/"});  // the system store does not know it
  REQUIRE(got.size() == 1);
  CHECK(got[0].error.code == ClientErrc::CertificateRejected);
  INFO(got[0].error.message);
  CHECK(got[0].error.message.find("self-signed") != std::string::npos);
  CHECK(server.handshakes() == 0);
}

TEST_CASE("Client TLS: a trusted certificate for another host is refused", "[http][client]") {
  settee::test::TempDir dir;
  makeCertificate(dir, "DNS:other.example");
  TlsEchoServer server(dir);
  ClientOptions options;
  options.caFile = dir.file("cert.pem");
  auto got = getAll(options, server.port(), {"/"});
  REQUIRE(got.size() == 1);
  CHECK(got[0].error.code == ClientErrc::CertificateRejected);
  INFO(got[0].error.message);
  CHECK(got[0].error.message.find("mismatch") != std::string::npos);
}

TEST_CASE("Client TLS: with verification off, any certificate is accepted", "[http][client]") {
  settee::test::TempDir dir;
  makeCertificate(dir, "DNS:other.example");
  TlsEchoServer server(dir);
  ClientOptions options;
  options.verifyPeer = false;
  auto got = getAll(options, server.port(), {"/"});
  REQUIRE(got.size() == 1);
  CHECK(got[0].ok());
  CHECK(got[0].body == "GET / HTTP/1.1");
}

TEST_CASE("Client TLS: a 5 MB streamed body is encrypted a piece at a time", "[http][client]") {
  signal(SIGPIPE, SIG_IGN);
  settee::test::TempDir dir;
  makeCertificate(dir, "IP:127.0.0.1");
  TlsEchoServer server(dir);
  ClientOptions options;
  options.caFile = dir.file("cert.pem");
  const uint64_t size = 5ull * 1024 * 1024;
  // Deterministic bytes that depend on the offset, so a piece sent twice or out of order shows.
  auto byteAt = [](uint64_t i) { return static_cast<char>((i * 2654435761u) >> 13); };
  settee::db::Md5 expected;
  for (uint64_t i = 0; i < size; i += 4096) {
    std::string block(4096, '\0');
    for (size_t j = 0; j < block.size(); ++j) block[j] = byteAt(i + j);
    expected.update(block);
  }
  size_t calls = 0, largestAsk = 0;
  uint64_t next = 0;
  bool inOrder = true;
  uv_loop_t loop;
  uv_loop_init(&loop);
  ClientResponse got;
  HttpClient::Stats stats;
  {
    HttpClient client(&loop, options);
    ClientRequest req;
    req.method = "PUT";
    req.url = url("https://127.0.0.1:" + std::to_string(server.port()) + "/db/doc/att");
    req.bodyLength = size;
    req.bodyReader = [&](uint64_t offset, char* buf, size_t n) -> settee::Result<size_t> {
      ++calls;
      largestAsk = std::max(largestAsk, n);
      inOrder = inOrder && offset == next;
      for (size_t j = 0; j < n; ++j) buf[j] = byteAt(offset + j);
      next = offset + n;
      return n;
    };
    REQUIRE(client
                .request(std::move(req),
                         [&](ClientResponse r) {
                           got = std::move(r);
                           client.close([] {});
                         })
                .ok());
    uv_run(&loop, UV_RUN_DEFAULT);
    stats = client.stats();
  }
  CHECK(uv_loop_close(&loop) == 0);
  INFO(got.error.message);
  CHECK(got.ok());
  CHECK(got.body == "PUT /db/doc/att HTTP/1.1 " + std::to_string(size) + " " + expected.finishDigest());
  CHECK(inOrder);
  CHECK(calls == size / kBodyPieceSize);
  CHECK(largestAsk == kBodyPieceSize);
  CHECK(stats.maxQueuedWriteBytes <= 2 * kBodyPieceSize);
}
