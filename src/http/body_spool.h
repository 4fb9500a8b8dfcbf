// http/body_spool.h — a request body written to a temporary file as it arrives, then read back by the
// database as a ByteSource: how a large upload (PUT /db/doc/att) reaches the store without ever being
// held whole.
//
// Contract: a BodySpool is a StreamedBody (http/api.h): the server feeds it on the loop thread, and it
// writes to its file off the loop, one write at a time, holding at most about kSpoolHighWater bytes in
// memory besides the write in flight; past that, `write` returns false and the server stops reading the
// socket until the file has caught up. `finish` calls back on the loop thread once every byte is in the
// file. Only then may `source()` (any thread) be read. The file is unlinked as soon as it is created, so
// it never outlives the process, whatever happens to it; it lives in `directory` (the data directory,
// on disk, rather than a /tmp that may be memory).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/api.h"
#include "settee/database.h"

namespace settee::http {

// Bytes held in memory before the file: writes go out in pieces of about kSpoolFlush, and the sink says
// it is full at kSpoolHighWater, so a connection costs ~2 MB whatever the body's size.
inline constexpr size_t kSpoolFlush = 256 * 1024;
inline constexpr size_t kSpoolHighWater = 1024 * 1024;

class BodySpool : public StreamedBody, public std::enable_shared_from_this<BodySpool> {
 public:
  // Creates the (already unlinked) file in `directory`; a failure shows in `status()`, and the body is
  // then read and dropped so the request can still be answered.
  BodySpool(uv_loop_t* loop, const std::string& directory);
  ~BodySpool() override;
  BodySpool(const BodySpool&) = delete;
  BodySpool& operator=(const BodySpool&) = delete;

  bool write(std::string_view piece) override;
  void finish(std::function<void()> done) override;

  // After finish: ok, or why the body could not be kept (a full disk).
  const Status& status() const { return status_; }
  // After finish: the body's bytes, read from the file (which the source keeps open).
  std::shared_ptr<const ByteSource> source() const;
  // After finish: `length` bytes of the body from `offset` (one attachment of several in one file).
  std::shared_ptr<const ByteSource> slice(uint64_t offset, uint64_t length) const;
  uint64_t size() const { return written_; }
  // Bytes handed to write() so far (written or not yet): where the next write's bytes will start.
  uint64_t received() const { return received_; }

 protected:
  // Makes `status()` this error; what is written after it is dropped.
  void fail(Status why);

 private:
  void flush();
  void flushed(Status result, size_t bytes);

  uv_loop_t* loop_;
  std::shared_ptr<int> fd_;  // closed when the spool and every source of it are gone
  Status status_;
  std::string pending_;  // received, not yet handed to a write
  bool writing_ = false;
  bool full_ = false;  // write() returned false; resume() is owed
  uint64_t written_ = 0;
  uint64_t received_ = 0;
  std::function<void()> done_;
};

}  // namespace settee::http
