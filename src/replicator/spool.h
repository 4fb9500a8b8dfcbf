// replicator/spool.h — a temporary file for attachment bodies on their way from a source to a target.
//
// A large attachment is never held in memory whole: the fetcher appends its bytes here as they arrive,
// the writer reads them back in pieces through ByteSource slices (a local store copies them into SQLite,
// a remote target streams them into a multipart PUT). The file is unlinked as soon as it is made, so it
// disappears with the last slice or with the process, even after a kill -9.
//
// Contract: append() from one thread at a time; slices may be read from any thread, concurrently, also
// while more is appended (pread). A slice keeps the spool open.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "settee/database.h"

namespace settee::repl {

class Spool : public std::enable_shared_from_this<Spool> {
 public:
  // A new empty spool in `dir` (the system's temporary directory when empty).
  static Result<std::shared_ptr<Spool>> create(const std::string& dir = {});
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends `bytes` at the end; an error when the disk refuses them.
  Status append(std::string_view bytes);
  uint64_t size() const { return size_; }
  // The bytes [offset, offset + length) as a source; they must have been appended already.
  std::shared_ptr<const ByteSource> slice(uint64_t offset, uint64_t length);

 private:
  explicit Spool(int fd) : fd_(fd) {}
  int fd_;
  uint64_t size_ = 0;
};

// Pieces of text and sources read as one source, in order: a multipart body made of headers and
// attachment bodies, sent without being put together in memory.
class ByteChain : public ByteSource {
 public:
  void add(std::string text);
  void add(std::shared_ptr<const ByteSource> source);
  uint64_t size() const override { return size_; }
  Result<size_t> read(uint64_t offset, char* buf, size_t n) const override;

 private:
  struct Piece {
    uint64_t start;  // offset of the piece in the chain
    std::string text;
    std::shared_ptr<const ByteSource> source;
  };
  std::vector<Piece> pieces_;
  uint64_t size_ = 0;
};

}  // namespace settee::repl
