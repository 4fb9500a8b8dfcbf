// A remote database over HTTP: CouchDB's replication requests, as PROTOCOL.md lists them.
#include "replicator/remote_endpoint.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>

#include "db/crypto.h"
#include "db/json.h"
#include "http/multipart.h"
#include "replicator/client_thread.h"
#include "replicator/open_revs_reader.h"
#include "replicator/remote_answers.h"
#include "replicator/spool.h"
#include "replicator/tuning.h"

namespace settee::repl {
namespace {

using simdjson::dom::element;

// A peer's answer as a Status: the HTTP status mapped back to CouchDB's error names, and any network
// failure as an internal (retryable) error.
Status statusOf(const http::ClientResponse& r, const std::string& what) {
  // A certificate that does not verify will not verify on a retry: stop at once, saying why.
  if (r.error.code == http::ClientErrc::CertificateRejected) return {ErrorCode::Forbidden, what + ": " + r.error.message};
  if (r.error.code == http::ClientErrc::InvalidRequest) return {ErrorCode::BadRequest, what + ": " + r.error.message};
  // An answer over its bound will be as large when asked again.
  if (r.error.code == http::ClientErrc::TooLarge) return {ErrorCode::TooLarge, what + ": " + r.error.message};
  if (!r.ok()) return {ErrorCode::Internal, what + ": " + r.error.message};
  if (r.status >= 200 && r.status < 300) return Status::ok();
  std::string reason = what + ": HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
  switch (r.status) {
    case 400: return {ErrorCode::BadRequest, reason};
    case 401: return {ErrorCode::Unauthorized, reason};
    case 403: return {ErrorCode::Forbidden, reason};
    case 404: return {ErrorCode::NotFound, reason};
    case 409: return {ErrorCode::Conflict, reason};
    case 412: return {ErrorCode::PreconditionFailed, reason};
    case 413: return {ErrorCode::TooLarge, reason};
    case 415: return {ErrorCode::BadContentType, reason};
    default: return {ErrorCode::Internal, reason};
  }
}

class RemoteEndpoint : public Endpoint {
 public:
  RemoteEndpoint(http::Url url, const EndpointOptions& options) : url_(std::move(url)), options_(options) {
    // The database URL without a trailing slash; every request path is appended to it.
    while (url_.target.size() > 1 && url_.target.back() == '/') url_.target.pop_back();
    http::ClientOptions co;
    co.caFile = options.caFile;
    co.connectTimeoutMs = static_cast<uint64_t>(options.timeout.count());
    co.readTimeoutMs = static_cast<uint64_t>(options.timeout.count());
    clientOptions_ = co;
    client_ = std::make_unique<ClientThread>(co);
  }

  std::string describe() const override {
    http::Url clean = url_;
    clean.password.clear();  // the user name identifies the replication, the password does not
    return clean.toString();
  }

  Result<PeerInfo> info() override {
    auto r = send("GET", "", "");
    if (Status st = statusOf(r, "GET " + describe()); !st) return st;
    simdjson::dom::parser p;
    element root, seq;
    std::string_view start;
    if (p.parse(r.body).get(root) || root.type() != simdjson::dom::element_type::OBJECT || root["update_seq"].get(seq))
      return Status(ErrorCode::NotFound, describe() + " is not a CouchDB database (no update_seq)");
    PeerInfo info{db::toJson(seq), ""};
    if (!root["instance_start_time"].get(start)) info.instanceStartTime = start;
    return info;
  }

  Status create() override {
    auto r = send("PUT", "", "");
    if (r.ok() && r.status == 412) return Status::ok();
    return statusOf(r, "PUT " + describe());
  }

  Result<std::optional<std::string>> getLocal(const std::string& id) override {
    auto r = send("GET", "/" + http::encodeDocId(id), "");
    if (r.ok() && r.status == 404) return std::optional<std::string>();
    if (Status st = statusOf(r, "GET checkpoint"); !st) return st;
    simdjson::dom::parser p;
    simdjson::dom::object checkpoint;
    if (p.parse(r.body).get(checkpoint)) return badAnswer("GET " + describe() + "/" + id, "not a JSON object");
    return std::optional<std::string>(std::move(r.body));
  }

