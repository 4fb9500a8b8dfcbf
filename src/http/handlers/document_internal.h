// http/handlers/document_internal.h — what the document and attachment families share: how a write
// names its revision, the `{"ok","id","rev"}` answer, JSON object rewriting, and the multipart shapes
// CouchDB uses for documents with attachment bodies (http/multipart.h does the framing), and the streamed
// answers that send those bodies from the store in pieces.
//
// Plain functions over values; any thread unless said otherwise. Nothing here touches a Database except
// through the arguments it is given. The store readers and streamAnswer() live in paged_stream.cc, beside
// the bulk family's paged stream.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/api.h"
#include "http/multipart.h"

namespace settee::db {
class Store;
}

namespace settee::http::detail {

// The revision a write names: `?rev=` or the `If-Match` header (its quotes dropped); empty when there is
// neither. bad_request when both are given and differ, or, unless `local`, when it is not `N-hash`.
Result<std::string> writeRev(const Request& req, bool local = false);

// The revision query parameter `name` of a read, checked to be `N-hash`; empty when absent.
Result<std::string> readRev(const Request& req, std::string_view name = "rev");

// The read options of GET /{db}/{docid}'s query parameters (rev, revs, conflicts, atts_since, ...;
// open_revs aside); what the C API's settee_db_get parses its options with too (src/capi).
Result<ReadOptions> readOptions(const Request& req);

// Whether the Accept header lists `type`. As CouchDB's chttpd does it: the header split on ',' and ' ',
// media-type parameters ignored; no wildcard matching, so a client gets multipart only when it asks.
bool acceptsType(const Request& req, std::string_view type);

// Whether If-None-Match names `etag` (quoted, as sent in ETag). As CouchDB's etag_match: the header is
// split on ',' and ' ', and a weak tag (W/"...") matches as the strong one.
bool etagMatches(const Request& req, std::string_view etag);

// The absolute URL of a document (or of one of its attachments) for a Location header; relative to the
// host when the request had no Host header.
std::string locationOf(const Call& call, std::string_view docId, std::string_view att = {});

// `{"ok":true,"id","rev"}` with `ETag: "<rev>"`, and Location unless `location` is empty.
Response writeAnswer(int status, const DocResult& result, const std::string& location = {});

// POST /{db}/{docid} with a multipart/form-data body: CouchDB's form upload of attachments
// (document_form.cc). Thread pool.
Response postDocForm(Call& call);

// Writing a design document takes a database admin, as in CouchDB; forbidden/unauthorized otherwise.
Status checkDocWriteAccess(Call& call, std::string_view docId);

// Re-serialises the JSON object `doc` without the members named in `drop`, then lets `more` write
// members of its own before the object is closed.
std::string rewriteObject(simdjson::dom::object doc, std::initializer_list<std::string_view> drop,
                          const std::function<void(db::JsonWriter&)>& more = {});

// A response body made of pieces written in order. A piece is `text`, sent as it is, then, when `length`
// is not 0, `length` stored bytes of the attachment body `digest` from `offset`, read from the store in
// pieces off the loop thread as the client takes them. With `inflateLimit` the stored bytes are gzip and
// go out decoded; more than `inflateLimit` decoded bytes, or a stream that does not end cleanly, is an
// error. With `base64` they go out base64-encoded (a document's inline attachment data), after decoding
// when both are set.
struct Piece {
  std::string text;
  std::string digest;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t inflateLimit = 0;  // 0: sent as stored
  bool base64 = false;        // the stored bytes go out base64-encoded (inline attachment data)
};
using Pieces = std::vector<Piece>;

// The text piece at the end of `out`, for framing to be appended to; a new one when the last piece reads
// stored bytes (its text goes out before them).
std::string& textOf(Pieces& out);
// Appends a piece that reads `length` stored bytes of `digest` from `offset` (nothing when `length` is 0).
void appendStored(Pieces& out, std::string_view digest, uint64_t offset, uint64_t length,
                  uint64_t inflateLimit = 0);
// Whether any piece reads from the store (then the answer must be streamed).
bool readsStore(const Pieces& pieces);
// The text of pieces that read nothing from the store, as one body.
std::string joinText(Pieces&& pieces);

// Attachment bodies below this size are read with the document, in the same call off the loop, and
// travel in the text; larger ones are streamed.
inline constexpr uint64_t kLoadWhole = 64 * 1024;

// Reads `length` stored bytes of `digest` from `offset` into `out`, replacing its contents. not_found
// when the body is gone (compaction) or ends early. Any thread but the loop's.
Status readStored(db::Store& store, std::string_view digest, uint64_t offset, uint64_t length,
                  std::string& out);

// For follows entries got with FollowMode::Reference (no `data`): loads into `data` each body smaller than
// kLoadWhole while the bytes loaded stay within `budget` (which it lowers); the others stay references,
// to be streamed. Any thread but the loop's.
Status loadSmall(db::Store& store, std::vector<Attachment>& atts, uint64_t& budget);

// Whether the gzip body `digest` (`length` stored bytes) decodes cleanly to at most `limit` bytes; reads
// it through in pieces and keeps none of it. Any thread but the loop's.
Result<bool> gzipDecodes(db::Store& store, std::string_view digest, uint64_t length, uint64_t limit);

// Pieces read out in order, a step at a time: each text as it is, then its stored bytes read from the
// store about 256 KB per step (base64-encoded or inflated as the piece asks); with `head`, texts only.
// What streamAnswer() sends, for a PageSource that mixes pieces into its own pages (an _all_docs row
// whose attachment bodies are large). Used by one thread at a time, never the loop's.
class BodyReader;
class PieceReader {
 public:
  explicit PieceReader(Pieces pieces, bool head = false);
  ~PieceReader();
  PieceReader(const PieceReader&) = delete;
  PieceReader& operator=(const PieceReader&) = delete;

