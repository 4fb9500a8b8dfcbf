// http/gzip_inflater.h — incremental gzip decoding of a request body, bounded in output size.
//
// Contract: one GzipInflater decodes one body; feed it the compressed bytes in any pieces, then call
// `finish()`. The decoded bytes are appended to the `out` string the caller passes, and decoding stops
// with TooLarge as soon as `out` would pass `limit`, so a small "gzip bomb" never allocates more than
// `limit`. Owns a zlib stream (released by the destructor); not copyable; one thread at a time.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace settee::http::detail {

class GzipInflater {
 public:
  enum class Result { Ok, TooLarge, Corrupt };

  explicit GzipInflater(size_t limit);
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  // Decodes `in`, appending to `out`. After a result other than Ok, the inflater is spent.
  [[nodiscard]] Result feed(std::string_view in, std::string& out);
  // Ok only if the gzip stream ended, with its checksum verified, and nothing followed it.
  [[nodiscard]] Result finish() const;

 private:
  z_stream stream_{};
  size_t limit_;
  bool initialised_ = false;
  bool ended_ = false;
  bool failed_ = false;
};

}  // namespace settee::http::detail
