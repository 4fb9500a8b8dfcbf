#include "replicator/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace settee::repl {
namespace {

class SpoolSlice : public ByteSource {
 public:
  SpoolSlice(std::shared_ptr<const Spool> spool, int fd, uint64_t offset, uint64_t length)
      : spool_(std::move(spool)), fd_(fd), offset_(offset), length_(length) {}
  uint64_t size() const override { return length_; }
  Result<size_t> read(uint64_t offset, char* buf, size_t n) const override {
    if (offset >= length_) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, length_ - offset));
    for (;;) {
      ssize_t got = ::pread(fd_, buf, n, static_cast<off_t>(offset_ + offset));
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return Status(ErrorCode::Internal, std::string("reading the spool file: ") + std::strerror(errno));
    }
  }

 private:
  std::shared_ptr<const Spool> spool_;  // keeps fd_ open
  int fd_;
  uint64_t offset_, length_;
};

}  // namespace

Result<std::shared_ptr<Spool>> Spool::create(const std::string& dir) {
  std::error_code ec;
  std::string base = dir.empty() ? std::filesystem::temp_directory_path(ec).string() : dir;
  if (base.empty()) base = "/tmp";
  std::string path = base + "/settee-spool-XXXXXX";
  // mkostemp makes the file 0600 minus the umask; the chmod makes it exactly 0600 for the moment
  // before the unlink (the bytes are documents being replicated).
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return Status(ErrorCode::Internal, "cannot create a spool file in " + base + ": " + std::strerror(errno));
  (void)::fchmod(fd, 0600);
  ::unlink(path.c_str());
  return std::shared_ptr<Spool>(new Spool(fd));
}

Spool::~Spool() { ::close(fd_); }

Status Spool::append(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t put = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(size_));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return Status(ErrorCode::Internal, std::string("writing the spool file: ") + std::strerror(errno));
    size_ += static_cast<uint64_t>(put);
    bytes.remove_prefix(static_cast<size_t>(put));
  }
  return Status::ok();
}

std::shared_ptr<const ByteSource> Spool::slice(uint64_t offset, uint64_t length) {
  return std::make_shared<SpoolSlice>(shared_from_this(), fd_, offset, length);
}

void ByteChain::add(std::string text) {
  if (text.empty()) return;
  const uint64_t length = text.size();
  pieces_.push_back({size_, std::move(text), nullptr});
  size_ += length;
}

void ByteChain::add(std::shared_ptr<const ByteSource> source) {
  const uint64_t length = source->size();
  if (length == 0) return;
  pieces_.push_back({size_, {}, std::move(source)});
  size_ += length;
}

Result<size_t> ByteChain::read(uint64_t offset, char* buf, size_t n) const {
  if (offset >= size_ || n == 0) return size_t{0};
  // The last piece starting at or before `offset`.
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), offset,
                             [](uint64_t at, const Piece& p) { return at < p.start; });
  const Piece& piece = *(it - 1);
  const uint64_t within = offset - piece.start;
  if (piece.source) return piece.source->read(within, buf, n);  // may stop at the piece's end: fine
  const size_t take = static_cast<size_t>(std::min<uint64_t>(n, piece.text.size() - within));
  std::memcpy(buf, piece.text.data() + within, take);
  return take;
}

}  // namespace settee::repl