  Result<std::string> putLocal(const std::string& id, const std::string& json) override {
    auto r = send("PUT", "/" + http::encodeDocId(id), json);
    if (Status st = statusOf(r, "PUT checkpoint"); !st) return st;
    simdjson::dom::parser p;
    std::string_view rev;
    element root;
    if (p.parse(r.body).get(root) || root.type() != simdjson::dom::element_type::OBJECT || root["rev"].get(rev))
      return badAnswer("PUT " + describe() + "/" + id, "no string `rev`");
    return std::string(rev);
  }

  Result<ChangesBatch> changes(const std::string& since, size_t limit, const Filter& filter, bool wait,
                               std::chrono::milliseconds timeout) override {
    std::vector<std::pair<std::string, std::string>> q = {
        {"style", "all_docs"}, {"since", unquote(since)}, {"limit", std::to_string(limit)}};
    if (wait) {
      q.emplace_back("feed", "longpoll");
      q.emplace_back("timeout", std::to_string(timeout.count()));
      q.emplace_back("heartbeat", std::to_string(options_.heartbeat.count()));
    }
    std::string body;
    std::string method = "GET";
    if (!filter.docIds.empty()) {
      q.emplace_back("filter", "_doc_ids");
      method = "POST";
      body = writeJsonDoc([&](db::JsonWriter& w) {
        w.StartObject();
        db::writeKey(w, "doc_ids");
        w.StartArray();
        for (const auto& id : filter.docIds) db::writeString(w, id);
        w.EndArray();
        w.EndObject();
      });
    } else if (!filter.selector.empty()) {
      q.emplace_back("filter", "_selector");
      method = "POST";
      body = R"({"selector":)" + filter.selector + "}";
    } else if (!filter.name.empty()) {
      q.emplace_back("filter", filter.name);
      appendQueryParams(filter.queryParams, q);
    }
    http::ClientRequest req = request(method, "/_changes" + http::buildQuery(q), body);
    req.maxBodySize = std::max(tuning::kSmallAnswerBytes, limit * tuning::kChangesRowBytes);
    // The feed watchdog: the read timer restarts with every byte, heartbeats included, so only a feed
    // silent past two heartbeats (or past its own timeout, for a peer without heartbeats) times out.
    // A feed that keeps sending heartbeats past its timeout, and one silence more, never ends: it fails.
    if (wait) {
      auto silence = std::max(tuning::feedSilence(options_.heartbeat), timeout + options_.heartbeat);
      req.readTimeoutMs = static_cast<uint64_t>(silence.count());
      req.deadlineMs = static_cast<uint64_t>((timeout + silence).count());
    }
    // A waiting feed has its own connection and I/O thread, so interrupt() can cancel it alone.
    ClientThread& client = wait ? feedClient() : *client_;
    if (wait && interrupted_) return Status(ErrorCode::Internal, "interrupted");
    auto r = exchange(client, std::move(req));
    const std::string what = method + " " + describe() + "/_changes";
    if (Status st = statusOf(r, what); !st) return st;
    return decodeChanges(r.body, since, what);
  }

  Result<std::vector<MissingRevs>> revsDiff(
      const std::vector<std::pair<std::string, std::vector<std::string>>>& revs) override {
    std::string body = writeJsonDoc([&](db::JsonWriter& w) {
      w.StartObject();
      for (const auto& [id, list] : revs) {
        db::writeKey(w, id);
        w.StartArray();
        for (const auto& r : list) db::writeString(w, r);
        w.EndArray();
      }
      w.EndObject();
    });
    http::ClientRequest req = request("POST", "/_revs_diff", body);
    req.maxBodySize = tuning::kBatchAnswerBytes;
    auto r = exchange(*client_, std::move(req));
    const std::string what = "POST " + describe() + "/_revs_diff";
    if (Status st = statusOf(r, what); !st) return st;
    return decodeRevsDiff(r.body, revs, what);
  }