  bool done() const { return next_ == pieces_.size(); }
  // Appends about one step more of the pieces to `out`. not_found when a stored body is gone or ends
  // early; internal_server_error for a gzip body that does not decode.
  Status step(db::Store& store, std::string& out);

 private:
  Pieces pieces_;
  bool head_;
  size_t next_ = 0;                     // the piece being read
  std::unique_ptr<BodyReader> reader_;  // its stored body, once its text is out
};

// A document read with FollowMode::Reference (`json` has a "follows":true entry for each of `atts`, in
// order) as pieces of JSON whose entries carry their bodies inline as base64 `data`, as attachments=true
// answers: bodies below kLoadWhole are read now and encoded into the text while `loadBudget` lasts, the
// others become stored pieces encoded as they are read, so a 200 MB attachment never becomes 270 MB of
// base64 in memory. Any thread but the loop's.
// As in CouchDB, the data of a gzip-stored body is its decoded bytes (never more than its recorded
// length), and the entry keeps `encoding` / `encoded_length` only with `showEncoding` (att_encoding_info).
Result<Pieces> inlineBodies(db::Store& store, std::string_view json, std::vector<Attachment>& atts,
                            uint64_t loadBudget, bool showEncoding);

// Sends a streamed (chunked) answer: `status` and `headers`, then `pieces`, each written only while the
// client keeps up, stored bytes read piece by piece on the thread pool. For HEAD nothing is read. Stored
// bytes that cannot be read once the headers are out (the body compacted away meanwhile) cut the
// connection, so a short body never looks complete. Loop thread only.
void streamAnswer(std::shared_ptr<Call> call, int status, Headers headers, Pieces pieces);

// What a read handler answers: `head` alone, or with `pieces` its body, streamed by streamAnswer().
struct Answer {
  Response head;
  Pieces pieces;
};
inline Answer whole(Response r) { return Answer{std::move(r), {}}; }

// Runs `read` off the loop (an exception becomes a 500) and sends what it answered. Loop thread only.
void answerOffLoop(std::shared_ptr<Call> call, std::function<Answer(Call&)> read);
// The same as a staged handler (Api::staged): `read` runs in the request's one trip through the pool.
StagedHandler stagedAnswer(Answer (*read)(Call&));

// Appends a `multipart/related` body to `out`: the JSON document (whose `_attachments` hold a
// `"follows":true` entry for each of `atts`, in this order), then each attachment's bytes with its
// Content-Disposition, Content-Type, Content-Length and Content-Encoding. Moves the bytes out of `atts`;
// an attachment whose `data` was not loaded (FollowMode::Reference) becomes a stored piece.
void appendRelated(MultipartWriter& writer, std::string_view json, std::vector<Attachment>& atts,
                   Pieces& out);

// One revision of an open_revs answer as a part of a `multipart/mixed` body: an application/json part,
// a nested multipart/related part when it has attachment bodies, or an error="true" part for a missing one.
void appendOpenRevPart(MultipartWriter& mixed, const OpenRev& rev, std::vector<Attachment>& atts,
                       Pieces& out);

// A `PUT /db/doc` body sent as `multipart/related`: the JSON part and the attachment bodies, named after
// the `follows` entries of the JSON's `_attachments` in order. bad_request for a truncated or malformed
// body or when the parts and the follows entries do not pair up.
struct RelatedDoc {
  std::string json;
  std::vector<AttachmentBody> bodies;
};
Result<RelatedDoc> parseRelated(const Request& req);

// The names of the `follows` entries of a multipart/related document part's `_attachments`, in order:
// the attachment parts that follow pair with them. bad_request when `json` is not a JSON object.
Result<std::vector<std::string>> followsNames(std::string_view json);

// Whether the request's Content-Type is multipart/related.
bool isMultipartRelated(const Request& req);

}  // namespace settee::http::detail
