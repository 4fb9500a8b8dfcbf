// The bulk family: _bulk_docs, _revs_diff and _missing_revs here; _bulk_get (bulk_get.cc) and
// _all_docs / _design_docs (all_docs.cc) stream their answers through paged_stream.cc.
#include <algorithm>
#include <optional>

#include "db/crypto.h"
#include "db/rev_id.h"
#include "db/database_internal.h"
#include "http/auth.h"
#include "http/system_dbs.h"
#include "http/handlers/bulk_internal.h"
#include "http/design_functions.h"
#include "http/handlers/handlers.h"

namespace settee::http {
namespace {

using db::writeKey;
using db::writeString;
using simdjson::dom::element;
using simdjson::dom::element_type;

// POST /{db}/_bulk_docs {"docs":[...], "new_edits":bool}
//
// As CouchDB does: a document that cannot be a document (not an object, a bad id, a `_rev` CouchDB's
// parse_rev refuses, an unknown `_` member, no _rev with new_edits=false) fails the whole request before
// anything is written, and one whose body exceeds max_document_size makes it a 413 naming that document.
// What is left is written in one transaction; conflicts (a `_rev` no tree holds among them) and missing
// stubs are per-document results. `_local/` documents are written as PUT writes them, answered `0-N`.
Response bulkDocs(Call& call) {
  simdjson::dom::parser parser;
  auto body = jsonBody(call.req, parser);
  if (!body) return errorResponse(body.status());
  simdjson::dom::object obj;
  if ((*body).get(obj)) return errorResponse(badRequest("Request body must be a JSON object"));
  element docsValue;
  if (obj["docs"].get(docsValue))
    return errorResponse(badRequest("POST body must include `docs` parameter."));
  simdjson::dom::array docs;
  if (docsValue.get(docs)) return errorResponse(badRequest("`docs` parameter must be an array."));
  bool newEdits = true;
  if (element ne; !obj["new_edits"].get(ne)) {
    if (ne.get(newEdits)) return errorResponse(badRequest("`new_edits` parameter must be a boolean."));
  }

  db::Store& store = db::storeOf(*call.db);
  // The node's max_document_size may have been lowered since the database was opened (the config API).
  const size_t maxSize = std::min(store.options().maxDocumentSize, call.svc->config->maxDocumentSize);
  const bool system = isSystemDb(call.dbName);
  if (system && !newEdits && !call.user.isAdmin())
    return errorResponse(Status(ErrorCode::Forbidden, "Only admins may replicate into " + call.dbName + "."));
  std::vector<db::WriteOp> ops;
  ops.reserve(docs.size());
  std::vector<std::string> revs;                        // `_rev` as sent, for new_edits=false failures
  std::optional<int> designAllowed;                     // decided at the first design document
  std::vector<std::pair<size_t, std::string>> refused;  // documents refused one by one, with their ids
  std::shared_ptr<const std::vector<DesignDocCopy>> validators;  // fetched at the first document
  for (element doc : docs) {
    db::WriteOp op;
    std::optional<Status> systemRefusal;
    if (system && doc.type() == element_type::OBJECT) {
      // System databases check the writer and rewrite the body (a password hashed, a replication's owner
      // stamped); they are small, so the extra serialise-and-parse round trip costs little.
      std::string_view id;
      if (!doc["_id"].get(id)) {
        if (Status st = checkSystemDocWrite(call, id); !st) systemRefusal = st;
      } else if (call.dbName == "_users" && !call.user.isAdmin()) {
        systemRefusal = Status(ErrorCode::Forbidden, "A user document needs the id org.couchdb.user:<name>.");
      }
      auto body = systemRefusal ? Result<std::string>(*systemRefusal) : systemDocBody(call, db::toJson(doc));
      if (body) {
        op = store.parse(*body);
      } else {
        systemRefusal = body.status();
        op.doc = db::parseDocument(doc);
      }
    } else {
      op.doc = db::parseDocument(doc);
      // A _local document keeps its `_rev` as the text 0-N; the first parse checked CouchDB's syntax.
      if (op.doc && op.doc->id.rfind("_local/", 0) == 0) op.doc = db::parseDocument(doc, true);
    }
    if (!op.doc) {
      if (op.doc.status().code() == ErrorCode::TooLarge) return errorResponse(413, "document_too_large", "");
      return errorResponse(op.doc.status());
    }
    const db::ParsedDoc& parsed = *op.doc;
    // CouchDB measures the body without its special members or attachments, as parseDocument leaves it.
    if (parsed.body.size() > maxSize) return errorResponse(413, "document_too_large", parsed.id);
    if (!newEdits && !parsed.rev && !parsed.unmatchableRev && parsed.localRev.empty())
      return errorResponse(
          badRequest("When `new_edits: false`, the document needs `_rev` or `_revisions` specified"));
    std::string_view sentRev;
    if (doc.type() == element_type::OBJECT && doc["_rev"].get(sentRev)) sentRev = {};
    revs.emplace_back(sentRev);
    // A refused document is answered one by one, with the rest written.
    if (systemRefusal) {
      refused.emplace_back(ops.size(), parsed.id);
      op.doc = std::move(*systemRefusal);
    } else if (parsed.id.rfind("_design/", 0) == 0) {
      // Design documents need a database admin, here as on PUT (CouchDB answers `unauthorized` for that
      // document and writes the rest).
      if (!designAllowed)
        designAllowed = call.svc->auth->authorize(call.user, call.db.get(), Access::DbAdmin).isOk() ? 1 : 0;
      if (*designAllowed == 0) {
        refused.emplace_back(ops.size(), parsed.id);
        op.doc = Status(ErrorCode::Unauthorized, "You are not a db or server admin.");
      }
    }
    // validate_doc_update, per document as CouchDB runs it: a refusal is that document's result (a
    // replication counts it in doc_write_failures) and the rest are written.
    if (op.doc && op.doc->id.rfind("_local/", 0) != 0) {
      if (!validators) {
        auto found = call.svc->design ? call.svc->design->validators(*call.db)
                                      : Result<std::shared_ptr<const std::vector<DesignDocCopy>>>(
                                            std::make_shared<const std::vector<DesignDocCopy>>());
        if (!found) return errorResponse(found.status());
        validators = std::move(*found);
      }
      if (!validators->empty()) {
        std::string id = op.doc->id;
        if (Status st = validateWrite(call, *validators, id, db::toJson(doc)); !st) {
          refused.emplace_back(ops.size(), std::move(id));
          op.doc = std::move(st);
        }
      }
    }
    ops.push_back(std::move(op));
  }

  // CouchDB 3 cannot write a batch atomically: all_or_nothing is refused for every document, once the
  // documents themselves passed the checks above, with 417 and one row each (fabric_doc_update's
  // not_implemented, as chttpd words an aborted update).
  bool allOrNothing = false;
  if (element aon; !obj["all_or_nothing"].get(aon) && aon.get(allOrNothing)) allOrNothing = false;
  if (newEdits && allOrNothing) {
    std::vector<std::string> ids(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].doc) ids[i] = ops[i].doc->id;
    }
    for (auto& [index, id] : refused) ids[index] = id;
    return Response::json(417, writeJson([&](db::JsonWriter& w) {
      w.StartArray();
      for (size_t i = 0; i < ops.size(); ++i) {
        w.StartObject();
        writeKey(w, "id");
        // A document without an id is given one, as CouchDB's handler gives it a uuid before fabric runs.
        writeString(w, ids[i].empty() ? db::randomHex(16) : ids[i]);
        writeKey(w, "rev");
        writeString(w, revs[i].empty() ? std::string("0-") : revs[i]);
        writeKey(w, "error");
        writeString(w, "not_implemented");
        writeKey(w, "reason");
        writeString(w, "all_or_nothing is not supported");
        w.EndObject();
      }
      w.EndArray();
    }));
  }
  std::vector<DocResult> results = store.write(ops, newEdits);
  for (auto& [index, id] : refused) results[index].id = std::move(id);
  return Response::json(201, writeJson([&](db::JsonWriter& w) {
    w.StartArray();
    for (size_t i = 0; i < results.size(); ++i) {
      DocResult& r = results[i];
      if (!newEdits) {
        if (r.status) continue;  // new_edits=false answers with the failures only
        if (r.rev.empty()) r.rev = revs[i];
      }
      db::writeRaw(w, docResultJson(r));
    }
    w.EndArray();
  }));
}

