// A hostile replication peer for tests: a small HTTP/1.1 server on 127.0.0.1 that plays a CouchDB
// database well enough for the replicator to start (GET /db, _local checkpoints, _changes, _bulk_get,
// open_revs GETs, _revs_diff and _bulk_docs when it is a push target), and lets each test replace any
// answer with a misbehaviour of its own: an endless body, JSON of the wrong shape, revisions nobody asked
// for, a feed that never ends.
//
// Why blocking sockets and a thread per connection rather than libuv: a misbehaving answer is then a
// plain loop (`while (c.send(piece))` is an endless body, with the kernel's backpressure for free), and
// the replicator under test runs on threads of its own, so the peer must not share the test's loop.
//
// Threads: the peer's own. `answer` is called on a connection's thread, concurrently for concurrent
// connections; what it captures must be safe to use so. The destructor stops every connection (a
// `send` in progress returns false) and joins every thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "db/crypto.h"
#include "db/json.h"

namespace settee::test {

struct PeerRequest {
  std::string method;
  std::string target;                                        // path and query, as sent
  std::string path;                                          // percent-decoded path, without the query
  std::map<std::string, std::string> query;                  // percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string header(const std::string& lowerName) const {
    for (const auto& [k, v] : headers)
      if (k == lowerName) return v;
    return {};
  }
};

// One accepted connection, as an answer sees it.
class PeerConnection {
 public:
  PeerConnection(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
  // Writes all of `bytes`; false once the client has gone or the peer is stopping.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      pollfd p{fd_, POLLOUT, 0};
      int rc = poll(&p, 1, 100);
      if (stopping_) return false;
      if (rc < 0 && errno != EINTR) return false;
      if (rc <= 0) continue;
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Sleeps `ms` unless the peer stops first; false when it stopped.
  bool pause(int ms) {
    for (int waited = 0; waited < ms; waited += 10) {
      if (stopping_) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !stopping_;
  }
  // A whole answer with a Content-Length.
  bool reply(int status, const std::string& body, const std::string& type = "application/json") {
    return send("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  // The head of a chunked answer; then chunk() for each piece.
  bool beginChunked(int status, const std::string& type = "application/json") {
    return send("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
                "\r\nTransfer-Encoding: chunked\r\n\r\n");
  }
  bool chunk(std::string_view piece) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    return send(size) && send(piece) && send("\r\n");
  }
  // Keeps sending `piece` as chunks until the client goes: an answer that never ends.
  void chunkForever(std::string_view piece) {
    while (chunk(piece)) {
    }
  }
  // Claims `length` bytes, sends `prefix`, then `fill` for ever (until the client goes).
  void endlessBody(const std::string& prefix, uint64_t length = UINT64_C(1) << 40,
                   const std::string& type = "application/json") {
    if (!send("HTTP/1.1 200 OK\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(length) +
              "\r\n\r\n" + prefix))
      return;
    std::string fill(64 * 1024, ' ');
    while (send(fill)) {
    }
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  const std::atomic<bool>& stopping_;
};

inline std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

class HostilePeer {
 public:
  // Answers one request; returns whether to read another request on this connection.
  using Answer = std::function<bool(const PeerRequest&, PeerConnection&)>;

  explicit HostilePeer(Answer answer) : answer_(std::move(answer)) {
    listen_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_, 64) != 0)
      throw std::runtime_error("hostile peer: cannot listen");
    socklen_t len = sizeof addr;
    getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~HostilePeer() {
    stopping_ = true;
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    ::close(listen_);
  }
  HostilePeer(const HostilePeer&) = delete;
  HostilePeer& operator=(const HostilePeer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& db = "db") const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + db;
  }
  // Every request line seen so far ("GET /db/_changes?..."), for the tests' messages.
  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  // How many requests were exactly `line` ("GET /db").
  size_t exactly(const std::string& line) const {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count(seen_.begin(), seen_.end(), line));
  }
  // How many request lines held `pathPart`.
  size_t count(const std::string& pathPart) const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& s : seen_) n += s.find(pathPart) != std::string::npos;
    return n;
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      pollfd p{listen_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept(listen_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      threads_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  // Reads requests one after another (keep-alive) until the client closes or the peer stops.
  void serve(int fd) {
    PeerConnection conn(fd, stopping_);
    std::string buf;
    auto fill = [&]() -> bool {
      char tmp[65536];
      for (;;) {
        pollfd p{fd, POLLIN, 0};
        int rc = poll(&p, 1, 50);
        if (stopping_) return false;
        if (rc <= 0) continue;
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf.append(tmp, static_cast<size_t>(n));
        return true;
      }
    };
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos)
        if (!fill()) return;
      PeerRequest req;
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      size_t lineEnd = head.find("\r\n");
      std::string line = head.substr(0, lineEnd);
      size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
      req.method = line.substr(0, sp1);
      req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t at = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
      while (at < head.size()) {
        size_t next = head.find("\r\n", at);
        if (next == std::string::npos) next = head.size();
        std::string h = head.substr(at, next - at);
        size_t colon = h.find(':');
        std::string name = h.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = h.find_first_not_of(' ', colon + 1);
        req.headers.emplace_back(name, v == std::string::npos ? "" : h.substr(v));
        at = next + 2;
      }
      size_t length = 0;
      if (auto cl = req.header("content-length"); !cl.empty()) length = std::stoul(cl);
      while (buf.size() < length)
        if (!fill()) return;
      req.body = buf.substr(0, length);
      buf.erase(0, length);
      size_t q = req.target.find('?');
      req.path = percentDecode(req.target.substr(0, q));
      if (q != std::string::npos) {
        std::string_view query = std::string_view(req.target).substr(q + 1);
        while (!query.empty()) {
          size_t amp = query.find('&');
          std::string_view pair = query.substr(0, amp);
          size_t eq = pair.find('=');
          req.query[percentDecode(pair.substr(0, eq))] =
              eq == std::string_view::npos ? "" : percentDecode(pair.substr(eq + 1));
          if (amp == std::string_view::npos) break;
          query.remove_prefix(amp + 1);
        }
      }
      {
        std::lock_guard lock(mu_);
        seen_.push_back(req.method + " " + req.target);
      }
      if (!answer_(req, conn)) return;
    }
  }

