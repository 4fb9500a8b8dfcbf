#include "http/gzip_inflater.h"

#include <algorithm>

namespace settee::http::detail {

GzipInflater::GzipInflater(size_t limit) : limit_(limit) {
  // 16 + MAX_WBITS: expect the gzip wrapper (header and CRC-32), not a raw or zlib stream.
  initialised_ = inflateInit2(&stream_, 16 + MAX_WBITS) == Z_OK;
  failed_ = !initialised_;
}

GzipInflater::~GzipInflater() {
  if (initialised_) inflateEnd(&stream_);
}

GzipInflater::Result GzipInflater::feed(std::string_view in, std::string& out) {
  if (failed_) return Result::Corrupt;
  if (in.empty()) return Result::Ok;
  if (ended_) {  // bytes after the end of the gzip member
    failed_ = true;
    return Result::Corrupt;
  }
  stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream_.avail_in = static_cast<uInt>(in.size());
  while (stream_.avail_in > 0 && !ended_) {
    if (out.size() > limit_) {
      failed_ = true;
      return Result::TooLarge;
    }
    // Grow `out` by at most one byte past what the limit allows, so the bound holds during decoding, not
    // after it, and a body of exactly `limit` bytes still fits.
    size_t room = std::min<size_t>({limit_ + 1 - out.size(), 64 * 1024, static_cast<size_t>(UINT32_MAX)});
    size_t before = out.size();
    out.resize(before + room);
    stream_.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    stream_.avail_out = static_cast<uInt>(room);
    int rc = inflate(&stream_, Z_NO_FLUSH);
    out.resize(before + (room - stream_.avail_out));
    if (out.size() > limit_) {
      failed_ = true;
      return Result::TooLarge;
    }
    if (rc == Z_STREAM_END) {
      ended_ = true;
    } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && stream_.avail_out == 0)) {
      failed_ = true;
      return Result::Corrupt;
    }
  }
  if (ended_ && stream_.avail_in > 0) {
    failed_ = true;
    return Result::Corrupt;
  }
  return Result::Ok;
}

GzipInflater::Result GzipInflater::finish() const {
  if (failed_ || !ended_) return Result::Corrupt;
  return Result::Ok;
}

}  // namespace settee::http::detail