  Result<std::vector<FetchedRev>> fetch(const std::vector<MissingRevs>& missing,
                                        std::vector<MissingRevs>* deferred) override {
    auto got = fetchAll(missing, deferred == nullptr);
    if (!got || !deferred) return got;
    // Fetched without attachment bytes: a revision that has attachments is fetched again, alone.
    std::vector<FetchedRev> out;
    out.reserve(got->size());
    for (auto& d : *got) {
      if (!hasAttachments(d.json)) {
        out.push_back(std::move(d));
        continue;
      }
      std::string rev;
      uint64_t bytes = stubBytes(d.json, &rev);
      if (rev.empty()) return Status(ErrorCode::Internal, "fetched document without _rev: " + d.id);
      auto m = std::find_if(missing.begin(), missing.end(), [&](const MissingRevs& x) { return x.id == d.id; });
      deferred->push_back({d.id, {std::move(rev)}, m == missing.end() ? std::vector<std::string>() : m->possibleAncestors,
                           bytes});
    }
    return out;
  }

  // GET open_revs with `Accept: multipart/mixed`, read as it arrives: attachment bytes to a spool.
  Result<std::vector<FetchedRev>> fetchStreamed(const MissingRevs& m) override {
    auto spool = Spool::create();
    if (!spool) return spool.status();
    // A JSON answer holds the attachments inline, as base64: bounded by what their stubs said, and
    // whatever they said, by what may ever be held whole.
    const uint64_t inlineBytes = m.attachmentBytes / 3 * 4 + 4;
    const size_t revs = std::max<size_t>(1, m.missing.size());
    const uint64_t jsonLimit = std::min<uint64_t>(tuning::kDocumentAnswerBytes + revs * inlineBytes, tuning::kInlineAnswerBytes);
    OpenRevsReader reader(m, *spool, "GET " + describe() + "/" + m.id + "?open_revs", jsonLimit);
    http::ClientRequest req = request("GET", "/" + http::encodeDocId(m.id) + openRevsQuery(m, true), "");
    for (auto& [name, value] : req.headers)
      if (name == "Accept") value = "multipart/mixed, application/json";
    req.deadlineMs = deadlineFor(m.attachmentBytes * revs);
    Sink sink{[&](const http::ResponseHead& head) { reader.headers(head); },
              [&](std::string_view piece) { return reader.data(piece); }};
    auto r = exchange(*client_, std::move(req), &sink);
    if (r.ok() && r.status == 404) return std::vector<FetchedRev>();
    if (r.ok() && (r.status < 200 || r.status >= 300)) r.body = reader.errorBody();
    auto got = reader.finish();
    // The reader's own verdict first when it stopped the transfer (a malformed answer).
    if (!got && r.error.code == http::ClientErrc::Cancelled && !interrupted_) return got.status();
    if (Status st = statusOf(r, "GET " + describe() + "/" + m.id + "?open_revs"); !st) return st;
    return got;
  }

 private:
  // ?revs=true&latest=true&attachments=...&open_revs=[...]&atts_since=[...] for one document.
  static std::string openRevsQuery(const MissingRevs& m, bool attachments) {
    std::string revs = writeJsonDoc([&](db::JsonWriter& w) {
      w.StartArray();
      for (const auto& r : m.missing) db::writeString(w, r);
      w.EndArray();
    });
    std::vector<std::pair<std::string, std::string>> q = {
        {"revs", "true"}, {"latest", "true"}, {"attachments", attachments ? "true" : "false"}, {"open_revs", revs}};
    if (attachments && !m.possibleAncestors.empty()) {
      q.emplace_back("atts_since", writeJsonDoc([&](db::JsonWriter& w) {
                       w.StartArray();
                       for (const auto& r : m.possibleAncestors) db::writeString(w, r);
                       w.EndArray();
                     }));
    }
    return http::buildQuery(q);
  }

  Result<std::vector<FetchedRev>> fetchAll(const std::vector<MissingRevs>& missing, bool attachments) {
    if (!noBulkGet_) {
      auto got = bulkGet(missing, attachments);
      if (!got) return got.status();
      if (*got) return std::move(**got);
      noBulkGet_ = true;  // an old peer without _bulk_get: fall back to one GET per document
    }
    std::vector<FetchedRev> out;
    for (const auto& m : missing) {
      if (attachments) {
        // Attachment bodies as multipart, each to a spool: a peer without _bulk_get still never has a
        // whole attachment held here (unless it answers JSON only).
        auto got = fetchStreamed(m);
        if (!got) return got.status();
        for (auto& d : *got) out.push_back(std::move(d));
        continue;
      }
      http::ClientRequest req = request("GET", "/" + http::encodeDocId(m.id) + openRevsQuery(m, false), "");
      req.maxBodySize = tuning::kDocumentAnswerBytes;
      auto r = exchange(*client_, std::move(req));
      if (r.ok() && r.status == 404) continue;
      const std::string what = "GET " + describe() + "/" + m.id + "?open_revs";
      if (Status st = statusOf(r, what); !st) return st;
      auto got = decodeOpenRevs(r.body, m, what);
      if (!got) return got.status();
      for (auto& d : *got) out.push_back(std::move(d));
    }
    return out;
  }

