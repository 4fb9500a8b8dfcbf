#include "replicator/local_endpoint.h"

#include <mutex>

#include "db/mango.h"
#include "db/database_internal.h"
#include "db/json.h"
#include "http/api.h"
#include "http/design_functions.h"
#include "replicator/spool.h"
#include "replicator/tuning.h"

namespace settee::repl {
namespace {

// The leading integer of a sequence given as JSON: 12, "12", "12-g1AAA", [12, "x"].
uint64_t seqNumber(const std::string& json) {
  uint64_t n = 0;
  for (char c : json) {
    if (c >= '0' && c <= '9') n = n * 10 + static_cast<uint64_t>(c - '0');
    else if (c == '"' || c == '[' || c == ' ') continue;
    else break;
  }
  return n;
}

std::mutex queryServersMutex;
std::shared_ptr<http::DesignFunctions> queryServers;

std::shared_ptr<http::DesignFunctions> designFunctions() {
  std::lock_guard lock(queryServersMutex);
  return queryServers;
}

// A named filter ("ddoc/name") prepared for a local source: its design document and the req object its
// function gets (query = the replication's query_params, as CouchDB's replicator sends them).
struct NamedFilter {
  http::JsFilter filter;
  http::DesignDocCopy ddoc;
  std::string req;
};

Result<NamedFilter> prepareNamedFilter(Database& db, const Filter& filter) {
  size_t slash = filter.name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == filter.name.size())
    return badRequest("filter parameter must be of the form `designname/filtername`");
  NamedFilter out;
  out.filter = {filter.name.substr(0, slash), filter.name.substr(slash + 1), false};
  auto ddoc = http::filterDesignDoc(db, out.filter);
  if (!ddoc) return ddoc.status();
  out.ddoc = std::move(*ddoc);
  std::vector<std::pair<std::string, std::string>> query;
  if (!filter.queryParams.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::object params;
    if (parser.parse(filter.queryParams).get(params)) return badRequest("query_params must be a JSON object");
    for (auto field : params) {
      std::string_view text;
      // Query parameters travel as text: a string as it is, anything else as its JSON.
      query.emplace_back(std::string(field.key),
                         field.value.get(text) ? db::toJson(field.value) : std::string(text));
    }
  }
  std::string secObj = "{}";
  if (auto security = db.security(); security && !security->empty()) secObj = std::move(*security);
  out.req = http::filterRequestJson(db.name(), "GET", "/" + db.name() + "/_changes", query, {}, {}, "127.0.0.1",
                                    http::userCtxJson(db.name(), {}, {}, false), secObj);
  return out;
}

// A replicated revision as validate_doc_update sees it: its body with _id, _rev and _deleted.
std::string validatedJson(const db::Revision& rev) {
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  const bool parsed = !parser.parse(rev.body).get(body);
  return http::writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    db::writeKey(w, "_id");
    db::writeString(w, rev.id);
    if (rev.rev) {
      db::writeKey(w, "_rev");
      db::writeString(w, rev.rev->str());
    }
    if (rev.deleted) {
      db::writeKey(w, "_deleted");
      w.Bool(true);
    }
    if (parsed) {
      for (auto field : body) {
        db::writeKey(w, field.key);
        db::writeElement(w, field.value);
      }
    }
    w.EndObject();
  });
}

}  // namespace

void setQueryServers(std::shared_ptr<http::DesignFunctions> design) {
  std::lock_guard lock(queryServersMutex);
  queryServers = std::move(design);
}

std::string LocalEndpoint::describe() const { return "local:" + db_->name(); }

Result<PeerInfo> LocalEndpoint::info() {
  if (Status st = mayRead(); !st) return st;
  auto i = db_->info();
  if (!i) return i.status();
  return PeerInfo{std::to_string(i->updateSeq), i->instanceStartTime};
}

Result<std::optional<std::string>> LocalEndpoint::getLocal(const std::string& id) {
  if (Status st = mayRead(); !st) return st;
  auto doc = db_->getLocal(id);
  if (doc) return std::optional<std::string>(std::move(*doc));
  if (doc.status().code() == ErrorCode::NotFound) return std::optional<std::string>();
  return doc.status();
}

Result<std::string> LocalEndpoint::putLocal(const std::string& id, const std::string& json) {
  if (Status st = mayWrite(id); !st) return st;
  auto r = db_->putLocal(id, json);
  if (!r) return r.status();
  return r->rev;
}

