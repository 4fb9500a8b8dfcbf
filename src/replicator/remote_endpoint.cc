// A remote database over HTTP: CouchDB's replication requests, as PROTOCOL.md lists them. What is asked
// and the fallbacks for older peers live here; the rest by aspect: reading the answers
// (remote_answers.*, open_revs_reader.*), the session and requests' defaults (remote_session.*), and the
// encoding of writes (remote_writes.*).
#include "replicator/remote_endpoint.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>

#include "db/json.h"
#include "replicator/client_thread.h"
#include "replicator/open_revs_reader.h"
#include "replicator/remote_answers.h"
#include "replicator/remote_session.h"
#include "replicator/remote_writes.h"
#include "replicator/spool.h"
#include "replicator/tuning.h"

namespace settee::repl {
namespace {

using simdjson::dom::element;

class RemoteEndpoint : public Endpoint {
 public:
  RemoteEndpoint(http::Url url, const EndpointOptions& options) : session_(std::move(url), options) {}

  std::string describe() const override { return session_.describe(); }

  Result<PeerInfo> info() override {
    auto r = session_.send("GET", "", "");
    if (Status st = statusOf(r, "GET " + describe()); !st) return st;
    simdjson::dom::parser p;
    element root, seq;
    std::string_view start;
    if (p.parse(r.body).get(root) || root.type() != simdjson::dom::element_type::OBJECT ||
        root["update_seq"].get(seq))
      return Status(ErrorCode::NotFound, describe() + " is not a CouchDB database (no update_seq)");
    PeerInfo info{db::toJson(seq), ""};
    if (!root["instance_start_time"].get(start)) info.instanceStartTime = start;
    return info;
  }

  Status create() override {
    auto r = session_.send("PUT", "", "");
    if (r.ok() && r.status == 412) return Status::ok();
    return statusOf(r, "PUT " + describe());
  }

  Result<std::optional<std::string>> getLocal(const std::string& id) override {
    auto r = session_.send("GET", "/" + http::encodeDocId(id), "");
    if (r.ok() && r.status == 404) return std::optional<std::string>();
    if (Status st = statusOf(r, "GET checkpoint"); !st) return st;
    simdjson::dom::parser p;
    simdjson::dom::object checkpoint;
    if (p.parse(r.body).get(checkpoint))
      return badAnswer("GET " + describe() + "/" + id, "not a JSON object");
    return std::optional<std::string>(std::move(r.body));
  }

  Result<std::string> putLocal(const std::string& id, const std::string& json) override {
    auto r = session_.send("PUT", "/" + http::encodeDocId(id), json);
    if (Status st = statusOf(r, "PUT checkpoint"); !st) return st;
    simdjson::dom::parser p;
    std::string_view rev;
    element root;
    if (p.parse(r.body).get(root) || root.type() != simdjson::dom::element_type::OBJECT ||
        root["rev"].get(rev))
      return badAnswer("PUT " + describe() + "/" + id, "no string `rev`");
    return std::string(rev);
  }

