// TLS for the client: the SSL_CTX made from ClientOptions, and a TlsSession per connection that OpenSSL
// drives through two memory BIOs while libuv keeps the socket.
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include <climits>

#include "http/client_internal.h"

namespace settee::http::detail {

namespace {

std::string lastOpenSslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

bool isIpLiteral(const std::string& host) {
  unsigned char buffer[16];
  return uv_inet_pton(AF_INET, host.c_str(), buffer) == 0 ||
         uv_inet_pton(AF_INET6, host.c_str(), buffer) == 0;
}

}  // namespace

SSL_CTX* makeTlsContext(const ClientOptions& options, ClientError& error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    error = {ClientErrc::TlsFailed, "cannot create a TLS context: " + lastOpenSslError()};
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  int loaded = options.caFile.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                      : SSL_CTX_load_verify_locations(ctx, options.caFile.c_str(), nullptr);
  if (loaded != 1) {
    error = {ClientErrc::TlsFailed, "cannot load CA certificates" +
                                        (options.caFile.empty() ? "" : " from " + options.caFile) + ": " +
                                        lastOpenSslError()};
    SSL_CTX_free(ctx);
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, options.verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return ctx;
}

TlsSession::TlsSession(SSL_CTX* ctx, const std::string& host, bool verify) : host_(host) {
  ssl_ = SSL_new(ctx);
  if (!ssl_) return;
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // An empty input BIO means "wait for more bytes", not end of file.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_connect_state(ssl_);
  bool ip = isIpLiteral(host);
  if (!ip) SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI takes names only
  if (verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    }
  }
}

TlsSession::~TlsSession() {
  if (ssl_) SSL_free(ssl_);  // frees both BIOs
}

ClientError TlsSession::failure(const char* what) {
  long verify = ssl_ ? SSL_get_verify_result(ssl_) : X509_V_OK;
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return {ClientErrc::CertificateRejected,
            "the TLS certificate of " + host_ + " was rejected: " + X509_verify_cert_error_string(verify)};
  }
  return {ClientErrc::TlsFailed, std::string(what) + " " + host_ + " failed: " + lastOpenSslError()};
}

ClientError TlsSession::handshake(bool& done) {
  done = false;
  if (!ssl_) return failure("creating a TLS session for");
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    done = true;
    return {};
  }
  int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return {};
  return failure("the TLS handshake with");
}

void TlsSession::feed(std::string_view cipher) {
  if (!in_) return;
  while (!cipher.empty()) {
    int n = BIO_write(in_, cipher.data(), static_cast<int>(std::min<size_t>(cipher.size(), INT_MAX)));
    if (n <= 0) return;
    cipher.remove_prefix(static_cast<size_t>(n));
  }
}

ClientError TlsSession::read(std::string& plain, bool& closed) {
  char buffer[16 * 1024];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl_, buffer, sizeof buffer);
    if (n > 0) {
      plain.append(buffer, static_cast<size_t>(n));
      continue;
    }
    int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return {};
    if (error == SSL_ERROR_ZERO_RETURN) {
      closed = true;
      return {};
    }
    return failure("reading TLS data from");
  }
}

ClientError TlsSession::write(std::string_view plain) {
  while (!plain.empty()) {
    ERR_clear_error();
    int n = SSL_write(ssl_, plain.data(), static_cast<int>(std::min<size_t>(plain.size(), INT_MAX)));
    if (n <= 0) return failure("writing TLS data to");
    plain.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::string TlsSession::takeOutput() {
  std::string out;
  if (!out_) return out;
  size_t pending = BIO_ctrl_pending(out_);
  out.resize(pending);
  if (pending > 0) {
    int n = BIO_read(out_, out.data(), static_cast<int>(pending));
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  return out;
}

}  // namespace settee::http::detail