Result<ChangesBatch> LocalEndpoint::changes(const std::string& since, size_t limit, const Filter& filter, bool wait,
                                            std::chrono::milliseconds timeout) {
  if (Status st = mayRead(); !st) return st;
  std::optional<NamedFilter> named;
  auto design = designFunctions();
  if (!filter.name.empty() && !design) return badRequest("named filters need a CouchDB source");
  if (!filter.name.empty()) {
    auto prepared = prepareNamedFilter(*db_, filter);
    if (!prepared) return prepared.status();
    named = std::move(*prepared);
  }
  std::optional<db::Selector> selector;
  if (!filter.selector.empty()) {
    auto parsed = db::Selector::parseJson(filter.selector);
    if (!parsed) return parsed.status();
    selector = std::move(*parsed);
  }
  uint64_t from = seqNumber(since);
  if (wait) {
    // In slices, so interrupt() is seen within one.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!interrupted_ && std::chrono::steady_clock::now() < deadline &&
           db_->waitForChange(from, std::chrono::milliseconds(100)) <= from) {
    }
  }
  ChangesBatch batch;
  uint64_t last = from;
  // Filters apply before the limit, as on CouchDB: keep reading pages until `limit` rows passed or the
  // feed ended, so a batch shorter than `limit` always means "caught up".
  for (bool ended = false; !ended && batch.rows.size() < limit;) {
    ChangesOptions options;
    options.since = last;
    options.limit = limit;
    options.allLeaves = true;
    std::vector<Change> rows;
    auto scanned = db_->changes(options, [&](const Change& c) {
      rows.push_back(c);
      return true;
    });
    if (!scanned) return scanned.status();
    last = *scanned;
    ended = rows.size() < limit;
    std::vector<bool> passes;
    if (named) {
      // One call to the query servers for the page, each document at its winning revision.
      std::vector<std::string> docs;
      docs.reserve(rows.size());
      for (const auto& c : rows) {
        ReadOptions read;
        read.rev = c.revs.front();
        auto doc = db_->get(c.id, read);
        docs.push_back(doc ? std::move(*doc)
                           : http::writeJson([&](db::JsonWriter& w) {
                               w.StartObject();
                               db::writeKey(w, "_id");
                               db::writeString(w, c.id);
                               db::writeKey(w, "_deleted");
                               w.Bool(true);
                               w.EndObject();
                             }));
      }
      std::vector<std::string_view> views(docs.begin(), docs.end());
      auto ran = http::runFilter(*design, named->ddoc, named->filter, views, named->req);
      if (!ran) return ran.status();
      passes = std::move(*ran);
    }
    for (auto& c : rows) {
      if (named && !passes[static_cast<size_t>(&c - rows.data())]) continue;
      if (batch.rows.size() == limit) {
        last = batch.rows.empty() ? last : std::stoull(batch.rows.back().seq);
        break;
      }
      if (!filter.docIds.empty() &&
          std::find(filter.docIds.begin(), filter.docIds.end(), c.id) == filter.docIds.end())
        continue;
      // The winner's body decides, as CouchDB's _selector filter does; deletions pass so they replicate.
      if (selector && !c.deleted) {
        auto doc = db_->get(c.id);
        simdjson::dom::parser parser;
        simdjson::dom::element root;
        if (!doc || parser.parse(*doc).get(root) || !selector->matches(root)) continue;
      }
      batch.rows.push_back({std::to_string(c.seq), std::move(c.id), std::move(c.revs), c.deleted});
    }
  }
  batch.lastSeq = std::to_string(last);
  auto info = db_->info();
  if (!info) return info.status();
  uint64_t updateSeq = info->updateSeq;
  batch.pending = updateSeq > last ? updateSeq - last : 0;
  return batch;
}

Result<std::vector<MissingRevs>> LocalEndpoint::revsDiff(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& revs) {
  if (Status st = mayRead(); !st) return st;
  std::vector<MissingRevs> out;
  auto diff = db_->revsDiff(revs);
  if (!diff) return diff.status();
  for (auto& e : *diff) out.push_back({std::move(e.id), std::move(e.missing), std::move(e.possibleAncestors)});
  return out;
}

Result<std::vector<FetchedRev>> LocalEndpoint::fetch(const std::vector<MissingRevs>& missing,
                                                     std::vector<MissingRevs>* deferred) {
  if (Status st = mayRead(); !st) return st;
  std::vector<FetchedRev> out;
  for (const auto& m : missing) {
    ReadOptions options;
    options.revs = true;
    options.attachments = true;
    options.latest = true;
    options.attsSince = m.possibleAncestors;
    // Setting revisions with attachments aside, their attachments are read by reference (no bytes): what
    // is not a stub is what would travel, so the deferred entry counts exactly those bytes.
    auto revs = db::storeOf(*db_).getRevisions(m.id, m.missing, options,
                                               deferred ? db::Store::FollowMode::Reference : db::Store::FollowMode::Load);
    if (!revs) {
      if (revs.status().code() == ErrorCode::NotFound) continue;
      return revs.status();
    }
    for (auto& r : *revs) {
      if (deferred && r.hasAttachments()) {
        uint64_t bytes = 0;
        for (const auto& a : r.attachments)
          if (a.kind != db::AttachmentIn::Kind::Stub) bytes += a.sentLength();
        deferred->push_back({m.id, {r.revString()}, m.possibleAncestors, bytes});
      } else {
        out.push_back({m.id, std::move(r), {}});
      }
    }
  }
  return out;
}