 public:
  // Documents carrying attachment bytes past tuning::kMultipartThreshold go one by one as a
  // multipart/related PUT ?new_edits=false, as CouchDB's replicator sends them: the bytes travel raw
  // instead of base64 and do not count against the target's max_document_size. The rest go in one
  // _bulk_docs. A peer that refuses multipart (415) gets inline attachments from then on.
  Result<std::vector<DocResult>> write(const std::vector<FetchedRev>& docs) override {
    std::vector<DocResult> failures;
    std::deque<FetchedRev> inlined;  // stable addresses for `bulk`
    std::vector<const FetchedRev*> bulk;
    bulk.reserve(docs.size());
    simdjson::dom::parser parser;  // one parse per document with attachments, shared with putMultipart
    for (const auto& d : docs) {
      simdjson::dom::object root;
      const bool candidate = !noMultipart_ && (!d.bodies.empty() || hasAttachments(d.json));
      if (candidate && parser.parse(d.json).get(root))
        return Status(ErrorCode::Internal, "unparsable fetched document " + d.id);
      if (candidate && (!d.bodies.empty() || inlineAttachmentBytes(root) >= tuning::kMultipartThreshold)) {
        auto put = putMultipart(d, root);
        if (!put) return put.status();
        if (!put->has_value()) continue;  // written
        if ((**put).status.code() != ErrorCode::BadContentType) {
          failures.push_back(std::move(**put));
          continue;
        }
        noMultipart_ = true;
      }
      if (d.bodies.empty()) {
        bulk.push_back(&d);
        continue;
      }
      // A peer without multipart: the bodies beside the JSON go inline, read whole (the only way to
      // send them there).
      auto json = withInlineBodies(d);
      if (!json) return json.status();
      inlined.push_back({d.id, std::move(*json), {}});
      bulk.push_back(&inlined.back());
    }
    if (bulk.empty()) return failures;
    std::string body = writeJsonDoc([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "new_edits");
      w.Bool(false);
      db::writeKey(w, "docs");
      w.StartArray();
      for (const FetchedRev* d : bulk) db::writeRaw(w, d->json);
      w.EndArray();
      w.EndObject();
    });
    http::ClientRequest req = request("POST", "/_bulk_docs", body);
    req.maxBodySize = tuning::kBatchAnswerBytes;
    auto r = exchange(*client_, std::move(req));
    const std::string what = "POST " + describe() + "/_bulk_docs";
    if (Status st = statusOf(r, what); !st) return st;
    auto answered = decodeBulkDocs(r.body, what);
    if (!answered) return answered.status();
    for (auto& f : *answered) failures.push_back(std::move(f));
    return failures;
  }

  void interrupt() override {
    interrupted_ = true;
    std::lock_guard lock(feedMu_);
    if (feed_) feed_->cancelAll();
  }

  Status ensureFullCommit() override {
    auto r = send("POST", "/_ensure_full_commit", "{}");
    if (r.ok() && r.status == 404) return Status::ok();  // optional on newer peers
    return statusOf(r, "POST _ensure_full_commit");
  }

 private:
  template <class F>
  static std::string writeJsonDoc(F&& fn) {
    db::JsonBuffer buf;
    db::JsonWriter w(buf);
    fn(w);
    return std::string(db::bufferView(buf));
  }

  // `since` goes in the query as the source gave it: a number as digits, a string without its quotes.
  static std::string unquote(const std::string& json) {
    if (json.size() >= 2 && json.front() == '"' && json.back() == '"') {
      simdjson::dom::parser p;
      std::string_view s;
      if (!p.parse(json).get(s)) return std::string(s);
    }
    return json;
  }

