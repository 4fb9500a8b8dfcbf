// The write-ahead log is checkpointed less often than SQLite's default (off the bulk write path's
// hot loop), yet it stays bounded under a continuous load and what it held reaches the database file.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "db/storage/sqlite.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::TempDir;

TEST_CASE("WAL: a continuous load keeps the write-ahead log under its checkpoint threshold plus a batch",
          "[db][wal]") {
  TempDir dir;
  const std::string root = dir.file("data");
  DataDir data(root);
  auto db = data.create("load");
  REQUIRE(db);
  const std::string wal = root + "/load.settee-wal", file = root + "/load.settee";

  // Batches of 100 documents of ~10 KB (about 1 MB each), 70 MB in all: well past the threshold.
  const uint64_t threshold = uint64_t(db::Connection::kWalCheckpointPages) * 4096;
  const uint64_t batchBytes = 4 * 1024 * 1024;  // a batch's pages, with its b-tree pages, generously
  const std::string text(10 * 1024, 'x');
  uint64_t largestWal = 0;
  for (int batch = 0; batch < 70; ++batch) {
    std::vector<std::string> docs;
    for (int i = 0; i < 100; ++i)
      docs.push_back(R"({"_id":"d)" + std::to_string(batch * 100 + i) + R"(","text":")" + text + "\"}");
    std::vector<std::string_view> views(docs.begin(), docs.end());
    for (auto& r : (*db)->bulkDocs(views)) REQUIRE(r.status);
    largestWal = std::max<uint64_t>(largestWal, std::filesystem::file_size(wal));
  }
  CHECK(largestWal <= threshold + batchBytes);
  CHECK(largestWal > 8u * 1024 * 1024);  // checkpoints are not as frequent as SQLite's default (4 MB)
  // Checkpoints ran: most of the 70 MB is in the database file, not waiting in the log.
  CHECK(std::filesystem::file_size(file) >= 30u * 1024 * 1024);
  auto info = (*db)->info();
  REQUIRE(info);
  CHECK(info->docCount == 7000);
}
