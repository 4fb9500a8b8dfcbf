// Streamed answers, their pages made on the thread pool and sent from the loop thread: the paged JSON
// stream of the bulk family, and the document family's answers whose attachment bodies are read from the
// store a piece at a time (so serving a 500 MB attachment costs a few pieces of memory, not 500 MB).
#include <algorithm>
#include <exception>

#include "db/crypto.h"
#include "db/database_internal.h"
#include "http/gzip_inflater.h"
#include "http/handlers/bulk_internal.h"
#include "http/handlers/document_internal.h"
#include "http/work.h"

namespace settee::http::detail {
namespace {

// Output waiting for the client beyond which no further page is made until it drains: a client that
// reads slowly costs us at most this much memory (plus one page), however large the answer.
constexpr size_t kHighWater = 1024 * 1024;
// Stored bytes read per page of an attachment stream: one short hold of the store's lock each, and the
// most a page adds to the memory an answer costs.
constexpr size_t kReadPiece = 256 * 1024;
// Gzip bodies are decoded this many compressed bytes at a time, so one step's output stays near
// kReadPiece even for a body that inflates a thousandfold.
constexpr size_t kInflateSlice = 4 * 1024;

// One streamed answer. Owned by the closures in flight (a page being made, or the drain callback); it
// holds the Call, so the Responder lives until the stream ends or is abandoned. The drain callback is
// the only reference the Responder holds back, and Responder::end / the connection's close release it.
struct Pump : std::enable_shared_from_this<Pump> {
  std::shared_ptr<Call> call;
  std::shared_ptr<PageSource> source;
  int status = 200;
  Headers headers;
  bool started = false;
  // Written by the pool thread, read by the loop thread after it (runOffLoop orders the two).
  std::string chunk;
  Status result;
  bool done = false;

  void makePage() {
    auto self = shared_from_this();
    call->svc->slowWork->run(
        [self] { return !self->call->closed(); },
        [self] {
          self->chunk.clear();
          try {
            self->result = self->source->page(self->chunk, self->done);
          } catch (const std::exception& e) {
            self->result = Status(ErrorCode::Internal, e.what());
          }
        },
        [self] { self->sendPage(); });
  }

  void sendPage() {
    if (!started) {
      if (!result) {
        call->send(errorResponse(result));
        return;
      }
      started = true;
      call->start(status, std::move(headers));
    } else if (!result) {
      return;  // dropping the last reference abandons the Responder, which cuts the connection
    }
    if (call->closed()) return;
    call->write(chunk);
    if (done) {
      call->end();
      return;
    }
    if (call->res->pendingBytes() <= kHighWater) {
      makePage();
      return;
    }
    auto self = shared_from_this();
    call->res->onDrain([self] {
      self->call->res->onDrain(nullptr);  // the connection called a copy, so this may release it
      if (!self->call->closed()) self->makePage();
    });
  }
};

}  // namespace

// One stored body read front to back, a step at a time; gzip decoded on the way when the piece asks.
// Used by one thread at a time (the pool thread of the current step).
class BodyReader {
 public:
  explicit BodyReader(const Piece& piece)
      : digest_(piece.digest),
        offset_(piece.offset),
        length_(piece.length),
        limit_(piece.inflateLimit),
        base64_(piece.base64) {
    if (limit_ > 0) inflater_ = std::make_unique<GzipInflater>(static_cast<size_t>(limit_));
  }

  bool done() const { return done_; }
  // Whether the last failure was the gzip stream, not the store.
  bool corrupt() const { return corrupt_; }

