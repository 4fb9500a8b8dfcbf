// Document endpoints: GET/HEAD (open_revs included), PUT (JSON or multipart/related), DELETE and COPY of
// /{db}/{docid}, its /{db}/_design/{ddoc} form, and _local/ documents (which never replicate).
//
// GET is async because an open_revs answer with `Accept: multipart/mixed` is streamed, chunked, as
// CouchDB streams it: the document is read on the thread pool, then sent from the loop thread in pieces,
// each written only while the client keeps up. Attachment bodies are not read with the document unless
// small: the store hands back references, and the stream reads each body a piece at a time (as does a
// multipart/related answer that carries a large one). Every other endpoint here is a plain sync handler.
#include <exception>

#include "db/crypto.h"
#include "db/database_internal.h"
#include "http/auth.h"
#include "http/system_dbs.h"
#include "http/handlers/document_internal.h"
#include "http/design_functions.h"
#include "http/handlers/handlers.h"
#include "http/handlers/related_body.h"
#include "http/work.h"

namespace settee::http {
namespace {

using detail::Pieces;

// Attachment bytes one answer reads together with its document (each body below detail::kLoadWhole); the
// rest are streamed. Small bodies read up front save a trip to the thread pool each.
constexpr uint64_t kLoadBudget = 1024 * 1024;

bool isLocal(std::string_view id) { return id.substr(0, 7) == "_local/"; }

// The document a route names. `{docid}` may itself be "_design/x" or "_local/x" when the slash came
// encoded as %2F; the literal forms capture only the part after the prefix.
std::string docIdOf(const Call& call) {
  if (const std::string* d = call.params.get("ddoc")) return "_design/" + *d;
  if (const std::string* l = call.params.get("localid")) return "_local/" + *l;
  return call.params["docid"];
}

// The `_rev` of a rendered `_local` document ("" when it has none). Other documents' revisions come from
// the store beside their JSON; a `_local` one is read whole anyway and is never on a hot path.
std::string revOf(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view rev;
  if (parser.parse(json.data(), json.size()).get(root) || root["_rev"].get(rev)) return {};
  return std::string(rev);
}

bool notModified(const Request& req, const std::string& etag) { return detail::etagMatches(req, etag); }

// A JSON document answered whole, with its revision `rev` as the ETag (304 when the client has it already).
Response docResponse(const Request& req, std::string json, const std::string& rev) {
  std::string etag = "\"" + rev + "\"";
  Response r;
  if (notModified(req, etag)) {
    r.status = 304;
  } else {
    r = Response::json(200, std::move(json));
  }
  r.setHeader("ETag", etag);
  return r;
}

// `json` with `_rev` set to the revision the request named in ?rev= or If-Match. bad_request when the
// body names another one, or is not a JSON object.
Result<std::string> withRequestRev(std::string json, const std::string& rev) {
  if (rev.empty()) return json;  // the store parses and checks the body itself
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(json.data(), json.size()).get(root);
  if (err == simdjson::UTF8_ERROR) return badRequest("Invalid UTF-8 in request body");
  if (err) return badRequest("Invalid JSON in request body");
  simdjson::dom::object obj;
  if (root.get(obj)) return badRequest("Document must be a JSON object");
  std::string_view bodyRev;
  if (!obj["_rev"].get(bodyRev)) {
    if (bodyRev != rev)
      return badRequest("Document rev from request body and query string have different values");
    return json;
  }
  return detail::rewriteObject(obj, {"_rev"}, [&](db::JsonWriter& w) {
    db::writeKey(w, "_rev");
    db::writeString(w, rev);
  });
}

// ---- GET ----

struct GetParams {
  ReadOptions read;
  bool openRevs = false;
  bool allRevs = false;           // open_revs=all
  std::vector<std::string> revs;  // open_revs=[...]
};

Status revList(simdjson::dom::element value, std::string_view name, std::vector<std::string>& out) {
  simdjson::dom::array list;
  if (value.get(list)) return badRequest(std::string(name) + " must be a JSON array of revisions");
  for (auto item : list) {
    std::string_view rev;
    if (item.get(rev) || !db::RevId::parse(rev))
      return badRequest("Invalid rev format in " + std::string(name));
    out.emplace_back(rev);
  }
  return Status::ok();
}

Result<GetParams> getParams(const Request& req) {
  GetParams p;
  ReadOptions& o = p.read;
  const std::pair<const char*, bool*> flags[] = {{"revs", &o.revs},
                                                 {"revs_info", &o.revsInfo},
                                                 {"conflicts", &o.conflicts},
                                                 {"deleted_conflicts", &o.deletedConflicts},
                                                 {"attachments", &o.attachments},
                                                 {"att_encoding_info", &o.attEncodingInfo},
                                                 {"local_seq", &o.localSeq},
                                                 {"latest", &o.latest}};
  for (const auto& [name, field] : flags) {
    auto v = boolParam(req, name, false);
    if (!v) return v.status();
    *field = *v;
  }
  auto meta = boolParam(req, "meta", false);
  if (!meta) return meta.status();
  if (*meta) o.conflicts = o.deletedConflicts = o.revsInfo = true;
  auto rev = detail::readRev(req);
  if (!rev) return rev.status();
  o.rev = std::move(*rev);
  simdjson::dom::parser parser;
  auto since = jsonParam(req, "atts_since", parser);
  if (!since) return since.status();
  if (*since) {
    if (Status st = revList(**since, "atts_since", o.attsSince); !st) return st;
  }
  if (auto open = req.param("open_revs")) {
    p.openRevs = true;
    if (*open == "all") {
      p.allRevs = true;
    } else {
      auto list = jsonParam(req, "open_revs", parser);
      if (!list) return list.status();
      if (Status st = revList(**list, "open_revs", p.revs); !st) return st;
    }
  }
  return p;
}

// An answer made on the thread pool: a whole Response, or a streamed body in pieces.
using detail::Answer;
using detail::whole;

// A document whose `_attachments` hold `"follows":true` entries (for `atts`, in order) as JSON with each
// body inline as base64 `data`, as attachments=true answers; large bodies are streamed (inlineBodies).
// Any thread but the loop's.
Answer inlineAttachments(Call& call, const std::string& json, std::vector<Attachment>& atts, const std::string& rev,
                         bool showEncoding) {
  std::string etag = "\"" + rev + "\"";
  Response r;
  r.setHeader("ETag", etag);
  if (notModified(call.req, etag)) {
    r.status = 304;
    return whole(std::move(r));
  }
  auto pieces = detail::inlineBodies(db::storeOf(*call.db), json, atts, kLoadBudget, showEncoding);
  if (!pieces) return whole(errorResponse(pieces.status()));
  if (!detail::readsStore(*pieces)) {
    Response answer = Response::json(200, detail::joinText(std::move(*pieces)));
    answer.setHeader("ETag", etag);
    return whole(std::move(answer));
  }
  return Answer{std::move(r), std::move(*pieces)};
}

// One revision: the winner, `rev`, or with latest=true the leaf `rev` leads to. With `Accept:
// multipart/related` and attachments=true, a multipart/related body (CouchDB does the same); with
// attachments=true alone, JSON whose inline data is streamed.
Answer readOne(Call& call, const std::string& id, ReadOptions& o) {
  bool related = o.attachments && detail::acceptsType(call.req, "multipart/related");
  // Bodies are taken as references either way: held whole, base64 would cost 4/3 of each in memory.
  bool wantBodies = o.attachments;
  std::vector<Attachment> atts;
  constexpr auto kRef = db::Store::FollowMode::Reference;
  std::string rev;  // of the revision read: the ETag
  auto doc = [&]() -> Result<std::string> {
    if (o.rev.empty() || !o.latest) return db::storeOf(*call.db).get(id, o, wantBodies ? &atts : nullptr, kRef, &rev);
    std::vector<std::vector<Attachment>> follows;
    auto revs = db::storeOf(*call.db).getOpenRevs(id, {o.rev}, o, wantBodies ? &follows : nullptr, kRef);
    if (!revs) return revs.status();
    for (size_t i = 0; i < revs->size(); ++i) {
      if (!(*revs)[i].found) continue;
      if (wantBodies) atts = std::move(follows[i]);
      rev = (*revs)[i].rev;
      return std::move((*revs)[i].json);
    }
    return notFound("missing");
  }();
  if (!doc) return whole(errorResponse(doc.status()));
  if (!related && !atts.empty()) return inlineAttachments(call, *doc, atts, rev, o.attEncodingInfo);
  if (!related || atts.empty()) return whole(docResponse(call.req, std::move(*doc), rev));
  uint64_t budget = kLoadBudget;
  if (Status st = detail::loadSmall(db::storeOf(*call.db), atts, budget); !st) return whole(errorResponse(st));
  std::string etag = "\"" + rev + "\"";
  MultipartWriter writer(randomBoundary());
  Pieces pieces;
  detail::appendRelated(writer, *doc, atts, pieces);
  Response r;
  r.setHeader("Content-Type", writer.contentType("related"));
  r.setHeader("ETag", etag);
  if (detail::readsStore(pieces)) {
    // Too large to hold: the same bytes, streamed (chunked, so without a Content-Length).
    return Answer{std::move(r), std::move(pieces)};
  }
  r.body = detail::joinText(std::move(pieces));
  return whole(std::move(r));
}

// open_revs: a JSON array of {"ok":doc} / {"missing":rev}, or, when the client accepts multipart/mixed,
// one part per revision with every attachment body (those newer than atts_since) following its JSON.
Answer readOpenRevs(Call& call, const std::string& id, GetParams& p) {
  bool multipart = detail::acceptsType(call.req, "multipart/mixed");
  if (multipart) p.read.attachments = true;
  std::vector<OpenRev> found;
  std::vector<std::vector<Attachment>> follows;
  if (p.allRevs || !p.revs.empty()) {
    auto revs = db::storeOf(*call.db).getOpenRevs(id, p.revs, p.read, multipart ? &follows : nullptr,
                                             db::Store::FollowMode::Reference);
    if (!revs) return whole(errorResponse(revs.status()));
    found = std::move(*revs);
  }
  if (!multipart) {
    return whole(Response::json(200, writeJson([&](db::JsonWriter& w) {
                                  w.StartArray();
                                  for (const auto& rev : found) {
                                    w.StartObject();
                                    if (rev.found) {
                                      db::writeKey(w, "ok");
                                      db::writeRaw(w, rev.json);
                                    } else {
                                      db::writeKey(w, "missing");
                                      db::writeString(w, rev.rev);
                                    }
                                    w.EndObject();
                                  }
                                  w.EndArray();
                                })));
  }
  uint64_t budget = kLoadBudget;
  for (auto& atts : follows) {
    if (Status st = detail::loadSmall(db::storeOf(*call.db), atts, budget); !st) return whole(errorResponse(st));
  }
  Answer a;
  MultipartWriter mixed(randomBoundary());
  a.head.headers.emplace_back("Content-Type", mixed.contentType("mixed"));
  for (size_t i = 0; i < found.size(); ++i) detail::appendOpenRevPart(mixed, found[i], follows[i], a.pieces);
  mixed.finish(detail::textOf(a.pieces));
  return a;
}

Answer readDoc(Call& call) {
  std::string id = docIdOf(call);
  if (isLocal(id)) {
    auto doc = call.db->getLocal(id);
    if (!doc) return whole(errorResponse(doc.status()));
    std::string rev = revOf(*doc);
    return whole(docResponse(call.req, std::move(*doc), rev));
  }
  auto params = getParams(call.req);
  if (!params) return whole(errorResponse(params.status()));
  if (params->openRevs) return readOpenRevs(call, id, *params);
  return readOne(call, id, params->read);
}

// ---- Writes ----

Response putLocalDoc(Call& call, const std::string& id) {
  auto rev = detail::writeRev(call.req, true);
  if (!rev) return errorResponse(rev.status());
  auto json = withRequestRev(std::move(call.req.body), *rev);
  if (!json) return errorResponse(json.status());
  auto written = call.db->putLocal(id, *json);
  if (!written) return errorResponse(written.status());
  return detail::writeAnswer(201, *written, detail::locationOf(call, id));
}

Response putDoc(Call& call) {
  std::string id = docIdOf(call);
  if (isLocal(id)) return putLocalDoc(call, id);
  if (Status st = detail::checkDocWriteAccess(call, id); !st) return errorResponse(st);
  auto newEdits = boolParam(call.req, "new_edits", true);
  if (!newEdits) return errorResponse(newEdits.status());
  auto rev = detail::writeRev(call.req);
  if (!rev) return errorResponse(rev.status());
  std::string json;
  std::vector<AttachmentBody> bodies;
  if (auto streamed = std::dynamic_pointer_cast<detail::RelatedBody>(call.body)) {
    if (!streamed->status()) return errorResponse(streamed->status());
    auto related = streamed->document();
    if (!related) return errorResponse(related.status());
    json = std::move(related->json);
    bodies = std::move(related->bodies);
  } else if (detail::isMultipartRelated(call.req)) {
    auto related = detail::parseRelated(call.req);
    if (!related) return errorResponse(related.status());
    json = std::move(related->json);
    bodies = std::move(related->bodies);
  } else {
    json = std::move(call.req.body);
  }
  auto merged = withRequestRev(std::move(json), *rev);
  if (!merged) return errorResponse(merged.status());
  if (!*newEdits && isSystemDb(call.dbName) && !call.user.isAdmin())
    return errorResponse(Status(ErrorCode::Forbidden, "Only admins may replicate into " + call.dbName + "."));
  auto body = systemDocBody(call, std::move(*merged));
  if (!body) return errorResponse(body.status());
  if (Status st = validateWrite(call, id, *body); !st) return errorResponse(st);
  auto written = call.db->put(*body, {.newEdits = *newEdits, .id = id}, std::move(bodies));
  if (!written) return errorResponse(written.status());
  bool batch = call.req.param("batch") == std::optional<std::string_view>("ok");
  return detail::writeAnswer(batch ? 202 : 201, *written, detail::locationOf(call, written->id));
}

// A multipart/related PUT (a document with its attachment bodies) is taken as it arrives, its attachments
// spooled to a file; a JSON body is held, within max_document_size (BodyKind::Document).
std::shared_ptr<StreamedBody> relatedBody(const Call& call) {
  if (!detail::isMultipartRelated(call.req)) return nullptr;
  auto boundary = boundaryOf(*call.req.header("Content-Type"));
  if (!boundary) return nullptr;  // held, and parseRelated answers the bad request
  return std::make_shared<detail::RelatedBody>(call.svc->loop, call.svc->data->path(), std::move(*boundary),
                                               call.svc->config->maxDocumentSize);
}

Response deleteLocalDoc(Call& call, const std::string& id) {
  auto rev = detail::writeRev(call.req, true);
  if (!rev) return errorResponse(rev.status());
  if (rev->empty()) {
    auto doc = call.db->getLocal(id);
    return errorResponse(doc ? conflict() : doc.status());
  }
  auto removed = call.db->removeLocal(id, *rev);
  if (!removed) return errorResponse(removed.status());
  return detail::writeAnswer(200, *removed);
}

Response deleteDoc(Call& call) {
  std::string id = docIdOf(call);
  if (isLocal(id)) return deleteLocalDoc(call, id);
  if (Status st = detail::checkDocWriteAccess(call, id); !st) return errorResponse(st);
  auto rev = detail::writeRev(call.req);
  if (!rev) return errorResponse(rev.status());
  // One call, one transaction: as CouchDB, an absent or deleted document is a 404 whatever the revision,
  // and no other write can come between that check and the deletion.
  // validate_doc_update sees a deletion as CouchDB shows it: the id, the revision and _deleted.
  std::string tombstone = writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    db::writeKey(w, "_id");
    db::writeString(w, id);
    db::writeKey(w, "_rev");
    db::writeString(w, *rev);
    db::writeKey(w, "_deleted");
    w.Bool(true);
    w.EndObject();
  });
  if (Status st = validateWrite(call, id, tombstone); !st) return errorResponse(st);
  auto removed = call.db->remove(id, *rev);
  if (!removed) return errorResponse(removed.status());
  bool batch = call.req.param("batch") == std::optional<std::string_view>("ok");
  return detail::writeAnswer(batch ? 202 : 200, *removed);
}