Result<std::vector<FetchedRev>> LocalEndpoint::fetchStreamed(const MissingRevs& missing) {
  if (Status st = mayRead(); !st) return st;
  ReadOptions options;
  options.revs = true;
  options.attachments = true;
  options.latest = true;
  options.attsSince = missing.possibleAncestors;
  auto revs = db::storeOf(*db_).getRevisions(missing.id, missing.missing, options, db::Store::FollowMode::Reference);
  if (!revs) {
    if (revs.status().code() == ErrorCode::NotFound) return std::vector<FetchedRev>();
    return revs.status();
  }
  // The bodies are copied to a spool, a piece at a time, never into memory whole: the target's write
  // then reads the spool, not this database (two stores replicating both ways never wait on each other).
  auto spool = Spool::create();
  if (!spool) return spool.status();
  std::string piece(tuning::kSpoolPiece, '\0');
  std::vector<FetchedRev> out;
  for (db::Revision& r : *revs) {
    std::vector<AttachmentBody> bodies;
    for (const db::AttachmentIn& att : r.attachments) {
      if (att.kind != db::AttachmentIn::Kind::Follows) continue;
      const uint64_t start = (*spool)->size(), stored = att.sentLength();
      for (uint64_t at = 0; at < stored;) {
        auto got = db::storeOf(*db_).readAttachment(att.info.digest, at, piece.data(), piece.size());
        if (!got) return got.status();
        if (*got == 0)
          return Status(ErrorCode::Internal, "attachment " + att.info.name + " of " + missing.id + " ended early");
        if (Status st = (*spool)->append(std::string_view(piece.data(), *got)); !st) return st;
        at += *got;
      }
      bodies.push_back({att.info.name, {}, (*spool)->slice(start, stored)});
    }
    out.push_back({missing.id, std::move(r), std::move(bodies)});
  }
  return out;
}

Result<std::vector<DocResult>> LocalEndpoint::write(const std::vector<FetchedRev>& docs) {
  std::vector<db::WriteOp> ops;
  ops.reserve(docs.size());
  std::vector<DocResult> failures;
  // validate_doc_update runs on replicated writes as on any other (CouchDB's replicator writes through
  // the same path): a refusal is that document's failure, counted in doc_write_failures.
  auto design = designFunctions();
  auto validators = design ? design->validators(*db_)
                           : Result<std::shared_ptr<const std::vector<http::DesignDocCopy>>>(
                                 std::make_shared<const std::vector<http::DesignDocCopy>>());
  if (!validators) return validators.status();
  std::string userCtx, secObj = "{}";
  if (!(*validators)->empty()) {
    // The replication's rights are known here only as checks; a replication without them runs as an admin.
    userCtx = http::userCtxJson(db_->name(), {}, {}, !access_);
    if (auto security = db_->security(); security && !security->empty()) secObj = std::move(*security);
  }
  for (auto& d : docs) {
    if (Status st = mayWrite(d.id); !st) {
      failures.push_back({d.id, {}, std::move(st)});
      continue;
    }
    if (d.rev && !(*validators)->empty() && d.id.rfind("_design/", 0) != 0 && d.id.rfind("_local/", 0) != 0) {
      std::string newDoc = validatedJson(*d.rev);
      std::string oldDoc = "null";
      if (auto current = db_->get(d.id)) oldDoc = std::move(*current);
      Status refused;
      for (const auto& ddoc : **validators) {
        refused = design->validate(ddoc, newDoc, oldDoc, userCtx, secObj);
        if (!refused) break;
      }
      if (!refused) {
        failures.push_back({d.id, d.rev->rev ? d.rev->rev->str() : std::string(), std::move(refused)});
        continue;
      }
    }
    // A copy: `docs` stays intact for a retry. No JSON is parsed here: the value came parsed.
    if (d.rev) ops.push_back(db::storeOf(*db_).prepare(*d.rev, d.bodies));
    else ops.push_back({d.rev.status(), {}});
  }
  if (ops.empty()) return failures;
  for (auto& r : db::storeOf(*db_).write(ops, false, originPeer_)) {
    if (r.status.code() == ErrorCode::Internal) return r.status;
    if (!r.status) failures.push_back(std::move(r));
  }
  return failures;
}

}  // namespace settee::repl