  // Appends about kReadPiece more bytes to `out`. not_found when the body is gone or ends early.
  Status step(db::Store& store, std::string& out) {
    if (base64_ && !inflater_) {
      // Whole groups of three bytes but in the last step, so the pieces' base64 joins into the body's.
      const uint64_t n = std::min<uint64_t>(kReadPiece / 3 * 3, length_ - read_);
      raw_.resize(n);
      if (Status st = readInto(store, offset_ + read_, raw_.data(), n); !st) return st;
      read_ += n;
      out += db::base64Encode(raw_);
      done_ = read_ == length_;
      return Status::ok();
    }
    if (!inflater_) {
      const uint64_t n = std::min<uint64_t>(kReadPiece, length_ - read_);
      const size_t start = out.size();
      out.resize(start + n);
      Status st = readInto(store, offset_ + read_, out.data() + start, n);
      if (!st) return st;
      read_ += n;
      done_ = read_ == length_;
      return Status::ok();
    }
    // Decoded bytes go out as they are, or, base64-encoded, through carry_ in whole groups of three.
    std::string& sink = base64_ ? carry_ : out;
    size_t produced = 0;
    while (produced < kReadPiece) {
      if (pos_ == in_.size()) {
        if (read_ == length_) break;
        const uint64_t n = std::min<uint64_t>(kReadPiece, length_ - read_);
        if (Status st = readStored(store, digest_, offset_ + read_, n, in_); !st) return st;
        read_ += n;
        pos_ = 0;
      }
      const size_t n = std::min(kInflateSlice, in_.size() - pos_);
      decoded_.clear();
      // The inflater bounds one slice's output; the running total is checked against the same limit.
      if (inflater_->feed(std::string_view(in_).substr(pos_, n), decoded_) != GzipInflater::Result::Ok ||
          total_ + decoded_.size() > limit_) {
        return fail();
      }
      pos_ += n;
      total_ += decoded_.size();
      produced += decoded_.size();
      sink += decoded_;
    }
    if (read_ == length_ && pos_ == in_.size()) {
      if (inflater_->finish() != GzipInflater::Result::Ok) return fail();
      done_ = true;
    }
    if (base64_) {
      const size_t whole = done_ ? carry_.size() : carry_.size() / 3 * 3;
      out += db::base64Encode(std::string_view(carry_).substr(0, whole));
      carry_.erase(0, whole);
    }
    return Status::ok();
  }

  static Status readInto(db::Store& store, std::string_view digest, uint64_t offset, char* buf, uint64_t n) {
    for (uint64_t got = 0; got < n;) {
      auto r = store.readAttachment(digest, offset + got, buf + got, static_cast<size_t>(n - got));
      if (!r) return r.status();
      if (*r == 0) return notFound("attachment " + std::string(digest) + " ended early");
      got += *r;
    }
    return Status::ok();
  }

 private:
  Status readInto(db::Store& store, uint64_t offset, char* buf, uint64_t n) {
    return readInto(store, digest_, offset, buf, n);
  }
  Status fail() {
    corrupt_ = true;
    return Status(ErrorCode::Internal, "attachment " + digest_ + " is not a valid gzip stream");
  }

  std::string digest_;
  uint64_t offset_, length_, limit_;
  uint64_t read_ = 0;   // stored bytes read so far
  uint64_t total_ = 0;  // decoded bytes produced so far
  std::unique_ptr<GzipInflater> inflater_;
  std::string in_;       // compressed bytes read, not all fed yet
  size_t pos_ = 0;       // of in_, fed so far
  std::string decoded_;  // one slice's output
  bool base64_ = false;
  std::string raw_;    // one step's stored bytes, before base64
  std::string carry_;  // decoded bytes not base64-encoded yet (fewer than three between steps)
  bool done_ = false;
  bool corrupt_ = false;
};

PieceReader::PieceReader(Pieces pieces, bool head) : pieces_(std::move(pieces)), head_(head) {}
PieceReader::~PieceReader() = default;

Status PieceReader::step(db::Store& store, std::string& out) {
  const size_t start = out.size();
  while (next_ < pieces_.size() && out.size() - start < kReadPiece) {
    Piece& p = pieces_[next_];
    if (!reader_) {
      out += p.text;
      std::string().swap(p.text);
      if (p.length == 0 || head_) {
        ++next_;
        continue;
      }
      reader_ = std::make_unique<BodyReader>(p);
    }
    if (Status st = reader_->step(store, out); !st) return st;
    if (reader_->done()) {
      reader_.reset();
      ++next_;
    }
  }
  return Status::ok();
}

namespace {

// The pages of an answer made of Pieces: the text, then each stored body a step at a time. HEAD reads
// nothing from the store: the headers are the whole answer.
class PieceSource : public PageSource {
 public:
  PieceSource(std::shared_ptr<Database> db, Pieces pieces, bool head)
      : db_(std::move(db)), reader_(std::move(pieces), head) {}