// COPY /db/src  Destination: dest[?rev=R] — the source (at ?rev= or the winner) written as `dest`,
// attachments included; with a rev the destination's revision R is overwritten.
Response copyDoc(Call& call) {
  std::string src = docIdOf(call);
  const std::string* dest = call.req.header("Destination");
  if (!dest || trimWhitespace(*dest).empty())
    return errorResponse(badRequest("Destination header is mandatory for COPY."));
  std::string_view destText = trimWhitespace(*dest);
  // A copy never leaves its database: an absolute URL is refused as CouchDB refuses it (^https?://).
  if (destText.rfind("http://", 0) == 0 || destText.rfind("https://", 0) == 0)
    return errorResponse(badRequest("Destination URL must be relative."));
  size_t q = destText.find('?');
  auto destId = percentDecode(destText.substr(0, q), false);
  if (!destId || destId->empty()) return errorResponse(badRequest("Invalid Destination header"));
  std::string destRev;
  if (q != std::string_view::npos) {
    std::string_view query = destText.substr(q + 1);
    if (query.substr(0, 4) != "rev=" || !db::RevId::parse(query.substr(4)))
      return errorResponse(badRequest("Invalid rev format in Destination header"));
    destRev.assign(query.substr(4));
  }
  if (isLocal(src) || isLocal(*destId)) return errorResponse(badRequest("_local documents cannot be copied"));
  if (Status st = detail::checkDocWriteAccess(call, *destId); !st) return errorResponse(st);
  auto srcRev = detail::readRev(call.req);
  if (!srcRev) return errorResponse(srcRev.status());
  ReadOptions read;
  read.rev = *srcRev;
  read.attachments = true;
  std::vector<Attachment> atts;
  auto doc = db::storeOf(*call.db).get(src, read, &atts);
  if (!doc) return errorResponse(doc.status());
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(*doc).get(obj))
    return errorResponse(Status(ErrorCode::Internal, "unreadable source document"));
  std::string json = detail::rewriteObject(obj, {"_id", "_rev", "_deleted"}, [&](db::JsonWriter& w) {
    if (destRev.empty()) return;
    db::writeKey(w, "_rev");
    db::writeString(w, destRev);
  });
  std::vector<AttachmentBody> bodies;
  for (auto& a : atts) bodies.push_back(AttachmentBody{a.name, std::move(a.data), nullptr});
  if (Status st = validateWrite(call, *destId, json); !st) return errorResponse(st);
  auto written = call.db->put(json, {.id = *destId}, std::move(bodies));
  if (!written) return errorResponse(written.status());
  return detail::writeAnswer(201, *written, detail::locationOf(call, *destId));
}

}  // namespace