// Reads `{id: [rev, ...], ...}`, the shape _revs_diff and _missing_revs share. Revisions must parse, as
// CouchDB's parse_revs demands.
Result<std::vector<std::pair<std::string, std::vector<std::string>>>> parseIdRevs(const Request& req) {
  simdjson::dom::parser parser;
  auto body = jsonBody(req, parser);
  if (!body) return body.status();
  simdjson::dom::object obj;
  if ((*body).get(obj)) return badRequest("Request body must be a JSON object");
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (auto field : obj) {
    simdjson::dom::array list;
    if (field.value.get(list)) return badRequest("Each document id must map to a list of revisions");
    auto& entry = out.emplace_back(std::string(field.key), std::vector<std::string>{});
    for (element r : list) {
      std::string_view s;
      if (r.get(s) || !db::RevId::parse(s)) return badRequest("Invalid rev format");
      entry.second.emplace_back(s);
    }
  }
  return out;
}

// POST /{db}/_revs_diff {id:[revs]} -> {id:{"missing":[...],"possible_ancestors":[...]}}, only for ids with
// something missing.
Response revsDiff(Call& call) {
  auto revs = parseIdRevs(call.req);
  if (!revs) return errorResponse(revs.status());
  auto diff = call.db->revsDiff(*revs);
  if (!diff) return errorResponse(diff.status());
  return Response::json(200, writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    for (const auto& entry : *diff) {
      writeKey(w, entry.id);
      w.StartObject();
      writeKey(w, "missing");
      w.StartArray();
      for (const auto& r : entry.missing) writeString(w, r);
      w.EndArray();
      if (!entry.possibleAncestors.empty()) {
        writeKey(w, "possible_ancestors");
        w.StartArray();
        for (const auto& r : entry.possibleAncestors) writeString(w, r);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndObject();
  }));
}