  static void appendQueryParams(const std::string& json, std::vector<std::pair<std::string, std::string>>& q) {
    if (json.empty()) return;
    simdjson::dom::parser p;
    element root;
    if (p.parse(json).get(root) || root.type() != simdjson::dom::element_type::OBJECT) return;
    for (auto field : simdjson::dom::object(root)) {
      std::string_view s;
      q.emplace_back(std::string(field.key), field.value.get(s) ? db::toJson(field.value) : std::string(s));
    }
  }

  // The revisions, or nullopt when the peer has no _bulk_get. An answer over its bound is asked again in
  // halves, down to one document (see tuning::kBatchAnswerBytes).
  Result<std::optional<std::vector<FetchedRev>>> bulkGet(const std::vector<MissingRevs>& missing, bool attachments) {
    using Answer = std::optional<std::vector<FetchedRev>>;
    std::string body = writeJsonDoc([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "docs");
      w.StartArray();
      for (const auto& m : missing) {
        for (const auto& rev : m.missing) {
          w.StartObject();
          db::writeKey(w, "id");
          db::writeString(w, m.id);
          db::writeKey(w, "rev");
          db::writeString(w, rev);
          if (attachments && !m.possibleAncestors.empty()) {
            db::writeKey(w, "atts_since");
            w.StartArray();
            for (const auto& a : m.possibleAncestors) db::writeString(w, a);
            w.EndArray();
          }
          w.EndObject();
        }
      }
      w.EndArray();
      w.EndObject();
    });
    http::ClientRequest req = request("POST", attachments ? "/_bulk_get?revs=true&latest=true&attachments=true"
                                                          : "/_bulk_get?revs=true&latest=true&attachments=false",
                                      body);
    req.maxBodySize = missing.size() == 1 ? tuning::kDocumentAnswerBytes : tuning::kBatchAnswerBytes;
    auto r = exchange(*client_, std::move(req));
    const std::string what = "POST " + describe() + "/_bulk_get";
    if (r.error.code == http::ClientErrc::TooLarge && missing.size() > 1) {
      const auto half = missing.begin() + static_cast<long>(missing.size() / 2);
      auto first = bulkGet({missing.begin(), half}, attachments);
      if (!first || !*first) return first;
      auto second = bulkGet({half, missing.end()}, attachments);
      if (!second || !*second) return second;
      for (auto& d : **second) (*first)->push_back(std::move(d));
      return first;
    }
    // An old peer without _bulk_get answers 404, 405, 501 or, treating it as a document, 400 or 415.
    if (r.ok() && (r.status == 400 || r.status == 404 || r.status == 405 || r.status == 415 || r.status == 501))
      return Answer();
    if (Status st = statusOf(r, what); !st) return st;
    auto got = decodeBulkGet(r.body, missing, what);
    if (!got) return got.status();
    return Answer(std::move(*got));
  }

  // `root` written again, each `_attachments` entry's value by `entry(name, value, w)` (its key is written).
  template <class F>
  static std::string rewriteAttachments(simdjson::dom::object root, F&& entry) {
    return writeJsonDoc([&](db::JsonWriter& w) {
      w.StartObject();
      for (auto field : root) {
        db::writeKey(w, field.key);
        simdjson::dom::object atts;
        if (field.key != "_attachments" || field.value.get(atts)) {
          db::writeElement(w, field.value);
          continue;
        }
        w.StartObject();
        for (auto att : atts) {
          db::writeKey(w, att.key);
          entry(att.key, att.value, w);
        }
        w.EndObject();
      }
      w.EndObject();
    });
  }

