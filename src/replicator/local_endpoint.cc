#include "replicator/local_endpoint.h"

#include "db/mango.h"
#include "db/database_internal.h"
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

}  // namespace

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
  if (!filter.name.empty()) return badRequest("named filters need a CouchDB source");
  if (Status st = mayRead(); !st) return st;
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
    for (auto& c : rows) {
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
  for (auto& d : docs) {
    if (Status st = mayWrite(d.id); !st) {
      failures.push_back({d.id, {}, std::move(st)});
      continue;
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
