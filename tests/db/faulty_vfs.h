// faulty_vfs.h — a SQLite VFS over the default one whose disk can fill up or fail one read or write, for
// tests that must see what a database does when the disk misbehaves. Faults cannot be produced for real
// on demand (a full disk at the exact write that matters), so this is the one fake under the store.
//
// Usage: open a Database with DatabaseOptions::vfs = FaultyDisk::kName, then arm one fault with the
// static setters; disarm() restores a healthy disk. The state is process-wide (SQLite's VFS registry
// is), so tests using it must not run concurrently — Catch2 runs test cases one at a time.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace settee::test {

class FaultyDisk {
 public:
  static constexpr const char* kName = "settee-faulty-disk";

  // Registers the VFS once (not as the default); returns its name for DatabaseOptions::vfs.
  static const char* install() {
    static bool done = [] {
      real_ = sqlite3_vfs_find(nullptr);
      static sqlite3_vfs vfs = *real_;
      vfs.zName = kName;
      vfs.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
      vfs.xOpen = &open;
      vfs.pNext = nullptr;
      return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
    }();
    return done ? kName : nullptr;
  }

  // The disk holds `bytes` more bytes: a write past them fails with SQLITE_FULL, as do all later ones.
  static void fillAfter(int64_t bytes) { byteBudget_ = bytes; }
  // The n-th write call from now (1 = the next) fails with SQLITE_FULL, once.
  static void failWrite(int64_t n) { writeCountdown_ = n; }
  // The n-th read call from now (1 = the next) fails with SQLITE_IOERR_READ, once.
  static void failRead(int64_t n) { readCountdown_ = n; }
  static void disarm() {
    byteBudget_ = -1;
    writeCountdown_ = -1;
    readCountdown_ = -1;
  }
  // How many faults were injected since the last reset; a test checks that its fault really happened.
  static int64_t faults() { return faults_; }
  static void resetFaults() { faults_ = 0; }

 private:
  struct File {
    sqlite3_file base;
    sqlite3_file* real;  // the default VFS's file, placed right after this struct
  };
  static File* self(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
  static sqlite3_file* real(sqlite3_file* f) { return self(f)->real; }

  static int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* outFlags) {
    File* f = self(file);
    f->real = reinterpret_cast<sqlite3_file*>(f + 1);
    int rc = real_->xOpen(real_, name, f->real, flags, outFlags);
    f->base.pMethods = f->real->pMethods ? &kMethods : nullptr;
    return rc;
  }

  static bool fire(std::atomic<int64_t>& countdown) {
    if (countdown.load() <= 0) return false;
    if (--countdown != 0) return false;
    countdown = -1;
    ++faults_;
    return true;
  }

  static int read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
    if (fire(readCountdown_)) return SQLITE_IOERR_READ;
    return real(f)->pMethods->xRead(real(f), buf, n, off);
  }
  static int write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
    if (fire(writeCountdown_)) return SQLITE_FULL;
    if (byteBudget_.load() >= 0) {
      if (byteBudget_.load() < n) {
        byteBudget_ = 0;
        ++faults_;
        return SQLITE_FULL;
      }
      byteBudget_ -= n;
    }
    return real(f)->pMethods->xWrite(real(f), buf, n, off);
  }
  static int close(sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); }
  static int truncate(sqlite3_file* f, sqlite3_int64 size) {
    return real(f)->pMethods->xTruncate(real(f), size);
  }
  static int sync(sqlite3_file* f, int flags) { return real(f)->pMethods->xSync(real(f), flags); }
  static int fileSize(sqlite3_file* f, sqlite3_int64* size) {
    return real(f)->pMethods->xFileSize(real(f), size);
  }
  static int lock(sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); }
  static int unlock(sqlite3_file* f, int level) { return real(f)->pMethods->xUnlock(real(f), level); }
  static int checkReserved(sqlite3_file* f, int* out) {
    return real(f)->pMethods->xCheckReservedLock(real(f), out);
  }
  static int fileControl(sqlite3_file* f, int op, void* arg) {
    return real(f)->pMethods->xFileControl(real(f), op, arg);
  }
  static int sectorSize(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
  static int deviceCharacteristics(sqlite3_file* f) {
    return real(f)->pMethods->xDeviceCharacteristics(real(f));
  }
  static int shmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
    return real(f)->pMethods->xShmMap(real(f), region, size, extend, out);
  }
  static int shmLock(sqlite3_file* f, int offset, int n, int flags) {
    return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
  }
  static void shmBarrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
  static int shmUnmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
  static int fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
    // No memory-mapped reads: every read must pass through read() to be faultable.
    (void)f, (void)off, (void)n;
    *out = nullptr;
    return SQLITE_OK;
  }
  static int unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

  static constexpr sqlite3_io_methods kMethods = {3,
                                                  &close,
                                                  &read,
                                                  &write,
                                                  &truncate,
                                                  &sync,
                                                  &fileSize,
                                                  &lock,
                                                  &unlock,
                                                  &checkReserved,
                                                  &fileControl,
                                                  &sectorSize,
                                                  &deviceCharacteristics,
                                                  &shmMap,
                                                  &shmLock,
                                                  &shmBarrier,
                                                  &shmUnmap,
                                                  &fetch,
                                                  &unfetch};

  static inline sqlite3_vfs* real_ = nullptr;
  static inline std::atomic<int64_t> byteBudget_{-1};
  static inline std::atomic<int64_t> writeCountdown_{-1};
  static inline std::atomic<int64_t> readCountdown_{-1};
  static inline std::atomic<int64_t> faults_{0};
};

}  // namespace settee::test
