#include "replicator/remote_answers.h"

#include <algorithm>
#include <map>
#include <set>

#include "db/document.h"
#include "db/json.h"
#include "db/rev_id.h"

namespace settee::repl {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// A string for a message: short, and quoted as JSON so control bytes cannot forge a log line.
std::string jsonQuoted(std::string_view s) {
  if (s.size() > 80) s = s.substr(0, 80);
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  db::writeString(w, s);
  return std::string(db::bufferView(buf));
}

// Parses `body` as JSON; the error names simdjson's reason (invalid UTF-8, a truncated document, ...).
Status parse(simdjson::dom::parser& p, const std::string& body, element& root, const std::string& what) {
  if (auto err = p.parse(body).get(root))
    return badAnswer(what, std::string("not JSON (") + simdjson::error_message(err) + ")");
  return Status::ok();
}

// A revision id as a JSON string; `where` says which member it came from.
Status revString(element e, std::string_view where, const std::string& what, std::string& out) {
  std::string_view s;
  if (e.get(s)) return badAnswer(what, std::string(where) + " is not a string");
  if (!db::RevId::parse(s))
    return badAnswer(what, std::string(where) + " " + jsonQuoted(s) + " is not a revision id");
  out = s;
  return Status::ok();
}

// Whether `rev` (with its history `ids`, newest first) is one of `asked` or a descendant of one.
bool answersOneOf(const db::RevId& rev, const std::vector<std::string>& ids,
                  const std::vector<std::string>& asked) {
  for (const auto& a : asked) {
    auto r = db::RevId::parse(a);
    if (!r || r->gen > rev.gen || rev.gen - r->gen >= ids.size()) continue;
    if (ids[rev.gen - r->gen] == r->hash) return true;
  }
  return false;
}

// The decoded size of a base64 string (which the database checks for validity on write).
uint64_t base64Size(std::string_view s) {
  uint64_t padding = 0;
  while (!s.empty() && s.back() == '=' && padding < 2) {
    s.remove_suffix(1);
    ++padding;
  }
  return s.size() * 3 / 4;
}

}  // namespace

FetchedRev fetchedRevision(std::string id, element doc) {
  return FetchedRev{std::move(id), db::parseDocument(doc), {}};
}

Status badAnswer(const std::string& what, const std::string& why) {
  return {ErrorCode::BadRequest, "bad answer to " + what + ": " + why};
}

Result<ChangesBatch> decodeChanges(const std::string& body, const std::string& since,
                                   const std::string& what) {
  simdjson::dom::parser p;
  element root, last;
  if (Status st = parse(p, body, root, what); !st) return st;
  array results;
  if (root.type() != element_type::OBJECT) return badAnswer(what, "not a JSON object");
  if (root["results"].get(results)) return badAnswer(what, "no `results` array");
  ChangesBatch batch;
  size_t index = 0;
  for (element row : results) {
    const std::string at = "row " + std::to_string(index++);
    ChangeRow c;
    element seq;
    std::string_view id;
    array changes;
    if (row.type() != element_type::OBJECT) return badAnswer(what, at + " is not an object");
    if (row["id"].get(id)) return badAnswer(what, at + " has no string `id`");
    if (row["seq"].get(seq)) return badAnswer(what, at + " (" + jsonQuoted(id) + ") has no `seq`");
    if (row["changes"].get(changes) || changes.size() == 0)
      return badAnswer(what, at + " (" + jsonQuoted(id) + ") has no `changes` list");
    c.id = id;
    c.seq = db::toJson(seq);
    element deleted;
    if (!row["deleted"].get(deleted)) {
      if (deleted.get(c.deleted))
        return badAnswer(what, at + " (" + jsonQuoted(id) + ") has a `deleted` that is not true or false");
    }
    for (element ch : changes) {
      element rev;
      if (ch["rev"].get(rev))
        return badAnswer(what, at + " (" + jsonQuoted(id) + ") has a change without `rev`");
      if (Status st = revString(rev, at + " (" + jsonQuoted(id) + ") rev", what, c.revs.emplace_back()); !st)
        return st;
    }
    batch.rows.push_back(std::move(c));
  }
  batch.lastSeq = !root["last_seq"].get(last) ? db::toJson(last)
                  : batch.rows.empty()        ? since
                                              : batch.rows.back().seq;
  element pending;
  if (!root["pending"].get(pending)) {
    uint64_t n = 0;
    if (pending.get(n)) return badAnswer(what, "`pending` is not a count");
    batch.pending = n;
  }
  return batch;
}

