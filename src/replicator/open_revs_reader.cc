#include "replicator/open_revs_reader.h"

#include "db/json.h"
#include "http/request.h"
#include "replicator/remote_answers.h"
#include "replicator/tuning.h"

namespace settee::repl {
namespace {

// A JSON part (one revision's document) larger than this is refused: CouchDB's max_document_size is
// 8 MB by default, so this is a broken or hostile peer.
constexpr size_t kMaxJsonPart = tuning::kDocumentAnswerBytes;
// Enough of an error answer to say why.
constexpr size_t kMaxErrorBody = 4096;
// The largest attachment a database stores (SQLite's blob limit).
constexpr uint64_t kMaxAttachment = INT32_MAX;

// Whether a Content-Type names `type` (any case), parameters aside.
bool startsWithType(const std::string* contentType, std::string_view type) {
  return contentType && http::equalsIgnoreCase(std::string_view(*contentType).substr(0, type.size()), type);
}

}  // namespace

Status OpenRevsReader::malformed(const std::string& why) const { return badAnswer(what_, why); }

void OpenRevsReader::headers(const http::ResponseHead& head) {
  // A repeated request (a new session after a 401) starts over; its spool bytes are simply not used.
  text_.clear();
  out_.clear();
  failed_ = Status::ok();
  outer_.reset();
  inner_.reset();
  revisions_ = 0;
  mode_ = Mode::Error;
  if (head.status < 200 || head.status >= 300) return;
  const std::string* type = head.header("Content-Type");
  if (startsWithType(type, "multipart/mixed")) {
    auto boundary = http::boundaryOf(*type);
    if (!boundary) {
      failed_ = malformed("multipart/mixed without a boundary");
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
      if (text_.size() + piece.size() > jsonLimit_) {
        failed_ = Status(ErrorCode::TooLarge, what_ + ": the JSON answer is over its limit of " +
                                                  std::to_string(jsonLimit_) + " bytes");
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
    if (Status st = outer_->finish(); !st)
      return st.code() == ErrorCode::BadRequest ? st : malformed(st.reason());
    return std::move(out_);
  }
  if (mode_ == Mode::Json) return decodeOpenRevs(text_, asked_, what_);
  return Status(ErrorCode::Internal, what_ + ": the answer was an error");
}

Status OpenRevsReader::checkRevisionCount() {
  if (++revisions_ > asked_.missing.size()) return malformed("more revisions than were asked for");
  return Status::ok();
}

Status OpenRevsReader::onOuterBegin(const http::HeaderList& headers) {
  const std::string* type = http::findHeader(headers, "Content-Type");
  text_.clear();
  partIsError_ = type && type->find("error=\"true\"") != std::string::npos;
  if (!startsWithType(type, "multipart/related")) return Status::ok();
  auto boundary = http::boundaryOf(*type);
  if (!boundary) return malformed("a multipart/related part without a boundary");
  innerIndex_ = 0;
  doc_.clear();
  docChecked_ = false;
  follows_.clear();
  bodies_.clear();
  inner_ = std::make_unique<http::MultipartStreamParser>(
      *boundary, http::MultipartHandler{[this](const http::HeaderList& h) { return onInnerBegin(h); },
                                        [this](std::string_view b) { return onInnerData(b); },
                                        [this] { return onInnerEnd(); }});
  return Status::ok();
}

Status OpenRevsReader::onOuterData(std::string_view bytes) {
  if (inner_) return inner_->feed(bytes);
  if (text_.size() + bytes.size() > kMaxJsonPart)
    return malformed("a revision part over " + std::to_string(kMaxJsonPart) + " bytes");
  text_.append(bytes);
  return Status::ok();
}

Status OpenRevsReader::onOuterEnd() {
  if (!inner_) {
    // A revision without attachment bodies, or {"missing": rev} (not a revision to copy).
    if (partIsError_) return Status::ok();
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    std::string_view missing;
    if (p.parse(text_).get(doc) || doc.type() != simdjson::dom::element_type::OBJECT)
      return malformed("a revision part that is not a JSON object");
    if (!doc["missing"].get(missing)) return Status::ok();
    if (Status st = checkRevision(doc, asked_, what_); !st) return st;
    if (Status st = checkRevisionCount(); !st) return st;
    out_.push_back(fetchedRevision(asked_.id, doc));
    text_.clear();
    return Status::ok();
  }
  if (Status st = inner_->finish(); !st) return st;
  inner_.reset();
  if (!docChecked_) {
    if (Status st = checkDocPart(); !st) return st;
  }
  if (bodies_.size() != follows_.size())
    return malformed("fewer attachment parts than `follows` attachments");
  if (Status st = checkRevisionCount(); !st) return st;
  out_.push_back({asked_.id, std::move(docRev_), std::move(bodies_)});
  docRev_ = Status(ErrorCode::Internal, "no revision");
  doc_.clear();
  bodies_.clear();
  return Status::ok();
}

Status OpenRevsReader::checkDocPart() {
  docChecked_ = true;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::object atts;
  if (p.parse(doc_).get(doc)) return malformed("a multipart/related part without a JSON document");
  if (Status st = checkRevision(doc, asked_, what_); !st) return st;
  docRev_ = fetchedRevision(asked_.id, doc).rev;
  // The bodies follow in the order of the document's `follows` attachments.
  if (doc["_attachments"].get(atts)) return Status::ok();
  for (auto field : atts) {
    bool follows = false;
    if (field.value["follows"].get(follows) || !follows) continue;
    Follows f{std::string(field.key), 0, {}};
    std::string_view encoding, digest;
    const char* lengthName = field.value["encoding"].get(encoding) ? "length" : "encoded_length";
    if (field.value[lengthName].get(f.length))
      return malformed("attachment " + f.name + " follows without a `" + lengthName + "`");
    if (f.length > kMaxAttachment)
      return malformed("attachment " + f.name + " claims " + std::to_string(f.length) + " bytes, over 2 GiB");
    if (!field.value["digest"].get(digest)) f.digest = digest;
    follows_.push_back(std::move(f));
  }
  return Status::ok();
}

Status OpenRevsReader::onInnerBegin(const http::HeaderList&) {
  if (innerIndex_++ == 0) return Status::ok();
  if (!docChecked_) {
    if (Status st = checkDocPart(); !st) return st;
  }
  if (bodies_.size() >= follows_.size()) return malformed("more attachment parts than `follows` attachments");
  bodyStart_ = spool_->size();
  bodyBytes_ = 0;
  md5_ = std::make_unique<db::Md5>();
  return Status::ok();
}

Status OpenRevsReader::onInnerData(std::string_view bytes) {
  if (innerIndex_ > 1) {
    const Follows& f = follows_[bodies_.size()];
    bodyBytes_ += bytes.size();
    if (bodyBytes_ > f.length)
      return malformed("attachment " + f.name + " goes on past its length of " + std::to_string(f.length) +
                       " bytes");
    md5_->update(bytes);
    return spool_->append(bytes);
  }
  if (doc_.size() + bytes.size() > kMaxJsonPart)
    return malformed("a document part over " + std::to_string(kMaxJsonPart) + " bytes");
  doc_.append(bytes);
  return Status::ok();
}

Status OpenRevsReader::onInnerEnd() {
  if (innerIndex_ <= 1) return Status::ok();
  const Follows& f = follows_[bodies_.size()];
  if (bodyBytes_ != f.length)
    return malformed("attachment " + f.name + " has " + std::to_string(bodyBytes_) +
                     " bytes, its length says " + std::to_string(f.length));
  // The digest covers the bytes as sent (encoded ones, with an encoding), as CouchDB computes it.
  if (f.digest.rfind("md5-", 0) == 0 && md5_->finishDigest() != f.digest)
    return malformed("attachment " + f.name + "'s bytes do not match its digest " + f.digest);
  bodies_.push_back({f.name, {}, spool_->slice(bodyStart_, spool_->size() - bodyStart_)});
  return Status::ok();
}

}  // namespace settee::repl