  Status page(std::string& out, bool& done) override {
    if (Status st = reader_.step(db::storeOf(*db_), out); !st) return st;
    done = reader_.done();
    return Status::ok();
  }

 private:
  std::shared_ptr<Database> db_;
  PieceReader reader_;
};

void startPump(std::shared_ptr<Call> call, std::shared_ptr<PageSource> source, int status, Headers headers) {
  auto pump = std::make_shared<Pump>();
  pump->call = std::move(call);
  pump->source = std::move(source);
  pump->status = status;
  pump->headers = std::move(headers);
  pump->makePage();
}

}  // namespace

void streamPages(std::shared_ptr<Call> call, std::shared_ptr<PageSource> source, int status) {
  startPump(std::move(call), std::move(source), status, {});
}

void streamAnswer(std::shared_ptr<Call> call, int status, Headers headers, Pieces pieces) {
  bool head = call->req.method == "HEAD";
  auto source = std::make_shared<PieceSource>(call->db, std::move(pieces), head);
  startPump(std::move(call), std::move(source), status, std::move(headers));
}

Status readStored(db::Store& store, std::string_view digest, uint64_t offset, uint64_t length,
                  std::string& out) {
  out.resize(length);
  return BodyReader::readInto(store, digest, offset, out.data(), length);
}

Status loadSmall(db::Store& store, std::vector<Attachment>& atts, uint64_t& budget) {
  for (Attachment& att : atts) {
    if (!att.data.empty() || att.storedLength == 0) continue;
    if (att.storedLength >= kLoadWhole || att.storedLength > budget) continue;
    if (Status st = readStored(store, att.digest, 0, att.storedLength, att.data); !st) return st;
    budget -= att.storedLength;
  }
  return Status::ok();
}

Result<bool> gzipDecodes(db::Store& store, std::string_view digest, uint64_t length, uint64_t limit) {
  Piece piece;
  piece.digest.assign(digest);
  piece.length = length;
  piece.inflateLimit = limit;
  BodyReader reader(piece);
  std::string scratch;
  while (!reader.done()) {
    scratch.clear();
    if (Status st = reader.step(store, scratch); !st) {
      if (reader.corrupt()) return false;
      return st;
    }
  }
  return true;
}

namespace {

void sendAnswer(const std::shared_ptr<Call>& call, Answer& answer) {
  if (answer.pieces.empty()) {
    call->send(std::move(answer.head));
    return;
  }
  Response& head = answer.head;
  streamAnswer(call, head.status, std::move(head.headers), std::move(answer.pieces));
}

}  // namespace

StagedHandler stagedAnswer(Answer (*read)(Call&)) {
  return [read](Call& call) -> AsyncHandler {
    auto answer = std::make_shared<Answer>(read(call));
    return [answer](std::shared_ptr<Call> call) { sendAnswer(call, *answer); };
  };
}

void answerOffLoop(std::shared_ptr<Call> call, std::function<Answer(Call&)> read) {
  auto answer = std::make_shared<Answer>();
  runOffLoop(
      call->svc->loop,
      [call, answer, read = std::move(read)] {
        try {
          *answer = read(*call);
        } catch (const std::exception& e) {
          *answer = whole(errorResponse(500, "internal_server_error", e.what()));
        }
      },
      [call, answer] { sendAnswer(call, *answer); });
}

}  // namespace settee::http::detail
