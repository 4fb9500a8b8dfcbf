#include "replicator/open_revs_reader.h"

#include "db/json.h"
#include "http/request.h"

namespace settee::repl {
namespace {

// A JSON part (one revision's document) larger than this is refused: CouchDB's max_document_size is
// 8 MB by default, so this is a broken or hostile peer.
constexpr size_t kMaxJsonPart = 64 * 1024 * 1024;
// A whole JSON answer (attachments inline, base64) larger than this is refused, as the HTTP client
// refuses a buffered body past its limit.
constexpr size_t kMaxJsonAnswer = 256 * 1024 * 1024;
// Enough of an error answer to say why.
constexpr size_t kMaxErrorBody = 4096;

// Whether a Content-Type names `type` (any case), parameters aside.
bool startsWithType(const std::string* contentType, std::string_view type) {
  return contentType && http::equalsIgnoreCase(std::string_view(*contentType).substr(0, type.size()), type);
}

Status malformed(const std::string& id, const std::string& why) {
  return {ErrorCode::Internal, "bad open_revs answer for " + id + ": " + why};
}

}  // namespace

void OpenRevsReader::headers(const http::ResponseHead& head) {
  // A repeated request (a new session after a 401) starts over; its spool bytes are simply not used.
  text_.clear();
  out_.clear();
  failed_ = Status::ok();
  outer_.reset();
  inner_.reset();
  mode_ = Mode::Error;
  if (head.status < 200 || head.status >= 300) return;
  const std::string* type = head.header("Content-Type");
  if (startsWithType(type, "multipart/mixed")) {
    auto boundary = http::boundaryOf(*type);
    if (!boundary) {
      failed_ = malformed(id_, "multipart/mixed without a boundary");
      return;
    }
    mode_ = Mode::Mixed;
    outer_ = std::make_unique<http::MultipartStreamParser>(
        *boundary, http::MultipartHandler{[this](const http::HeaderList& h) { return onOuterBegin(h); },
                                          [this](std::string_view b) { return onOuterData(b); },
                                          [this] { return onOuterEnd(); }});
  } else {
    mode_ = Mode::Json;
  }
}

bool OpenRevsReader::data(std::string_view piece) {
  if (!failed_) return false;
  switch (mode_) {
    case Mode::Error:
      text_.append(piece.substr(0, kMaxErrorBody > text_.size() ? kMaxErrorBody - text_.size() : 0));
      return true;
    case Mode::Json:
      if (text_.size() + piece.size() > kMaxJsonAnswer) {
        failed_ = malformed(id_, "a JSON answer over 256 MB");
        return false;
      }
      text_.append(piece);
      return true;
    case Mode::Mixed:
      failed_ = outer_->feed(piece);
      return failed_.isOk();
  }
  return false;
}

Result<std::vector<FetchedRev>> OpenRevsReader::finish() {
  if (!failed_) return failed_;
  if (mode_ == Mode::Mixed) {
    if (Status st = outer_->finish(); !st) return malformed(id_, st.reason());
    return std::move(out_);
  }
  if (mode_ == Mode::Json) {
    simdjson::dom::parser p;
    simdjson::dom::array arr;
    if (p.parse(text_).get(arr)) return malformed(id_, "not a JSON array");
    std::vector<FetchedRev> out;
    for (simdjson::dom::element e : arr) {
      simdjson::dom::element doc;
      if (!e["ok"].get(doc)) out.push_back({id_, db::toJson(doc), {}});
    }
    return out;
  }
  return Status(ErrorCode::Internal, "open_revs answer was an error");
}

Status OpenRevsReader::onOuterBegin(const http::HeaderList& headers) {
  const std::string* type = http::findHeader(headers, "Content-Type");
  text_.clear();
  partIsError_ = type && type->find("error=\"true\"") != std::string::npos;
  if (!startsWithType(type, "multipart/related")) return Status::ok();
  auto boundary = http::boundaryOf(*type);
  if (!boundary) return malformed(id_, "multipart/related part without a boundary");
  innerIndex_ = 0;
  doc_.clear();
  bodies_.clear();
  inner_ = std::make_unique<http::MultipartStreamParser>(
      *boundary, http::MultipartHandler{[this](const http::HeaderList& h) { return onInnerBegin(h); },
                                        [this](std::string_view b) { return onInnerData(b); },
                                        [this] { return onInnerEnd(); }});
  return Status::ok();
}

Status OpenRevsReader::onOuterData(std::string_view bytes) {
  if (inner_) return inner_->feed(bytes);
  if (text_.size() + bytes.size() > kMaxJsonPart) return malformed(id_, "a revision part over 64 MB");
  text_.append(bytes);
  return Status::ok();
}

Status OpenRevsReader::onOuterEnd() {
  if (!inner_) {
    // A revision without attachment bodies, or {"missing": rev} (not a revision to copy).
    if (partIsError_) return Status::ok();
    simdjson::dom::parser p;
    simdjson::dom::object doc;
    std::string_view missing;
    if (p.parse(text_).get(doc)) return malformed(id_, "a revision part that is not a JSON object");
    if (!doc["missing"].get(missing)) return Status::ok();
    out_.push_back({id_, std::move(text_), {}});
    text_.clear();
    return Status::ok();
  }
  if (Status st = inner_->finish(); !st) return st;
  inner_.reset();
  // The bodies follow in the order of the document's `follows` attachments: name them so.
  simdjson::dom::parser p;
  simdjson::dom::object doc, atts;
  if (p.parse(doc_).get(doc)) return malformed(id_, "a multipart/related part without a JSON document");
  size_t next = 0;
  if (!doc["_attachments"].get(atts)) {
    for (auto field : atts) {
      bool follows = false;
      if (field.value["follows"].get(follows) || !follows) continue;
      if (next == bodies_.size()) return malformed(id_, "fewer attachment parts than `follows` attachments");
      bodies_[next++].name = std::string(field.key);
    }
  }
  if (next != bodies_.size()) return malformed(id_, "more attachment parts than `follows` attachments");
  out_.push_back({id_, std::move(doc_), std::move(bodies_)});
  doc_.clear();
  bodies_.clear();
  return Status::ok();
}

Status OpenRevsReader::onInnerBegin(const http::HeaderList&) {
  if (innerIndex_++ > 0) bodyStart_ = spool_->size();
  return Status::ok();
}

Status OpenRevsReader::onInnerData(std::string_view bytes) {
  if (innerIndex_ > 1) return spool_->append(bytes);
  if (doc_.size() + bytes.size() > kMaxJsonPart) return malformed(id_, "a document part over 64 MB");
  doc_.append(bytes);
  return Status::ok();
}

Status OpenRevsReader::onInnerEnd() {
  if (innerIndex_ > 1) bodies_.push_back({{}, {}, spool_->slice(bodyStart_, spool_->size() - bodyStart_)});
  return Status::ok();
}

}  // namespace settee::repl
