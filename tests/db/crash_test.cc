// Durability: a child process writes batches in a loop and reports each acknowledged batch through a
// pipe; it is killed with SIGKILL at random moments. Every reopened database must pass SQLite's
// integrity check and hold every batch that was acknowledged before the kill.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "settee/database.h"
#include "test_util.h"

using namespace settee;

namespace {

constexpr int kBatch = 50;

std::string docJson(int batch, int i) {
  return R"({"_id":"b)" + std::to_string(batch) + "-" + std::to_string(i) + R"(","batch":)" +
         std::to_string(batch) + R"(,"pad":")" + std::string(200, 'x') + "\"}";
}

[[noreturn]] void writerChild(const std::string& path, int firstBatch, int fd) {
  auto db = Database::open(path, "crash");
  if (!db) _exit(3);
  for (int batch = firstBatch;; ++batch) {
    std::vector<std::string> docs;
    for (int i = 0; i < kBatch; ++i) docs.push_back(docJson(batch, i));
    std::vector<std::string_view> views(docs.begin(), docs.end());
    for (auto& r : (*db)->bulkDocs(views)) {
      if (!r.status) _exit(4);
    }
    // Acknowledge only after bulkDocs returned success.
    if (write(fd, &batch, sizeof batch) != sizeof batch) _exit(5);
  }
}

std::string integrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  std::string result = sqlite3_step(st) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
  sqlite3_finalize(st);
  sqlite3_close(db);
  return result;
}

}  // namespace

TEST_CASE("Storage: acknowledged writes survive SIGKILL at random moments", "[db][storage][crash]") {
  test::TempDir dir;
  const std::string path = dir.file("crash.settee");
  std::mt19937 rng(std::random_device{}());
  int nextBatch = 0;
  int acknowledgedTotal = 0;
  for (int round = 0; round < 24; ++round) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      writerChild(path, nextBatch, fds[1]);
    }
    close(fds[1]);
    // Let it run between 5 and 120 ms, then kill it mid-whatever it is doing.
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 115));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    int batch = -1, lastAck = nextBatch - 1;
    while (read(fds[0], &batch, sizeof batch) == sizeof batch) lastAck = batch;
    close(fds[0]);
    acknowledgedTotal += lastAck - nextBatch + 1;

    INFO("round " << round << ", batches acknowledged up to " << lastAck);
    REQUIRE(integrityCheck(path) == "ok");
    auto db = Database::open(path, "crash");
    REQUIRE(db);
    for (int b = 0; b <= lastAck; ++b) {
      for (int i : {0, kBatch - 1}) {
        auto doc = (*db)->get("b" + std::to_string(b) + "-" + std::to_string(i));
        REQUIRE(doc.isOk());
      }
    }
    // A batch is one transaction: documents exist in whole batches only, and the counters agree.
    auto info = *(*db)->info();
    CHECK(info.docCount % kBatch == 0);
    CHECK(info.docCount >= static_cast<uint64_t>((lastAck + 1) * kBatch));
    CHECK(info.updateSeq == info.docCount);
    // The next child starts after whatever reached the disk, acknowledged or not.
    nextBatch = static_cast<int>(info.docCount / kBatch);
  }
  CHECK(acknowledgedTotal > 0);
}
