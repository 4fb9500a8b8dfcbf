// Database files are their owner's only, whatever the umask (SQLite alone would make them 0644 minus it).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::TempDir;

namespace {

struct UmaskGuard {
  explicit UmaskGuard(mode_t mask) : old(umask(mask)) {}
  ~UmaskGuard() { umask(old); }
  mode_t old;
};

mode_t modeOf(const std::string& path) {
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE(
    "Files: a database and its write-ahead log are 0600 and a new data directory 0700, whatever the umask",
    "[db][files]") {
  for (mode_t mask : {mode_t(0), mode_t(022), mode_t(077)}) {
    INFO("umask " << mask);
    UmaskGuard guard(mask);
    TempDir dir;
    const std::string root = dir.file("nested/data");
    {
      DataDir data(root);
      CHECK(modeOf(root) == 0700);
      auto db = data.create("x");
      REQUIRE(db);
      REQUIRE((*db)->put(R"({"_id":"a"})"));
      CHECK(modeOf(root + "/x.settee") == 0600);
      REQUIRE(std::filesystem::exists(root + "/x.settee-wal"));
      CHECK(modeOf(root + "/x.settee-wal") == 0600);
    }
    // Reopened after the handle is gone: the files SQLite makes again keep the mode.
    DataDir data(root);
    auto db = data.open("x");
    REQUIRE(db);
    REQUIRE((*db)->put(R"({"_id":"b"})"));
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      INFO(entry.path().string());
      CHECK(modeOf(entry.path().string()) == 0600);
    }
  }
}

TEST_CASE("Files: a database file left readable by others is narrowed to 0600 when opened", "[db][files]") {
  TempDir dir;
  const std::string path = dir.file("old.settee");
  REQUIRE(Database::open(path, "old"));
  REQUIRE(chmod(path.c_str(), 0644) == 0);
  auto db = Database::open(path, "old");
  REQUIRE(db);
  CHECK(modeOf(path) == 0600);
}