Result<std::vector<MissingRevs>> decodeRevsDiff(
    const std::string& body, const std::vector<std::pair<std::string, std::vector<std::string>>>& asked,
    const std::string& what) {
  std::map<std::string_view, std::set<std::string_view>> offered;
  for (const auto& [id, revs] : asked) offered[id].insert(revs.begin(), revs.end());
  simdjson::dom::parser p;
  element root;
  if (Status st = parse(p, body, root, what); !st) return st;
  object entries;
  if (root.get(entries)) return badAnswer(what, "not a JSON object");
  std::vector<MissingRevs> out;
  for (auto field : entries) {
    auto was = offered.find(field.key);
    if (was == offered.end())
      return badAnswer(what, "it names " + jsonQuoted(field.key) + ", which was not asked about");
    MissingRevs m{std::string(field.key), {}, {}};
    array list;
    if (field.value.type() != element_type::OBJECT || field.value["missing"].get(list))
      return badAnswer(what, jsonQuoted(field.key) + " has no `missing` list");
    for (element e : list) {
      if (Status st = revString(e, jsonQuoted(field.key) + " missing", what, m.missing.emplace_back()); !st)
        return st;
      if (!was->second.count(m.missing.back()))
        return badAnswer(what, jsonQuoted(field.key) + " lacks " + jsonQuoted(m.missing.back()) +
                                   ", which was not offered");
    }
    element ancestors;
    if (!field.value["possible_ancestors"].get(ancestors)) {
      if (ancestors.get(list))
        return badAnswer(what, jsonQuoted(field.key) + " possible_ancestors is not a list");
      for (element e : list) {
        if (Status st = revString(e, jsonQuoted(field.key) + " possible_ancestors", what,
                                  m.possibleAncestors.emplace_back());
            !st)
          return st;
      }
    }
    if (!m.missing.empty()) out.push_back(std::move(m));
  }
  return out;
}

Status checkRevision(element doc, const MissingRevs& asked, const std::string& what) {
  const std::string of = "the revision of " + jsonQuoted(asked.id);
  if (doc.type() != element_type::OBJECT) return badAnswer(what, of + " is not a JSON object");
  std::string_view id, revText;
  if (doc["_id"].get(id)) return badAnswer(what, of + " has no string `_id`");
  if (id != asked.id)
    return badAnswer(what, "a revision of " + jsonQuoted(id) + " came for " + jsonQuoted(asked.id));
  if (doc["_rev"].get(revText)) return badAnswer(what, of + " has no string `_rev`");
  auto rev = db::RevId::parse(revText);
  if (!rev) return badAnswer(what, of + " has `_rev` " + jsonQuoted(revText) + ", not a revision id");
  object revisions;
  array ids;
  uint64_t start = 0;
  if (doc["_revisions"].get(revisions) || revisions["start"].get(start) || revisions["ids"].get(ids) ||
      ids.size() == 0)
    return badAnswer(what, of + " " + jsonQuoted(revText) + " has no `_revisions` history");
  std::vector<std::string> history;
  for (element e : ids) {
    std::string_view h;
    if (e.get(h) || !db::validRevHash(h))
      return badAnswer(what, of + " " + jsonQuoted(revText) + " has a bad `_revisions` id");
    history.emplace_back(h);
  }
  if (start != rev->gen || history.front() != rev->hash)
    return badAnswer(what, of + " has `_rev` " + jsonQuoted(revText) + " but `_revisions` says otherwise");
  if (start < history.size())
    return badAnswer(what, of + " " + jsonQuoted(revText) + " has more history than generations");
  if (!answersOneOf(*rev, history, asked.missing))
    return badAnswer(what, of + " " + jsonQuoted(revText) +
                               " is not a revision that was asked for, nor a descendant of one");
  object atts;
  if (!doc["_attachments"].get(atts)) {
    for (auto att : atts) {
      std::string_view data;
      if (att.value["data"].get(data)) continue;
      // With an `encoding` the bytes are the encoded ones; `length` is then the decoded size.
      std::string_view encoding;
      const bool encoded = !att.value["encoding"].get(encoding);
      uint64_t claimed = 0;
      if (att.value[encoded ? "encoded_length" : "length"].get(claimed)) continue;
      if (base64Size(data) != claimed)
        return badAnswer(what, of + " " + jsonQuoted(revText) + " has attachment " + jsonQuoted(att.key) +
                                   " of " + std::to_string(base64Size(data)) + " bytes that claims " +
                                   std::to_string(claimed));
    }
  }
  return Status::ok();
}