// POST /{db}/_missing_revs {id:[revs]} -> {"missing_revs":{id:[revs]}}: the older form of _revs_diff.
Response missingRevs(Call& call) {
  auto revs = parseIdRevs(call.req);
  if (!revs) return errorResponse(revs.status());
  auto diff = call.db->revsDiff(*revs);
  if (!diff) return errorResponse(diff.status());
  return Response::json(200, writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    writeKey(w, "missing_revs");
    w.StartObject();
    for (const auto& entry : *diff) {
      writeKey(w, entry.id);
      w.StartArray();
      for (const auto& r : entry.missing) writeString(w, r);
      w.EndArray();
    }
    w.EndObject();
    w.EndObject();
  }));
}

}  // namespace

void registerBulkRoutes(Api& api) {
  api.sync("POST", "/{db}/_bulk_docs", Access::Reader, bulkDocs);
  api.async("POST", "/{db}/_bulk_get", Access::Reader, detail::bulkGet);
  api.async("GET", "/{db}/_all_docs", Access::Reader, detail::allDocs);
  api.async("POST", "/{db}/_all_docs", Access::Reader, detail::allDocs);
  api.async("GET", "/{db}/_design_docs", Access::Reader, detail::designDocs);
  api.async("POST", "/{db}/_design_docs", Access::Reader, detail::designDocs);
  api.async("POST", "/{db}/_all_docs/queries", Access::Reader, detail::allDocsQueries);
  api.async("POST", "/{db}/_design_docs/queries", Access::Reader, detail::designDocsQueries);
  api.async("GET", "/{db}/_local_docs", Access::Reader, detail::localDocs);
  api.async("POST", "/{db}/_local_docs", Access::Reader, detail::localDocs);
  api.async("POST", "/{db}/_local_docs/queries", Access::Reader, detail::localDocsQueries);
  api.sync("POST", "/{db}/_revs_diff", Access::Reader, revsDiff);
  api.sync("POST", "/{db}/_missing_revs", Access::Reader, missingRevs);
}

}  // namespace settee::http