Result<ReadOptions> detail::readOptions(const Request& req) {
  auto params = getParams(req);
  if (!params) return params.status();
  return std::move(params->read);
}

void registerDocumentRoutes(Api& api) {
  for (const char* pattern : {"/{db}/{docid}", "/{db}/_design/{ddoc}", "/{db}/_local/{localid}"}) {
    // One document each: bounded by max_document_size, so quick.
    api.staged("GET", pattern, Access::Reader, detail::stagedAnswer(readDoc), Cost::Quick);
    api.streamed("PUT", pattern, Access::Reader, relatedBody, putDoc, BodyKind::Document, Cost::Quick);
    api.sync("DELETE", pattern, Access::Reader, deleteDoc, Cost::Quick);
    api.sync("COPY", pattern, Access::Reader, copyDoc, Cost::Quick);
  }
  for (const char* pattern : {"/{db}/{docid}", "/{db}/_design/{ddoc}"})
    api.sync("POST", pattern, Access::Reader, detail::postDocForm);
  // CouchDB's refusals for what cannot be a _local document: `/db/_local` alone, and anything below one
  // (a _local document has no attachments).
  auto refuse = [](const char* reason) {
    return [reason](Call&) { return errorResponse(badRequest(reason)); };
  };
  for (const char* method : {"GET", "PUT", "POST", "DELETE", "COPY"}) {
    api.sync(method, "/{db}/_local", Access::Reader, refuse("Invalid _local document id."), Cost::Quick);
    api.sync(method, "/{db}/_local/{localid}/{att...}", Access::Reader,
             refuse("_local documents do not accept attachments."), Cost::Quick);
  }
}

}  // namespace settee::http
