// replicator/open_revs_reader.h — reads the answer to GET /db/{id}?open_revs=[...] as it arrives.
//
// CouchDB's replicator asks for `Accept: multipart/mixed`: one part per revision, a revision with
// attachments being a nested multipart/related part (the JSON, then one part per `follows` attachment).
// This reader takes that stream piece by piece: JSON parts are kept (a document is bounded by the
// source's max_document_size), attachment bytes go straight to a Spool and come back as ByteSource
// slices, so an attachment of any size costs one network chunk of memory. A peer that answers with a
// JSON array instead (pouchdb-server) is read whole, as it must be: attachments are then inline.
//
// Nothing is trusted (see remote_answers.h): each revision must be one asked for (or a descendant of one),
// with a history that agrees with its `_rev`, and no more revisions than asked; an attachment's bytes
// may not pass the length its JSON claims (so a part that never ends stops there, and at 2 GiB, the most
// a database stores), must reach it, and must match its `md5-` digest. The JSON answer stops at
// `jsonLimit` bytes.
//
// Use: headers() once per response (again when a request is repeated: it starts over), data() for every
// piece, then finish(). Not thread-safe; one document's answer per reader.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "db/crypto.h"
#include "http/client.h"
#include "http/multipart_stream.h"
#include "replicator/endpoint.h"
#include "replicator/spool.h"

namespace settee::repl {

class OpenRevsReader {
 public:
  // `what` names the request in errors.
  OpenRevsReader(MissingRevs asked, std::shared_ptr<Spool> spool, std::string what, uint64_t jsonLimit)
      : asked_(std::move(asked)), spool_(std::move(spool)), what_(std::move(what)), jsonLimit_(jsonLimit) {}

  void headers(const http::ResponseHead& head);
  // false stops the transfer: the answer cannot be read (finish() says why).
  bool data(std::string_view piece);
  // The revisions found, in the order sent; an error when the answer was malformed or cut short.
  // A non-2xx answer's body is in errorBody(), for the caller to map its status.
  Result<std::vector<FetchedRev>> finish();
  const std::string& errorBody() const { return text_; }

 private:
  enum class Mode { Error, Json, Mixed };
  Status onOuterBegin(const http::HeaderList& headers);
  Status onOuterData(std::string_view bytes);
  Status onOuterEnd();
  Status onInnerBegin(const http::HeaderList& headers);
  Status onInnerData(std::string_view bytes);
  Status onInnerEnd();
  Status malformed(const std::string& why) const;
  // Parses doc_ and checks the revision (into docRev_); collects its `follows` attachments into follows_.
  Status checkDocPart();
  Status checkRevisionCount();

  // An attachment whose bytes follow the JSON, as the JSON describes it.
  struct Follows {
    std::string name;
    uint64_t length = 0;  // of the bytes sent: encoded_length when there is an encoding
    std::string digest;
  };

  MissingRevs asked_;
  std::shared_ptr<Spool> spool_;
  std::string what_;
  uint64_t jsonLimit_;
  size_t revisions_ = 0;  // revision parts read
  Mode mode_ = Mode::Error;
  Status failed_;
  std::string text_;  // the JSON answer, an error body, or the current JSON part
  std::unique_ptr<http::MultipartStreamParser> outer_;
  // The revision part being read: a plain JSON part, or a multipart/related one read by inner_.
  bool partIsError_ = false;
  std::unique_ptr<http::MultipartStreamParser> inner_;
  size_t innerIndex_ = 0;    // parts of the multipart/related part begun so far
  std::string doc_;          // its JSON document
  bool docChecked_ = false;  // doc_ parsed and checked, follows_ filled
  Result<db::Revision> docRev_ = Status(ErrorCode::Internal, "no revision");  // doc_ as a value, once checked
  std::vector<Follows> follows_;
  uint64_t bodyStart_ = 0;        // spool offset where the current attachment began
  uint64_t bodyBytes_ = 0;        // of the current attachment so far
  std::unique_ptr<db::Md5> md5_;  // of the current attachment
  std::vector<AttachmentBody> bodies_;
  std::vector<FetchedRev> out_;
};

}  // namespace settee::repl
