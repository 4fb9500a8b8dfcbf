// http/handlers/document_internal.h — what the document and attachment families share: how a write
// names its revision, the `{"ok","id","rev"}` answer, JSON object rewriting, and the multipart shapes
// CouchDB uses for documents with attachment bodies (http/multipart.h does the framing).
//
// Plain functions over values; any thread. Nothing here touches a Database except through the
// arguments it is given.
#pragma once

#include <simdjson.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "http/api.h"
#include "http/multipart.h"

namespace settee::http::detail {

// The revision a write names: `?rev=` or the `If-Match` header (its quotes dropped); empty when there is
// neither. bad_request when both are given and differ, or, unless `local`, when it is not `N-hash`.
Result<std::string> writeRev(const Request& req, bool local = false);

// The revision query parameter `name` of a read, checked to be `N-hash`; empty when absent.
Result<std::string> readRev(const Request& req, std::string_view name = "rev");

// Whether the Accept header lists `type`. As CouchDB's chttpd does it: the header split on ',' and ' ',
// media-type parameters ignored; no wildcard matching, so a client gets multipart only when it asks.
bool acceptsType(const Request& req, std::string_view type);


// The absolute URL of a document (or of one of its attachments) for a Location header; relative to the
// host when the request had no Host header.
std::string locationOf(const Call& call, std::string_view docId, std::string_view att = {});

// `{"ok":true,"id","rev"}` with `ETag: "<rev>"`, and Location unless `location` is empty.
Response writeAnswer(int status, const DocResult& result, const std::string& location = {});

// Writing a design document takes a database admin, as in CouchDB; forbidden/unauthorized otherwise.
Status checkDocWriteAccess(Call& call, std::string_view docId);

// Re-serialises the JSON object `doc` without the members named in `drop`, then lets `more` write
// members of its own before the object is closed.
std::string rewriteObject(simdjson::dom::object doc, std::initializer_list<std::string_view> drop,
                          const std::function<void(db::JsonWriter&)>& more = {});

// A response body made of pieces written in order; attachment bodies are pieces of their own, moved in
// rather than copied into the framing.
using Pieces = std::vector<std::string>;

// Appends a `multipart/related` body to `out`: the JSON document (whose `_attachments` hold a
// `"follows":true` entry for each of `atts`, in this order), then each attachment's bytes with its
// Content-Disposition, Content-Type, Content-Length and Content-Encoding. Moves the bytes out of `atts`.
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

// Whether the request's Content-Type is multipart/related.
bool isMultipartRelated(const Request& req);

}  // namespace settee::http::detail
