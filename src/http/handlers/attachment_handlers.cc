// Attachment endpoints: GET/HEAD (with byte ranges), PUT and DELETE of /{db}/{docid}/{att...} and of
// /{db}/_design/{ddoc}/{att...}. Names may contain '/'. A write is a new revision of the document that
// keeps its other attachments as stubs; the new body travels beside the JSON, never as base64.
//
// GET is async: the attachment's metadata is read on the thread pool and a small body (below
// detail::kLoadWhole) with it, answered whole; a larger body is streamed, chunked, a piece at a time from
// the store (detail::streamAnswer), so its size never becomes the server's memory. Ranges read only the
// bytes they name. PUT is streamed: the body goes to a spool file as it arrives (http/body_spool.h), and
// the store reads it from there in pieces, so an upload costs the node ~2 MB whatever its size. DELETE is
// a plain sync handler.
#include <exception>

#include "db/database_internal.h"
#include "http/body_spool.h"
#include "http/design_functions.h"
#include "http/gzip_inflater.h"
#include "http/handlers/document_internal.h"
#include "http/handlers/handlers.h"
#include "http/work.h"

namespace settee::http {
namespace {

// More ranges than this in one request are answered with the whole body, as CouchDB does.
constexpr size_t kMaxRanges = 10;
// Decoding a gzip-stored attachment for a client that does not accept gzip stops past its recorded
// length, and never goes past this.
constexpr uint64_t kMaxInflated = 1ull << 30;

std::string attDocId(const Call& call) {
  if (const std::string* d = call.params.get("ddoc")) return "_design/" + *d;
  return call.params["docid"];
}

bool acceptsEncoding(const Request& req, std::string_view encoding) {
  const std::string* accept = req.header("Accept-Encoding");
  if (!accept) return false;
  std::string_view rest = *accept;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view token = trimWhitespace(item.substr(0, semi));
    if (!equalsIgnoreCase(token, encoding)) continue;
    std::string_view params = semi == std::string_view::npos ? std::string_view() : item.substr(semi + 1);
    return trimWhitespace(params) != "q=0";
  }
  return false;
}

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

bool parseNumber(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

// The satisfiable ranges of a `Range: bytes=...` header over `size` bytes (empty: none is). nullopt
// when there is no header or it is malformed: then the whole body is the answer (RFC 7233 §3.1).
std::optional<std::vector<ByteRange>> parseRanges(const Request& req, uint64_t size) {
  const std::string* header = req.header("Range");
  if (!header) return std::nullopt;
  std::string_view spec = trimWhitespace(*header);
  if (spec.size() < 6 || !equalsIgnoreCase(spec.substr(0, 6), "bytes=")) return std::nullopt;
  spec.remove_prefix(6);
  std::vector<ByteRange> out;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = trimWhitespace(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::string_view a = item.substr(0, dash), b = item.substr(dash + 1);
    uint64_t first = 0, last = 0;
    if (a.empty()) {  // the last N bytes
      if (!parseNumber(b, last)) return std::nullopt;
      if (last == 0 || size == 0) continue;
      out.push_back({size > last ? size - last : 0, size - 1});
      continue;
    }
    if (!parseNumber(a, first)) return std::nullopt;
    // `0-` asks for everything: CouchDB answers the whole body, 200, whatever else the header holds.
    if (first == 0 && b.empty()) return std::nullopt;
    if (b.empty()) {
      last = UINT64_MAX;
    } else if (!parseNumber(b, last) || last < first) {
      return std::nullopt;
    }
    if (first >= size) continue;
    out.push_back({first, std::min(last, size - 1)});
  }
  return out;
}

std::string contentRange(const ByteRange& r, uint64_t size) {
  return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" + std::to_string(size);
}

// The attachment `name` of document `id` at `rev` (the winner when empty), without its body: `data` is
// empty and `storedLength` says how many bytes the store holds. Every way of not having it is not_found
// "Document is missing attachment", as CouchDB answers.
Result<Attachment> findAttachment(Call& call, const std::string& id, const std::string& name,
                                  const std::string& rev) {
  ReadOptions read;
  read.rev = rev;
  read.attachments = true;
  std::vector<Attachment> atts;
  auto doc = db::storeOf(*call.db).get(id, read, &atts, db::Store::FollowMode::Reference);
  if (!doc && doc.status().code() != ErrorCode::NotFound) return doc.status();
  if (doc) {
    for (Attachment& att : atts) {
      if (att.name == name) return std::move(att);
    }
  }
  return notFound("Document is missing attachment");
}

// What GET answers: `head` whole (body included) when `pieces` is empty, else `head`'s status and
// headers followed by `pieces`, streamed.
using detail::whole;

detail::Answer readAtt(Call& call) {
  std::string id = attDocId(call);
  const std::string& name = call.params["att"];
  auto rev = detail::readRev(call.req);
  if (!rev) return whole(errorResponse(rev.status()));
  auto att = findAttachment(call, id, name, *rev);
  if (!att) return whole(errorResponse(att.status()));
  std::string_view md5 = att->digest;
  if (md5.substr(0, 4) == "md5-") md5.remove_prefix(4);
  std::string etag = "\"" + std::string(md5) + "\"";
  Response r;
  r.setHeader("ETag", etag);
  if (detail::etagMatches(call.req, etag)) {
    r.status = 304;
    return whole(std::move(r));
  }
  db::Store& store = db::storeOf(*call.db);
  // A small body is read now and answered whole; a larger one is read later, a piece at a time, and
  // only the bytes the answer sends.
  const bool loaded = att->storedLength < detail::kLoadWhole;
  if (loaded) {
    if (Status st = detail::readStored(store, att->digest, 0, att->storedLength, att->data); !st)
      return whole(errorResponse(st));
  }
  detail::Answer a;
  // The stored bytes [first, first + count) as the next part of the body.
  auto body = [&](uint64_t first, uint64_t count, uint64_t inflateLimit = 0) {
    if (loaded) {
      detail::textOf(a.pieces).append(std::string_view(att->data).substr(first, count));
    } else {
      detail::appendStored(a.pieces, att->digest, first, count, inflateLimit);
    }
  };
  r.setHeader("Content-Type", att->contentType.empty() ? "application/octet-stream" : att->contentType);
  if (!att->encoding.empty()) {
    // Stored encoded: sent as stored to a client that takes the encoding, decoded for any other.
    // Ranges would address the encoded bytes, so they are not offered.
    r.setHeader("Accept-Ranges", "none");
    if (att->encoding == "gzip" && !acceptsEncoding(call.req, "gzip")) {
      const uint64_t limit = std::min<uint64_t>(std::max<uint64_t>(att->length, 1), kMaxInflated);
      if (loaded) {
        detail::GzipInflater inflater(limit);
        std::string decoded;
        if (inflater.feed(att->data, decoded) == detail::GzipInflater::Result::Ok &&
            inflater.finish() == detail::GzipInflater::Result::Ok) {
          r.body = std::move(decoded);
          return whole(std::move(r));
        }
      } else {
        // Whether it decodes decides the headers, so the body is decoded once through before they go
        // out (a HEAD reads nothing and assumes it does). A body that fails later cuts the stream.
        auto decodes = call.req.method == "HEAD"
                           ? Result<bool>(true)
                           : detail::gzipDecodes(store, att->digest, att->storedLength, limit);
        if (!decodes) return whole(errorResponse(decodes.status()));
        if (*decodes) {
          body(0, att->storedLength, limit);
          return detail::Answer{std::move(r), std::move(a.pieces)};
        }
      }
    }
    r.setHeader("Content-Encoding", att->encoding);
    body(0, att->storedLength);
  } else {
    r.setHeader("Accept-Ranges", "bytes");
    r.setHeader("Content-MD5", std::string(md5));
    uint64_t size = att->storedLength;
    auto ranges = parseRanges(call.req, size);
    if (ranges && ranges->empty()) {
      Response bad = errorResponse(416, "requested_range_not_satisfiable", "Requested range not satisfiable");
      bad.setHeader("Content-Range", "bytes */" + std::to_string(size));
      return whole(std::move(bad));
    }
    if (!ranges || ranges->size() > kMaxRanges) {
      body(0, size);
    } else if (ranges->size() == 1) {
      r.status = 206;
      const ByteRange& one = ranges->front();
      r.setHeader("Content-Range", contentRange(one, size));
      body(one.first, one.last - one.first + 1);
    } else {
      r.status = 206;
      MultipartWriter writer(randomBoundary());
      for (const ByteRange& one : *ranges) {
        writer.beginPart({{"Content-Type", att->contentType}, {"Content-Range", contentRange(one, size)}},
                         detail::textOf(a.pieces));
        body(one.first, one.last - one.first + 1);
      }
      writer.finish(detail::textOf(a.pieces));
      r.setHeader("Content-Type", writer.contentType("byteranges"));
    }
  }
  if (detail::readsStore(a.pieces)) return detail::Answer{std::move(r), std::move(a.pieces)};
  r.body = detail::joinText(std::move(a.pieces));
  return whole(std::move(r));
}

void getAtt(std::shared_ptr<Call> call) { detail::answerOffLoop(std::move(call), readAtt); }

// The document at `rev`, the base of an attachment edit. A revision the document does not have is a
// conflict, as in CouchDB.
Result<simdjson::dom::object> baseDoc(Call& call, const std::string& id, const std::string& rev,
                                      simdjson::dom::parser& parser, std::string& json) {
  ReadOptions read;
  read.rev = rev;
  auto doc = call.db->get(id, read);
  if (!doc) return doc.status().code() == ErrorCode::NotFound ? conflict() : doc.status();
  json = std::move(*doc);
  simdjson::dom::object obj;
  if (parser.parse(json).get(obj)) return Status(ErrorCode::Internal, "unreadable document " + id);
  return obj;
}

Response putAtt(Call& call) {
  std::string id = attDocId(call);
  const std::string& name = call.params["att"];
  if (name.empty() || name.front() == '_')
    return errorResponse(badRequest("Attachment name can't start with '_'"));
  if (Status st = detail::checkDocWriteAccess(call, id); !st) return errorResponse(st);
  auto rev = detail::writeRev(call.req);
  if (!rev) return errorResponse(rev.status());
  const std::string* type = call.req.header("Content-Type");
  std::string contentType = type && !type->empty() ? *type : "application/octet-stream";
  auto writeNew = [&](db::JsonWriter& w) {
    db::writeKey(w, name);
    w.StartObject();
    db::writeKey(w, "content_type");
    db::writeString(w, contentType);
    db::writeKey(w, "follows");
    w.Bool(true);
    w.EndObject();
  };
  std::string json;
  if (rev->empty()) {
    // No revision: a new document holding only this attachment (a conflict if the document exists).
    json = writeJson([&](db::JsonWriter& w) {
      w.StartObject();
      db::writeKey(w, "_attachments");
      w.StartObject();
      writeNew(w);
      w.EndObject();
      w.EndObject();
    });
  } else {
    simdjson::dom::parser parser;
    std::string current;
    auto doc = baseDoc(call, id, *rev, parser, current);
    if (!doc) return errorResponse(doc.status());
    json = detail::rewriteObject(*doc, {"_attachments", "_deleted"}, [&](db::JsonWriter& w) {
      db::writeKey(w, "_attachments");
      w.StartObject();
      // The new attachment first, then the others in their order: CouchDB's `NewAtt ++ Others`, which
      // the revision id hashes (db/rev_hash.h), so the same upload gets the same revision on both.
      writeNew(w);
      simdjson::dom::object atts;
      if (!(*doc)["_attachments"].get(atts)) {
        for (auto field : atts) {
          if (field.key == name) continue;
          db::writeKey(w, field.key);
          db::writeElement(w, field.value);
        }
      }
      w.EndObject();
    });
  }
  std::vector<AttachmentBody> bodies;
  if (auto spool = std::static_pointer_cast<BodySpool>(call.body)) {
    if (!spool->status()) return errorResponse(spool->status());
    bodies.push_back(AttachmentBody{name, {}, spool->source()});
  } else {
    bodies.push_back(AttachmentBody{name, std::move(call.req.body), nullptr});
  }
  if (Status st = validateWrite(call, id, json); !st) return errorResponse(st);
  auto written = call.db->put(json, {.id = id}, std::move(bodies));
  if (!written) return errorResponse(written.status());
  return detail::writeAnswer(201, *written, detail::locationOf(call, id, name));
}

// The body of an attachment upload goes to a file as it arrives, never into memory whole.
std::shared_ptr<StreamedBody> spoolBody(const Call& call) {
  return std::make_shared<BodySpool>(call.svc->loop, call.svc->data->path());
}

Response deleteAtt(Call& call) {
  std::string id = attDocId(call);
  const std::string& name = call.params["att"];
  if (Status st = detail::checkDocWriteAccess(call, id); !st) return errorResponse(st);
  auto rev = detail::writeRev(call.req);
  if (!rev) return errorResponse(rev.status());
  if (rev->empty()) {
    auto tree = db::storeOf(*call.db).tree(id);
    if (!tree) return errorResponse(tree.status());
    return errorResponse(tree->deleted() ? notFound("deleted") : conflict());
  }
  simdjson::dom::parser parser;
  std::string current;
  auto doc = baseDoc(call, id, *rev, parser, current);
  if (!doc) return errorResponse(doc.status());
  simdjson::dom::object atts;
  simdjson::dom::element gone;
  if ((*doc)["_attachments"].get(atts) || atts[name].get(gone))
    return errorResponse(notFound("Document is missing attachment"));
  std::string json = detail::rewriteObject(*doc, {"_attachments", "_deleted"}, [&](db::JsonWriter& w) {
    if (atts.size() <= 1) return;
    db::writeKey(w, "_attachments");
    w.StartObject();
    for (auto field : atts) {
      if (field.key == name) continue;
      db::writeKey(w, field.key);
      db::writeElement(w, field.value);
    }
    w.EndObject();
  });
  if (Status st = validateWrite(call, id, json); !st) return errorResponse(st);
  auto written = call.db->put(json, {.id = id});
  if (!written) return errorResponse(written.status());
  return detail::writeAnswer(200, *written);
}

}  // namespace

void registerAttachmentRoutes(Api& api) {
  for (const char* pattern : {"/{db}/{docid}/{att...}", "/{db}/_design/{ddoc}/{att...}"}) {
    api.async("GET", pattern, Access::Reader, getAtt);
    api.streamed("PUT", pattern, Access::Reader, spoolBody, putAtt);
    api.sync("DELETE", pattern, Access::Reader, deleteAtt);
  }
}

}  // namespace settee::http
