#include "http/handlers/related_body.h"

namespace settee::http::detail {

RelatedBody::RelatedBody(uv_loop_t* loop, const std::string& directory, std::string boundary,
                         size_t maxDocument)
    : BodySpool(loop, directory),
      parser_(std::move(boundary),
              MultipartHandler{[this](const HeaderList&) {
                                 if (++part_ > 0) partStart_ = received();
                                 return Status::ok();
                               },
                               [this](std::string_view bytes) {
                                 if (part_ > 0) {
                                   room_ = BodySpool::write(bytes) && room_;
                                   return Status::ok();
                                 }
                                 // As CouchDB counts max_document_size: the document, not its attachments.
                                 if (json_.size() + bytes.size() > maxDocument_) {
                                   return Status(ErrorCode::TooLarge, "Document exceeds max_document_size");
                                 }
                                 json_.append(bytes);
                                 return Status::ok();
                               },
                               [this] {
                                 if (part_ > 0) slices_.emplace_back(partStart_, received() - partStart_);
                                 return Status::ok();
                               }}),
      maxDocument_(maxDocument) {}

bool RelatedBody::write(std::string_view piece) {
  if (!status()) return true;  // failed: the rest is read and dropped
  room_ = true;
  if (Status st = parser_.feed(piece); !st) {
    fail(std::move(st));
    return true;
  }
  return room_;
}

void RelatedBody::finish(std::function<void()> done) {
  if (status()) {
    if (Status st = parser_.finish(); !st) fail(std::move(st));
  }
  BodySpool::finish(std::move(done));
}

Result<RelatedDoc> RelatedBody::document() const {
  if (part_ < 0) return badRequest("multipart/related body without a document part");
  auto names = followsNames(json_);
  if (!names) return names.status();
  if (names->size() != slices_.size()) {
    return badRequest("The multipart body has " + std::to_string(slices_.size()) + " attachment parts for " +
                      std::to_string(names->size()) + " follows entries");
  }
  RelatedDoc doc;
  doc.json = json_;
  for (size_t i = 0; i < slices_.size(); ++i) {
    auto source = slice(slices_[i].first, slices_[i].second);
    if (!source) return Status(ErrorCode::Internal, "the spooled attachment body is incomplete");
    doc.bodies.push_back(AttachmentBody{std::move((*names)[i]), {}, std::move(source)});
  }
  return doc;
}

}  // namespace settee::http::detail