  // `d.json` with each `follows` attachment's body from `d.bodies` inline as base64 `data`.
  static Result<std::string> withInlineBodies(const FetchedRev& d) {
    simdjson::dom::parser parser;
    simdjson::dom::object root;
    if (parser.parse(d.json).get(root)) return Status(ErrorCode::Internal, "unparsable fetched document " + d.id);
    Status failed;
    std::string json = rewriteAttachments(root, [&](std::string_view name, simdjson::dom::element value, db::JsonWriter& w) {
      auto body = std::find_if(d.bodies.begin(), d.bodies.end(), [&](auto& b) { return b.name == name; });
      simdjson::dom::object meta;
      if (body == d.bodies.end() || value.get(meta)) {
        db::writeElement(w, value);
        return;
      }
      std::string bytes = body->data;
      if (body->source) {
        bytes.resize(body->source->size());
        for (size_t at = 0; at < bytes.size();) {
          auto got = body->source->read(at, bytes.data() + at, bytes.size() - at);
          if (!got || *got == 0) {
            failed = got ? Status(ErrorCode::Internal, "attachment body ended early") : got.status();
            break;
          }
          at += *got;
        }
      }
      w.StartObject();
      for (auto m : meta) {
        if (m.key == "follows" || m.key == "length" || m.key == "stub") continue;
        db::writeKey(w, m.key);
        db::writeElement(w, m.value);
      }
      db::writeKey(w, "data");
      db::writeString(w, db::base64Encode(bytes));
      w.EndObject();
    });
    if (!failed) return failed;
    return json;
  }

  // The decoded size of the attachment bytes inline (base64 `data`) in a document's JSON; 0 when none.
  static size_t inlineAttachmentBytes(simdjson::dom::object doc) {
    simdjson::dom::object atts;
    if (doc["_attachments"].get(atts)) return 0;
    size_t bytes = 0;
    for (auto field : atts) {
      std::string_view data;
      if (!field.value["data"].get(data)) bytes += data.size() / 4 * 3;
    }
    return bytes;
  }

  // PUT /db/{id}?new_edits=false with the document as multipart/related: the JSON (each inline
  // attachment turned into `follows: true`), then one part per attachment in `_attachments` order.
  // nullopt when written; a DocResult when the target refused this document (counted as a write
  // failure; bad_content_type when it does not take multipart at all); an error to retry the batch.
  // `root` is `d.json` parsed.
  Result<std::optional<DocResult>> putMultipart(const FetchedRev& d, simdjson::dom::object root) {
    struct BodyPart {
      std::string_view name, type;
      std::string bytes;
      std::shared_ptr<const ByteSource> source;  // instead of `bytes`: a spooled body, streamed
    };
    std::vector<BodyPart> parts;  // in `_attachments` order
    std::string badAttachment;
    std::string json = rewriteAttachments(root, [&](std::string_view name, simdjson::dom::element value, db::JsonWriter& w) {
      std::string_view data, type = "application/octet-stream";
      simdjson::dom::object meta;
      const bool isObject = !value.get(meta);
      if (!isObject || meta["data"].get(data)) {
        db::writeElement(w, value);  // a stub, or `follows` with its body in d.bodies
        bool follows = false;
        if (isObject && !meta["follows"].get(follows) && follows) {
          if (meta["content_type"].get(type)) type = "application/octet-stream";
          auto body = std::find_if(d.bodies.begin(), d.bodies.end(), [&](auto& b) { return b.name == name; });
          if (body == d.bodies.end()) badAttachment = std::string(name);
          else parts.push_back({name, type, body->source ? std::string() : body->data, body->source});
        }
        return;
      }
      if (meta["content_type"].get(type)) type = "application/octet-stream";
      auto bytes = db::base64Decode(data);
      if (!bytes) badAttachment = std::string(name);
      w.StartObject();
      bool hasLength = false;
      for (auto m : meta) {
        if (m.key == "data" || m.key == "stub" || m.key == "follows") continue;
        hasLength = hasLength || m.key == "length";
        db::writeKey(w, m.key);
        db::writeElement(w, m.value);
      }
      db::writeKey(w, "follows");
      w.Bool(true);
      if (!hasLength) {
        db::writeKey(w, "length");
        w.Uint64(bytes ? bytes->size() : 0);
      }
      w.EndObject();
      parts.push_back({name, type, bytes ? std::move(*bytes) : std::string(), nullptr});
    });
    if (!badAttachment.empty())
      return std::optional<DocResult>(DocResult{d.id, {}, Status(ErrorCode::BadRequest, "unreadable attachment " + badAttachment)});
    http::MultipartWriter mp(http::randomBoundary());
    // Text and spooled bodies in order; held bytes are appended to the text, spooled ones streamed.
    auto chain = std::make_shared<ByteChain>();
    std::string text;
    mp.addPart({{"Content-Type", "application/json"}}, json, text);
    // Content-Disposition names the attachment, as CouchDB writes it; multipart parsers such as
    // pouchdb-server's take a part without a filename for a form field, not a file.
    for (auto& part : parts) {
      std::string filename;
      for (char c : part.name) {
        if (c == '"' || c == '\\') filename += '\\';
        filename += c;
      }
      mp.beginPart({{"Content-Disposition", "attachment; filename=\"" + filename + "\""},
                    {"Content-Type", std::string(part.type)},
                    {"Content-Length", std::to_string(part.source ? part.source->size() : part.bytes.size())}},
                   text);
      if (!part.source) {
        text += part.bytes;
        std::string().swap(part.bytes);  // the bytes now live in `text` only
        continue;
      }
      chain->add(std::move(text));
      text.clear();
      chain->add(part.source);
    }
    mp.finish(text);
    http::ClientRequest req = request("PUT", "/" + http::encodeDocId(d.id) + "?new_edits=false", "");
    for (auto& [name, value] : req.headers)
      if (name == "Content-Type") value = mp.contentType("related");
    if (chain->size() == 0) {
      req.body = std::move(text);
    } else {
      chain->add(std::move(text));
      req.bodyLength = chain->size();
      req.deadlineMs = deadlineFor(req.bodyLength);
      req.bodyReader = [chain](uint64_t offset, char* buf, size_t n) { return chain->read(offset, buf, n); };
    }
    auto r = exchange(*client_, std::move(req));
    if (r.ok() && (r.status == 201 || r.status == 202)) return std::optional<DocResult>();
    Status st = statusOf(r, "PUT " + d.id);
    // Network errors and 5xx retry the batch; a refusal of this one document is its write failure.
    if (!r.ok() || r.status >= 500 || r.status == 408 || r.status == 429) return st;
    return std::optional<DocResult>(DocResult{d.id, {}, st});
  }