Result<std::vector<FetchedRev>> decodeBulkGet(const std::string& body, const std::vector<MissingRevs>& asked,
                                              const std::string& what) {
  // One document may be asked for in several entries (each conflicting leaf that has attachments is
  // fetched as an entry of its own): a revision answers any of them.
  std::map<std::string_view, MissingRevs> byId;
  for (const auto& m : asked) {
    MissingRevs& all = byId[m.id];
    all.id = m.id;
    all.missing.insert(all.missing.end(), m.missing.begin(), m.missing.end());
  }
  simdjson::dom::parser p;
  element root;
  if (Status st = parse(p, body, root, what); !st) return st;
  array results;
  if (root.type() != element_type::OBJECT || root["results"].get(results))
    return badAnswer(what, "no `results` array");
  std::map<std::string_view, size_t> found;  // revisions per id, at most as many as asked
  std::vector<FetchedRev> out;
  for (element res : results) {
    std::string_view id;
    array docs;
    if (res.type() != element_type::OBJECT || res["id"].get(id))
      return badAnswer(what, "a result without a string `id`");
    if (res["docs"].get(docs))
      return badAnswer(what, "the result for " + jsonQuoted(id) + " has no `docs` list");
    auto m = byId.find(id);
    if (m == byId.end())
      return badAnswer(what, "a result for " + jsonQuoted(id) + ", which was not asked for");
    for (element d : docs) {
      element ok, error;
      if (!d["ok"].get(ok)) {
        if (Status st = checkRevision(ok, m->second, what); !st) return st;
        if (++found[id] > m->second.missing.size())
          return badAnswer(what, "more revisions of " + jsonQuoted(id) + " than were asked for");
        out.push_back(fetchedRevision(std::string(id), ok));
      } else if (d["error"].get(error)) {
        return badAnswer(what, "an entry for " + jsonQuoted(id) + " with neither `ok` nor `error`");
      }
    }
  }
  return out;
}

Result<std::vector<FetchedRev>> decodeOpenRevs(const std::string& body, const MissingRevs& asked,
                                               const std::string& what) {
  simdjson::dom::parser p;
  element root;
  if (Status st = parse(p, body, root, what); !st) return st;
  array arr;
  if (root.get(arr)) return badAnswer(what, "not a JSON array");
  std::vector<FetchedRev> out;
  for (element e : arr) {
    element doc, missing;
    if (!e["ok"].get(doc)) {
      if (Status st = checkRevision(doc, asked, what); !st) return st;
      if (out.size() == asked.missing.size()) return badAnswer(what, "more revisions than were asked for");
      out.push_back(fetchedRevision(asked.id, doc));
    } else if (e["missing"].get(missing)) {
      return badAnswer(what, "an entry with neither `ok` nor `missing`");
    }
  }
  return out;
}

Result<std::vector<DocResult>> decodeBulkDocs(const std::string& body, const std::string& what) {
  simdjson::dom::parser p;
  element root;
  if (Status st = parse(p, body, root, what); !st) return st;
  array arr;
  if (root.get(arr)) return badAnswer(what, "not a JSON array");
  std::vector<DocResult> failures;
  for (element e : arr) {
    if (e.type() != element_type::OBJECT) return badAnswer(what, "an entry that is not an object");
    std::string_view id, rev, error, reason;
    if (e["error"].get(error)) continue;  // CouchDB lists only failures with new_edits=false
    // Missing fields stay empty: the failure is still counted.
    if (e["id"].get(id)) id = {};
    if (e["rev"].get(rev)) rev = {};
    if (e["reason"].get(reason)) reason = error;
    ErrorCode code = error == "forbidden"      ? ErrorCode::Forbidden
                     : error == "unauthorized" ? ErrorCode::Unauthorized
                                               : ErrorCode::Internal;
    failures.push_back({std::string(id), std::string(rev), Status(code, std::string(reason))});
  }
  return failures;
}

Status decodeTooLarge(const std::string& body) {
  simdjson::dom::parser p;
  element root;
  std::string_view error, reason;
  if (!p.parse(body).get(root) && root.type() == element_type::OBJECT) {
    if (root["error"].get(error)) error = {};
    if (root["reason"].get(reason)) reason = {};
  }
  // too_large, the name a stored refusal can keep (settee/sync_state.h); the peer's own words follow in
  // the reason (CouchDB says document_too_large and names the document).
  std::string why = "the document is over the peer's max_document_size (HTTP 413";
  if (!error.empty()) why += " " + std::string(error.substr(0, 80));
  if (!reason.empty()) why += ": " + std::string(reason.substr(0, 200));
  return {ErrorCode::TooLarge, why + ")"};
}

}  // namespace settee::repl