  Result<ChangesBatch> changes(const std::string& since, size_t limit, const Filter& filter, bool wait,
                               std::chrono::milliseconds timeout) override {
    std::vector<std::pair<std::string, std::string>> q = {
        {"style", "all_docs"}, {"since", unquote(since)}, {"limit", std::to_string(limit)}};
    if (wait) {
      q.emplace_back("feed", "longpoll");
      // No `heartbeat` asked: CouchDB (and Settee) keep a longpoll with heartbeats open past its timeout
      // until a change comes, so every quiet feed would end at the deadline below as a failed request
      // (Retrying, then a growing backoff that delays the next change). Without it the peer answers
      // empty at `timeout`, inside the watchdog's silence.
      q.emplace_back("timeout", std::to_string(timeout.count()));
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
      simdjson::dom::parser p;
      element selector;
      if (p.parse(filter.selector).get(selector)) return badRequest("the selector is not JSON");
      body = writeJsonDoc([&](db::JsonWriter& w) {
        w.StartObject();
        db::writeKey(w, "selector");
        db::writeElement(w, selector);
        w.EndObject();
      });
    } else if (!filter.name.empty()) {
      q.emplace_back("filter", filter.name);
      appendQueryParams(filter.queryParams, q);
    }
    http::ClientRequest req = session_.request(method, "/_changes" + http::buildQuery(q), body);
    req.maxBodySize = std::max(tuning::kSmallAnswerBytes, limit * tuning::kChangesRowBytes);
    // The feed watchdog: the read timer restarts with every byte, so only a feed silent past 2.5
    // heartbeats (the peer was asked to answer within 1.5) times out, and that is a failure. The deadline
    // bounds each wait: a feed still heard from at its deadline (a peer that sends heartbeat lines nobody
    // asked for and ignores `timeout`, as pouchdb-server does) was live but had nothing to say, so it ends
    // as an empty batch and the next wait asks again on a new request (a peer gone by then fails that one).
    std::chrono::milliseconds deadline{0};
    if (wait) {
      auto silence =
          std::max(tuning::feedSilence(session_.options().heartbeat), timeout + session_.options().heartbeat);
      deadline = timeout + silence;
      req.readTimeoutMs = static_cast<uint64_t>(silence.count());
      req.deadlineMs = static_cast<uint64_t>(deadline.count());
      // Heartbeats must reach the watchdog as they are sent: a compressed answer holds them in the peer's
      // deflate buffer (pouchdb-server's compression middleware sends the gzip header, then nothing), and
      // a live feed looks silent. A waiting feed's answer is one batch at most; CouchDB never compresses it.
      req.acceptGzip = false;
    }
    // A waiting feed has its own connection and I/O thread, so interrupt() can cancel it alone.
    ClientThread& client = wait ? session_.feedClient() : session_.client();
    if (wait && interrupted_) return Status(ErrorCode::Internal, "interrupted");
    const auto asked = std::chrono::steady_clock::now();
    auto r = session_.exchange(client, std::move(req));
    // The read timer never outlasts the deadline, so a timeout near it is the deadline's: the peer had
    // sent its status and kept sending within the silence limit until then. Near: the client's loop
    // clock may lag this one by a little; a silent peer's timeout (silence after its last byte) comes
    // this late only if it was heard from after the longpoll's own timeout.
    if (wait && r.error.code == http::ClientErrc::ReadTimeout && r.status >= 200 && r.status < 300 &&
        std::chrono::steady_clock::now() - asked >= deadline - session_.options().heartbeat / 2)
      return ChangesBatch{{}, since, std::nullopt};
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
    http::ClientRequest req = session_.request("POST", "/_revs_diff", body);
    req.maxBodySize = tuning::kBatchAnswerBytes;
    auto r = session_.exchange(session_.client(), std::move(req));
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
      if (!d.rev || !d.rev->hasAttachments()) {
        out.push_back(std::move(d));
        continue;
      }
      std::string rev = d.rev->revString();
      if (rev.empty()) return Status(ErrorCode::Internal, "fetched document without _rev: " + d.id);
      const uint64_t bytes = d.rev->stubBytes();
      auto m =
          std::find_if(missing.begin(), missing.end(), [&](const MissingRevs& x) { return x.id == d.id; });
      deferred->push_back({d.id,
                           {std::move(rev)},
                           m == missing.end() ? std::vector<std::string>() : m->possibleAncestors,
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
    const uint64_t jsonLimit =
        std::min<uint64_t>(tuning::kDocumentAnswerBytes + revs * inlineBytes, tuning::kInlineAnswerBytes);
    OpenRevsReader reader(m, *spool, "GET " + describe() + "/" + m.id + "?open_revs", jsonLimit);
    http::ClientRequest req =
        session_.request("GET", "/" + http::encodeDocId(m.id) + openRevsQuery(m, true), "");
    for (auto& [name, value] : req.headers)
      if (name == "Accept") value = "multipart/mixed, application/json";
    req.deadlineMs = session_.deadlineFor(m.attachmentBytes * revs);
    RemoteSession::Sink sink{[&](const http::ResponseHead& head) { reader.headers(head); },
                             [&](std::string_view piece) { return reader.data(piece); }};
    auto r = session_.exchange(session_.client(), std::move(req), &sink);
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
    std::vector<std::pair<std::string, std::string>> q = {{"revs", "true"},
                                                          {"latest", "true"},
                                                          {"attachments", attachments ? "true" : "false"},
                                                          {"open_revs", revs}};
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
      http::ClientRequest req =
          session_.request("GET", "/" + http::encodeDocId(m.id) + openRevsQuery(m, false), "");
      req.maxBodySize = tuning::kDocumentAnswerBytes;
      auto r = session_.exchange(session_.client(), std::move(req));
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
  // See remote_writes.h: multipart/related PUTs for revisions with many attachment bytes, one _bulk_docs
  // for the rest, each revision rendered once.
  Result<std::vector<DocResult>> write(const std::vector<FetchedRev>& docs) override {
    std::vector<DocResult> failures;
    std::deque<db::Revision> inlined;  // stable addresses for `bulk`
    std::vector<const db::Revision*> bulk;
    bulk.reserve(docs.size());
    for (const auto& d : docs) {
      if (!d.rev) {  // the source's revision breaks CouchDB's rules: refused, as the target would
        failures.push_back({d.id, {}, d.rev.status()});
        continue;
      }
      if (!noMultipart_ && wantsMultipart(*d.rev, d.bodies)) {
        auto put = putMultipart(d);
        if (!put) return put.status();
        if (!put->has_value()) continue;  // written
        if ((**put).status.code() != ErrorCode::BadContentType) {
          failures.push_back(std::move(**put));
          continue;
        }
        noMultipart_ = true;
      }
      if (d.bodies.empty()) {
        bulk.push_back(&*d.rev);
        continue;
      }
      // A peer without multipart: the bodies beside the revision go inline, read whole (the only way
      // to send them there).
      auto rev = withInlineBodies(*d.rev, d.bodies);
      if (!rev) return rev.status();
      inlined.push_back(std::move(*rev));
      bulk.push_back(&inlined.back());
    }
    if (bulk.empty()) return failures;
    auto answered = postBulk(bulk.data(), bulk.size());
    if (!answered) return answered.status();
    for (auto& f : *answered) failures.push_back(std::move(f));
    return failures;
  }

  void interrupt() override {
    interrupted_ = true;
    session_.cancelFeed();
  }

  Status ensureFullCommit() override {
    auto r = session_.send("POST", "/_ensure_full_commit", "{}");
    if (r.ok() && r.status == 404) return Status::ok();  // optional on newer peers
    return statusOf(r, "POST _ensure_full_commit");
  }

 private:
  // `since` goes in the query as the source gave it: a number as digits, a string without its quotes.
  static std::string unquote(const std::string& json) {
    if (json.size() >= 2 && json.front() == '"' && json.back() == '"') {
      simdjson::dom::parser p;
      std::string_view s;
      if (!p.parse(json).get(s)) return std::string(s);
    }
    return json;
  }

  static void appendQueryParams(const std::string& json,
                                std::vector<std::pair<std::string, std::string>>& q) {
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
  Result<std::optional<std::vector<FetchedRev>>> bulkGet(const std::vector<MissingRevs>& missing,
                                                         bool attachments) {
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
    http::ClientRequest req =
        session_.request("POST",
                         attachments ? "/_bulk_get?revs=true&latest=true&attachments=true"
                                     : "/_bulk_get?revs=true&latest=true&attachments=false",
                         body);
    req.maxBodySize = missing.size() == 1 ? tuning::kDocumentAnswerBytes : tuning::kBatchAnswerBytes;
    auto r = session_.exchange(session_.client(), std::move(req));
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
    if (r.ok() &&
        (r.status == 400 || r.status == 404 || r.status == 405 || r.status == 415 || r.status == 501))
      return Answer();
    if (Status st = statusOf(r, what); !st) return st;
    auto got = decodeBulkGet(r.body, missing, what);
    if (!got) return got.status();
    return Answer(std::move(*got));
  }

  // One _bulk_docs new_edits=false for `n` revisions from `revs`: the documents the target refused. A
  // peer answers the whole request 413 when one document is over its max_document_size (CouchDB 3.4 and
  // a Settee node do): as CouchDB's replicator does, the halves are sent apart, down to the one document
  // that is too large, which is refused alone (a write failure) so the others are still written.
  Result<std::vector<DocResult>> postBulk(const db::Revision* const* revs, size_t n) {
    db::JsonBuffer buf;
    db::JsonWriter w(buf);
    w.StartObject();
    db::writeKey(w, "new_edits");
    w.Bool(false);
    db::writeKey(w, "docs");
    w.StartArray();
    for (size_t i = 0; i < n; ++i) db::renderRevision(w, buf, *revs[i]);
    w.EndArray();
    w.EndObject();
    std::string body(db::bufferView(buf));
    http::ClientRequest req = session_.request("POST", "/_bulk_docs", body);
    req.maxBodySize = tuning::kBatchAnswerBytes;
    auto r = session_.exchange(session_.client(), std::move(req));
    if (r.ok() && r.status == 413) {
      if (n == 1) return std::vector<DocResult>{{revs[0]->id, revs[0]->revString(), decodeTooLarge(r.body)}};
      const size_t half = n / 2;
      auto first = postBulk(revs, half);
      if (!first) return first;
      auto second = postBulk(revs + half, n - half);
      if (!second) return second;
      for (auto& f : *second) first->push_back(std::move(f));
      return first;
    }
    const std::string what = "POST " + describe() + "/_bulk_docs";
    if (Status st = statusOf(r, what); !st) return st;
    return decodeBulkDocs(r.body, what);
  }

  // PUT /db/{id}?new_edits=false with the revision as multipart/related (see remote_writes.h). nullopt
  // when written; a DocResult when the target refused this document (counted as a write failure;
  // bad_content_type when it does not take multipart at all); an error to retry the batch.
  Result<std::optional<DocResult>> putMultipart(const FetchedRev& d) {
    http::ClientRequest req = session_.request("PUT", "/" + http::encodeDocId(d.id) + "?new_edits=false", "");
    if (Status st = encodeMultipart(*d.rev, d.bodies, req); !st)
      return std::optional<DocResult>(DocResult{d.id, {}, st});
    if (req.bodyLength) req.deadlineMs = session_.deadlineFor(req.bodyLength);
    auto r = session_.exchange(session_.client(), std::move(req));
    if (r.ok() && (r.status == 201 || r.status == 202)) return std::optional<DocResult>();
    if (r.ok() && r.status == 413)  // this document is over the peer's max_document_size
      return std::optional<DocResult>(DocResult{d.id, d.rev->revString(), decodeTooLarge(r.body)});
    Status st = statusOf(r, "PUT " + d.id);
    // Network errors and 5xx retry the batch; a refusal of this one document is its write failure.
    if (!r.ok() || r.status >= 500 || r.status == 408 || r.status == 429) return st;
    return std::optional<DocResult>(DocResult{d.id, {}, st});
  }

  RemoteSession session_;
  std::atomic<bool> interrupted_{false};
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
