// http/handlers/related_body.h — a multipart/related document body (PUT /db/doc with attachment bodies,
// as CouchDB's replicator and PouchDB send it) taken as it arrives: the JSON part is held, up to
// max_document_size; the attachment parts go, one after another, to the request's spool file, and the
// store later reads each one from its slice of that file.
//
// Contract: a BodySpool (http/body_spool.h), so the same memory bound and backpressure hold; loop thread
// for write/finish, any thread for `document()` once finished. Malformed framing, a document part over
// the limit or a failed write make `status()` an error, and the rest of the body is read and dropped.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "http/body_spool.h"
#include "http/handlers/document_internal.h"
#include "http/multipart_stream.h"

namespace settee::http::detail {

class RelatedBody : public BodySpool {
 public:
  RelatedBody(uv_loop_t* loop, const std::string& directory, std::string boundary, size_t maxDocument);

  bool write(std::string_view piece) override;
  void finish(std::function<void()> done) override;

  // After finish, when status() is ok: the document and its attachment bodies (read from the spool),
  // paired with the document's follows entries in order; bad_request when they do not pair up.
  Result<RelatedDoc> document() const;

 private:
  MultipartStreamParser parser_;
  size_t maxDocument_;
  int part_ = -1;  // the part being read; 0 is the document
  std::string json_;
  std::vector<std::pair<uint64_t, uint64_t>> slices_;  // each attachment part: offset, length
  uint64_t partStart_ = 0;
  bool room_ = true;  // the spool took the last bytes without filling up
};

}  // namespace settee::http::detail