  Answer answer_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<std::string> seen_;
};

// A CouchDB database that answers the replicator correctly: a fixed set of documents as a source (and,
// as a push target, one that lacks everything and accepts every write). Tests put it behind a
// HostilePeer and replace the answers they want to break. Immutable once built, so any thread may use it.
class FakeCouch {
 public:
  struct Doc {
    std::string id;
    std::vector<std::string> history;  // revision hashes, newest first; the generation is their count
    int value = 0;                     // the body is {"v": value}
    std::string attachment;            // bytes of "f.bin", or none
    std::string rev() const { return std::to_string(history.size()) + "-" + history.front(); }
  };

  explicit FakeCouch(std::vector<Doc> docs) : docs_(std::move(docs)) {}
  const std::vector<Doc>& docs() const { return docs_; }
  const Doc* find(const std::string& id) const {
    for (const auto& d : docs_)
      if (d.id == id) return &d;
    return nullptr;
  }

  // The document as CouchDB sends it with revs=true: attachments as stubs, inline base64, or `follows`.
  enum class Atts { Stub, Inline, Follows };
  static std::string docJson(const Doc& d, Atts atts) {
    return json([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "_id");
      db::writeString(w, d.id);
      db::writeKey(w, "_rev");
      db::writeString(w, d.rev());
      db::writeKey(w, "v");
      w.Int(d.value);
      db::writeKey(w, "_revisions");
      w.StartObject();
      db::writeKey(w, "start");
      w.Uint64(d.history.size());
      db::writeKey(w, "ids");
      w.StartArray();
      for (const auto& h : d.history) db::writeString(w, h);
      w.EndArray();
      w.EndObject();
      if (!d.attachment.empty()) {
        db::writeKey(w, "_attachments");
        w.StartObject();
        db::writeKey(w, "f.bin");
        w.StartObject();
        db::writeKey(w, "content_type");
        db::writeString(w, "application/octet-stream");
        db::writeKey(w, "revpos");
        w.Uint64(1);
        db::writeKey(w, "digest");
        db::writeString(w, db::md5Digest(d.attachment));
        db::writeKey(w, "length");
        w.Uint64(d.attachment.size());
        if (atts == Atts::Stub) db::writeKey(w, "stub");
        if (atts == Atts::Follows) db::writeKey(w, "follows");
        if (atts == Atts::Inline) {
          db::writeKey(w, "data");
          db::writeString(w, db::base64Encode(d.attachment));
        } else {
          w.Bool(true);
        }
        w.EndObject();
        w.EndObject();
      }
      w.EndObject();
    });
  }

  std::string changesJson() const {
    return json([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "results");
      w.StartArray();
      for (size_t i = 0; i < docs_.size(); ++i) {
        w.StartObject();
        db::writeKey(w, "seq");
        w.Uint64(i + 1);
        db::writeKey(w, "id");
        db::writeString(w, docs_[i].id);
        db::writeKey(w, "changes");
        w.StartArray();
        w.StartObject();
        db::writeKey(w, "rev");
        db::writeString(w, docs_[i].rev());
        w.EndObject();
        w.EndArray();
        w.EndObject();
      }
      w.EndArray();
      db::writeKey(w, "last_seq");
      w.Uint64(docs_.size());
      db::writeKey(w, "pending");
      w.Uint64(0);
      w.EndObject();
    });
  }

  // The multipart/mixed answer to open_revs for one document: its boundary and body.
  static std::pair<std::string, std::string> openRevsMultipart(const Doc& d) {
    std::string outer = "outer0b", inner = "inner0b";
    std::string body = "--" + outer + "\r\nContent-Type: multipart/related; boundary=\"" + inner +
                       "\"\r\n\r\n--" + inner + "\r\nContent-Type: application/json\r\n\r\n" +
                       docJson(d, Atts::Follows) + "\r\n--" + inner +
                       "\r\nContent-Disposition: attachment; filename=\"f.bin\"\r\nContent-Type: "
                       "application/octet-stream\r\n\r\n" +
                       d.attachment + "\r\n--" + inner + "--\r\n--" + outer + "--";
    return {outer, body};
  }

  // The correct answer to `req`; returns whether to keep the connection.
  bool answer(const PeerRequest& req, PeerConnection& c) const {
    const std::string& p = req.path;
    if (p == "/_session") return c.reply(401, R"({"error":"unauthorized","reason":"no sessions here"})");
    if (p == "/db" && req.method == "GET")
      return c.reply(200, R"({"db_name":"db","update_seq":)" + std::to_string(docs_.size()) +
                              R"(,"instance_start_time":"0"})");
    if (p == "/db" && req.method == "PUT")
      return c.reply(412, R"({"error":"file_exists","reason":"exists"})");
    if (p.rfind("/db/_local/", 0) == 0 && req.method == "GET")
      return c.reply(404, R"({"error":"not_found","reason":"missing"})");
    if (p.rfind("/db/_local/", 0) == 0 && req.method == "PUT")
      return c.reply(201, R"({"ok":true,"id":"x","rev":"0-1"})");
    if (p == "/db/_changes") {
      size_t since = req.query.count("since") ? std::stoul(req.query.at("since")) : 0;
      if (since >= docs_.size())
        return c.reply(200, R"({"results":[],"last_seq":)" + std::to_string(since) + R"(,"pending":0})");
      return c.reply(200, changesJson());
    }
    if (p == "/db/_bulk_get") return c.reply(200, bulkGet(req));
    if (p == "/db/_revs_diff") return c.reply(200, revsDiff(req));
    if (p == "/db/_bulk_docs") return c.reply(201, "[]");
    if (p == "/db/_ensure_full_commit") return c.reply(201, R"({"ok":true})");
    if (p.rfind("/db/", 0) == 0 && req.method == "PUT") return c.reply(201, R"({"ok":true})");
    if (p.rfind("/db/", 0) == 0 && req.query.count("open_revs")) {
      const Doc* d = find(p.substr(4));
      if (!d) return c.reply(404, R"({"error":"not_found","reason":"missing"})");
      if (req.header("accept").find("multipart/mixed") != std::string::npos && !d->attachment.empty()) {
        auto [boundary, body] = openRevsMultipart(*d);
        return c.reply(200, body, "multipart/mixed; boundary=\"" + boundary + "\"");
      }
      bool inlined = req.query.count("attachments") && req.query.at("attachments") == "true";
      return c.reply(200, "[{\"ok\":" + docJson(*d, inlined ? Atts::Inline : Atts::Stub) + "}]");
    }
    return c.reply(404, R"({"error":"not_found","reason":"no such thing"})");
  }

  std::string bulkGet(const PeerRequest& req) const {
    bool inlined = req.query.count("attachments") && req.query.at("attachments") == "true";
    simdjson::dom::parser parser;
    simdjson::dom::array docs;
    if (parser.parse(req.body)["docs"].get(docs))
      throw std::runtime_error("fake peer: bad _bulk_get request " + req.body);
    return json([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "results");
      w.StartArray();
      for (simdjson::dom::element asked : docs) {
        std::string_view idView;
        if (asked["id"].get(idView) || !find(std::string(idView)))
          throw std::runtime_error("fake peer: asked for " + req.body);
        std::string id(idView);
        w.StartObject();
        db::writeKey(w, "id");
        db::writeString(w, id);
        db::writeKey(w, "docs");
        w.StartArray();
        w.StartObject();
        db::writeKey(w, "ok");
        db::writeRaw(w, docJson(*find(id), inlined ? Atts::Inline : Atts::Stub));
        w.EndObject();
        w.EndArray();
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    });
  }

  static std::string revsDiff(const PeerRequest& req) {
    simdjson::dom::parser parser;
    simdjson::dom::object root;
    if (parser.parse(req.body).get(root))
      throw std::runtime_error("fake peer: bad _revs_diff request " + req.body);
    return json([&](db::JsonWriter& w) {
      w.StartObject();
      for (auto field : root) {
        db::writeKey(w, field.key);
        w.StartObject();
        db::writeKey(w, "missing");
        db::writeElement(w, field.value);
        w.EndObject();
      }
      w.EndObject();
    });
  }

  template <class F>
  static std::string json(F&& fn) {
    db::JsonBuffer buf;
    db::JsonWriter w(buf);
    fn(w);
    return std::string(db::bufferView(buf));
  }

 private:
  std::vector<Doc> docs_;
};

}  // namespace settee::test