  http::ClientRequest request(const std::string& method, const std::string& path, const std::string& body) {
    http::ClientRequest req;
    req.method = method;
    req.url = url_;
    req.url.target = url_.target + path;
    req.headers = options_.headers;
    req.headers.emplace_back("Accept", "application/json");
    if (!body.empty() || method == "POST" || method == "PUT") req.headers.emplace_back("Content-Type", "application/json");
    req.body = body;
    req.acceptGzip = true;
    // Callers with larger answers raise this; the deadline bounds a peer that trickles bytes for ever.
    req.maxBodySize = tuning::kSmallAnswerBytes;
    if (options_.timeout.count() > 0)
      req.deadlineMs = static_cast<uint64_t>(options_.timeout.count()) * tuning::kAnswerDeadlineTimeouts;
    return req;
  }

  // The deadline of a request that moves `bytes` of attachments besides its JSON: time enough at
  // tuning::kSlowestPeerBytesPerSecond.
  uint64_t deadlineFor(uint64_t bytes) const {
    if (options_.timeout.count() <= 0) return 0;
    return static_cast<uint64_t>(options_.timeout.count()) * tuning::kAnswerDeadlineTimeouts +
           bytes * 1000 / tuning::kSlowestPeerBytesPerSecond;
  }

  http::ClientResponse send(const std::string& method, const std::string& path, const std::string& body) {
    return exchange(*client_, request(method, path, body));
  }

  // Every request goes through here. With credentials in the URL, as CouchDB's replicator does: log in
  // once with POST /_session and send the AuthSession cookie instead of the password; take a refreshed
  // cookie from any answer; on a 401 log in again and repeat the request once (the session expired).
  // A peer without a usable /_session gets Basic auth on every request instead.
  // With `sink`, the answer's body goes to it as it arrives instead of into the response (a repeated
  // request calls its onHeaders again).
  struct Sink {
    std::function<void(const http::ResponseHead&)> onHeaders;
    std::function<bool(std::string_view)> onData;
  };
  http::ClientResponse exchange(ClientThread& client, http::ClientRequest req, const Sink* sink = nullptr) {
    auto call = [&](http::ClientRequest q) {
      return sink ? client.stream(std::move(q), sink->onHeaders, sink->onData) : client.call(std::move(q));
    };
    if (url_.user.empty() && url_.password.empty()) return call(std::move(req));
    http::ClientResponse failedLogin;
    std::string cookie = session(client, false, failedLogin);
    if (cookie.empty()) return call(std::move(req));
    http::ClientRequest again = req;
    auto r = call(withCookie(std::move(req), cookie));
    if (r.ok() && r.status == 401) {
      cookie = session(client, true, failedLogin);
      // The login itself failed (network, 5xx): that answer, which the caller retries, not a 401.
      if (!failedLogin.ok() || failedLogin.status >= 500) return failedLogin;
      if (cookie.empty()) return call(std::move(again));  // Basic from now on
      r = call(withCookie(std::move(again), cookie));
    }
    keepCookie(r);
    return r;
  }

