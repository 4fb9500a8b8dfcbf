// Reads that meet a damaged file report it: a revision tree that does not decode is an error Status from
// changes(), allDocs() and revsDiff(), never a row silently left out; a data directory that cannot be
// listed is an error, never an empty list. The damage is done to a real SQLite file with SQLite's own
// API (tests/sqlite_tamper.h) while the database is closed.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "settee/database.h"
#include "sqlite_tamper.h"
#include "test_util.h"

using namespace settee;
using settee::test::TempDir;

namespace {

// A database holding documents "a", "b" and "c" (in that order of sequence) whose "b" has a tree that
// cannot be decoded.
std::unique_ptr<Database> openWithCorruptB(const TempDir& dir) {
  const std::string file = dir.file("db.settee");
  {
    auto db = Database::open(file, "db");
    REQUIRE(db);
    for (const char* id : {"a", "b", "c"}) REQUIRE((*db)->put(std::string(R"({"_id":")") + id + "\"}"));
  }
  REQUIRE(settee::test::corruptRevTree(file, "b"));
  auto db = Database::open(file, "db");
  REQUIRE(db);
  return std::move(*db);
}

}  // namespace

TEST_CASE("Read errors: a corrupt revision tree fails the changes feed after the rows before it",
          "[db][readerrors]") {
  TempDir dir;
  auto db = openWithCorruptB(dir);
  std::vector<std::string> ids;
  auto last = db->changes({}, [&](const Change& c) {
    ids.push_back(c.id);
    return true;
  });
  REQUIRE_FALSE(last);
  CHECK(last.status().code() == ErrorCode::Internal);
  CHECK(last.status().reason().find("corrupt revision tree for b") != std::string::npos);
  CHECK(ids == std::vector<std::string>{"a"});

  // Descending meets it too; a feed that starts past it reads fine.
  ChangesOptions descending;
  descending.descending = true;
  CHECK_FALSE(db->changes(descending, [](const Change&) { return true; }));
  ChangesOptions after;
  after.since = 2;
  auto tail = db->changes(after, [](const Change&) { return true; });
  REQUIRE(tail);
  CHECK(*tail == 3);
}

TEST_CASE("Read errors: a corrupt revision tree fails all_docs, by range and by keys", "[db][readerrors]") {
  TempDir dir;
  auto db = openWithCorruptB(dir);
  std::vector<std::string> ids;
  auto total = db->allDocs({}, [&](const AllDocsRow& r) {
    ids.push_back(r.id);
    return true;
  });
  REQUIRE_FALSE(total);
  CHECK(total.status().code() == ErrorCode::Internal);
  CHECK(ids == std::vector<std::string>{"a"});

  AllDocsOptions keys;
  keys.keys = std::vector<std::string>{"c", "b"};
  keys.includeDocs = true;
  ids.clear();
  auto byKeys = db->allDocs(keys, [&](const AllDocsRow& r) {
    ids.push_back(r.id);
    return true;
  });
  REQUIRE_FALSE(byKeys);
  CHECK(byKeys.status().code() == ErrorCode::Internal);
  CHECK(ids == std::vector<std::string>{"c"});

  // A range that does not reach the damaged row is answered.
  AllDocsOptions fromC;
  fromC.startKey = "c";
  CHECK(db->allDocs(fromC, [](const AllDocsRow&) { return true; }));
}

TEST_CASE("Read errors: revs_diff of a document with a corrupt tree is an error, not all-missing",
          "[db][readerrors]") {
  TempDir dir;
  auto db = openWithCorruptB(dir);
  auto diff = db->revsDiff({{"b", {"1-abc"}}});
  REQUIRE_FALSE(diff);
  CHECK(diff.status().code() == ErrorCode::Internal);
  auto fine = db->revsDiff({{"a", {"1-abc"}}});
  REQUIRE(fine);
  CHECK(fine->size() == 1);
}

TEST_CASE("Read errors: a data directory that cannot be listed is an error, not an empty list",
          "[db][readerrors]") {
  TempDir dir;
  const std::string notADirectory = dir.file("plain-file");
  { std::ofstream(notADirectory) << "x"; }
  DataDir data(notADirectory);
  auto names = data.list();
  REQUIRE_FALSE(names);
  CHECK(names.status().code() == ErrorCode::Internal);
  DataDir fine(dir.path());
  REQUIRE(fine.create("one"));
  REQUIRE(fine.list());
  CHECK(*fine.list() == std::vector<std::string>{"one"});
}
