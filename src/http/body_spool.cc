#include "http/body_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "http/work.h"

namespace settee::http {
namespace {

// The spool file read back: pread at any offset, so the database may read it twice (a retried write).
class FileSource : public ByteSource {
 public:
  FileSource(std::shared_ptr<int> fd, uint64_t start, uint64_t size)
      : fd_(std::move(fd)), start_(start), size_(size) {}
  uint64_t size() const override { return size_; }
  Result<size_t> read(uint64_t offset, char* buf, size_t n) const override {
    if (offset >= size_) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    for (;;) {
      ssize_t got = ::pread(*fd_, buf, n, static_cast<off_t>(start_ + offset));
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR)
        return Status(ErrorCode::Internal, std::string("reading a spooled body: ") + std::strerror(errno));
    }
  }

 private:
  std::shared_ptr<int> fd_;
  uint64_t start_;
  uint64_t size_;
};

Status writeAll(int fd, const std::string& bytes) {
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Status(ErrorCode::Internal, std::string("spooling the request body: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

BodySpool::BodySpool(uv_loop_t* loop, const std::string& directory) : loop_(loop) {
  std::string path = directory + "/.upload-XXXXXX";
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    status_ =
        Status(ErrorCode::Internal, std::string("cannot spool the request body: ") + std::strerror(errno));
    return;
  }
  ::unlink(path.c_str());
  fd_ = std::shared_ptr<int>(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
}

BodySpool::~BodySpool() = default;

bool BodySpool::write(std::string_view piece) {
  if (!status_) return true;  // nowhere to keep it: read and dropped, the handler answers the error
  received_ += piece.size();
  pending_.append(piece);
  if (pending_.size() >= kSpoolFlush) flush();
  full_ = pending_.size() >= kSpoolHighWater;
  return !full_;
}

void BodySpool::finish(std::function<void()> done) {
  done_ = std::move(done);
  if (!status_ || (pending_.empty() && !writing_)) {
    auto callback = std::move(done_);
    done_ = nullptr;
    callback();
    return;
  }
  flush();
}

void BodySpool::flush() {
  if (writing_ || pending_.empty() || !status_) return;
  writing_ = true;
  auto bytes = std::make_shared<std::string>();
  bytes->swap(pending_);
  auto result = std::make_shared<Status>();
  auto self = shared_from_this();
  runOffLoop(
      loop_, [fd = fd_, bytes, result] { *result = writeAll(*fd, *bytes); },
      [self, bytes, result] { self->flushed(std::move(*result), bytes->size()); });
}

void BodySpool::flushed(Status result, size_t bytes) {
  writing_ = false;
  if (!result) {
    status_ = std::move(result);
    std::string().swap(pending_);
  } else {
    written_ += bytes;
  }
  if (done_) {
    if (!pending_.empty() && status_) {
      flush();
      return;
    }
    auto callback = std::move(done_);
    done_ = nullptr;
    callback();
    return;
  }
  if (pending_.size() >= kSpoolFlush) flush();
  if (full_ && (pending_.size() < kSpoolHighWater || !status_)) {
    full_ = false;
    resume();
  }
}

std::shared_ptr<const ByteSource> BodySpool::source() const { return slice(0, written_); }

std::shared_ptr<const ByteSource> BodySpool::slice(uint64_t offset, uint64_t length) const {
  if (!fd_ || offset + length > written_) return nullptr;
  return std::make_shared<FileSource>(fd_, offset, length);
}

void BodySpool::fail(Status why) {
  if (!status_) return;
  status_ = std::move(why);
  std::string().swap(pending_);
  if (full_) {
    full_ = false;
    resume();  // what follows is read and dropped
  }
}

}  // namespace settee::http