  static http::ClientRequest withCookie(http::ClientRequest req, const std::string& cookie) {
    req.url.user.clear();
    req.url.password.clear();
    req.headers.emplace_back("Cookie", cookie);
    return req;
  }

  // The AuthSession cookie to send; "" for Basic auth. Logs in when there is none yet or `renew`; a
  // login that failed on the network or with a 5xx is left in `failed` (and decides nothing).
  std::string session(ClientThread& client, bool renew, http::ClientResponse& failed) {
    {
      std::lock_guard lock(authMu_);
      if (basicOnly_) return {};
      if (!cookie_.empty() && !renew) return cookie_;
    }
    http::ClientRequest login = request("POST", "", writeJsonDoc([&](db::JsonWriter& w) {
                                          w.StartObject();
                                          db::writeKey(w, "name");
                                          db::writeString(w, url_.user);
                                          db::writeKey(w, "password");
                                          db::writeString(w, url_.password);
                                          w.EndObject();
                                        }));
    // /_session lives at the server's root: the database URL without its last path segment.
    std::string root = url_.target.substr(0, url_.target.rfind('/'));
    login.url.target = root + "/_session";
    login.url.user.clear();
    login.url.password.clear();
    auto r = client.call(std::move(login));
    std::lock_guard lock(authMu_);
    // A login answer over its bound would be as large next time: no usable sessions here.
    const bool tooLarge = r.error.code == http::ClientErrc::TooLarge;
    if (!tooLarge && (!r.ok() || r.status >= 500 || r.status == 429)) {  // decide on a later request
      failed = std::move(r);
      return cookie_;
    }
    const std::string* set = r.header("Set-Cookie");
    size_t at = set ? set->find("AuthSession=") : std::string::npos;
    if (tooLarge || r.status != 200 || at == std::string::npos) {
      basicOnly_ = true;  // no sessions here (or not for these credentials): Basic says why on each request
      cookie_.clear();
      return {};
    }
    cookie_ = set->substr(at, set->find(';', at) - at);
    return cookie_;
  }

  void keepCookie(const http::ClientResponse& r) {
    const std::string* set = r.ok() ? r.header("Set-Cookie") : nullptr;
    size_t at = set ? set->find("AuthSession=") : std::string::npos;
    if (at == std::string::npos) return;
    std::string fresh = set->substr(at, set->find(';', at) - at);
    std::lock_guard lock(authMu_);
    if (fresh.size() > std::string_view("AuthSession=").size()) cookie_ = std::move(fresh);
  }

  ClientThread& feedClient() {
    std::lock_guard lock(feedMu_);
    if (!feed_) feed_ = std::make_unique<ClientThread>(clientOptions_);
    return *feed_;
  }

  http::Url url_;
  EndpointOptions options_;
  http::ClientOptions clientOptions_;
  std::unique_ptr<ClientThread> client_;
  std::mutex feedMu_;
  std::unique_ptr<ClientThread> feed_;  // created by the first waiting changes() call
  std::atomic<bool> interrupted_{false};
  std::mutex authMu_;
  std::string cookie_;      // "AuthSession=..." once logged in
  bool basicOnly_ = false;  // the peer has no usable /_session
  std::atomic<bool> noBulkGet_{false};
  std::atomic<bool> noMultipart_{false};
};

}  // namespace

Result<std::unique_ptr<Endpoint>> makeRemoteEndpoint(const std::string& url, const EndpointOptions& options) {
  auto parsed = http::Url::parse(url);
  if (!parsed) return badRequest("not an http(s) URL: " + url);
  return std::unique_ptr<Endpoint>(std::make_unique<RemoteEndpoint>(std::move(*parsed), options));
}

}  // namespace settee::repl
