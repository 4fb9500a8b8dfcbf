// A disk that fills up or fails one read or write (tests/db/faulty_vfs.h under a real SQLite file): the
// failing call answers an error, nothing acknowledged is lost, a failed write leaves no half of itself,
// the database keeps serving reads, and once the disk is healthy again writes work on the same handle.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "db/storage/sqlite.h"
#include "faulty_vfs.h"
#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using test::FaultyDisk;

namespace {

// Re-arms nothing after a test, whatever happened in it.
struct Disarm {
  ~Disarm() { FaultyDisk::disarm(); }
};

DatabaseOptions onFaultyDisk() {
  DatabaseOptions options;
  options.vfs = FaultyDisk::install();
  return options;
}

std::string doc(const std::string& id, size_t pad = 300) {
  return R"({"_id":")" + id + R"(","pad":")" + std::string(pad, 'p') + "\"}";
}

std::string withAttachment(const std::string& id, const std::string& base64) {
  return R"({"_id":")" + id + R"(","_attachments":{"a.txt":{"content_type":"text/plain","data":")" + base64 +
         "\"}}}";
}

std::string integrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK);
  std::string result =
      sqlite3_step(st) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
  sqlite3_finalize(st);
  sqlite3_close(db);
  return result;
}

std::vector<std::string_view> views(const std::vector<std::string>& docs) {
  return {docs.begin(), docs.end()};
}

// Writes `n` documents named prefix0..prefixN-1 in one bulk call; true when every one was acknowledged.
bool bulk(Database& db, const std::string& prefix, int n, std::string* error = nullptr) {
  std::vector<std::string> docs;
  for (int i = 0; i < n; ++i) docs.push_back(doc(prefix + std::to_string(i)));
  bool ok = true;
  for (auto& r : db.bulkDocs(views(docs))) {
    if (!r.status) {
      ok = false;
      if (error) *error = r.status.reason();
    }
  }
  return ok;
}

int present(Database& db, const std::string& prefix, int n) {
  int found = 0;
  for (int i = 0; i < n; ++i) found += db.get(prefix + std::to_string(i)).isOk() ? 1 : 0;
  return found;
}

}  // namespace

TEST_CASE(
    "Disk full: a write that does not fit answers an error, and every acknowledged write stays readable",
    "[db][diskfull]") {
  Disarm disarm;
  test::TempDir dir;
  const std::string path = dir.file("full.settee");
  int acknowledged = 0;
  std::string reason;
  {
    auto db = Database::open(path, "full", onFaultyDisk());
    REQUIRE(db);
    REQUIRE(bulk(**db, "before", 50));
    FaultyDisk::resetFaults();
    FaultyDisk::fillAfter(256 * 1024);
    // Batches of 20 until the disk is full; each batch is whole or absent.
    for (; acknowledged < 100; ++acknowledged) {
      if (!bulk(**db, "b" + std::to_string(acknowledged) + "-", 20, &reason)) break;
    }
    REQUIRE(FaultyDisk::faults() > 0);
    REQUIRE(acknowledged < 100);
    CHECK_THAT(reason, Catch::Contains("full"));
    const std::string failed = "b" + std::to_string(acknowledged) + "-";
    // The full disk still serves reads: everything acknowledged, nothing of the failed batch.
    CHECK(present(**db, "before", 50) == 50);
    for (int b = 0; b < acknowledged; ++b) CHECK(present(**db, "b" + std::to_string(b) + "-", 20) == 20);
    CHECK(present(**db, failed, 20) == 0);
    // Counters roll back with the batch.
    CHECK((*db)->info()->docCount == static_cast<uint64_t>(50 + 20 * acknowledged));
    CHECK((*db)->info()->updateSeq == static_cast<uint64_t>(50 + 20 * acknowledged));
    // Single writes fail too while the disk is full, with an error rather than a success.
    auto single = (*db)->put(doc("single"));
    CHECK_FALSE(single.isOk());

    // Space freed: the same handle writes again, the failed batch included.
    FaultyDisk::disarm();
    CHECK(bulk(**db, failed, 20));
    REQUIRE((*db)->put(doc("after")).isOk());
  }
  CHECK(integrityCheck(path) == "ok");
  auto db = Database::open(path, "full");
  REQUIRE(db);
  CHECK(present(**db, "before", 50) == 50);
  for (int b = 0; b <= acknowledged; ++b) CHECK(present(**db, "b" + std::to_string(b) + "-", 20) == 20);
  CHECK((*db)->get("after").isOk());
  CHECK((*db)->info()->docCount == static_cast<uint64_t>(50 + 20 * (acknowledged + 1) + 1));
}

namespace {

// A bulk write (30 new documents, one with an inline attachment, and 10 updates whose attachments are
// stubs of their parent's) on a fresh handle whose n-th disk read or write fails, for n = 1, 2, ... until
// the write runs without meeting a fault. Each time the write must be whole or absent — in the same
// handle, the disk healthy again, and after reopening — and the file must pass integrity_check.
void everyFaultAllOrNothing(bool failReads) {
  Disarm disarm;
  test::TempDir dir;
  const std::string base = dir.file("base.settee");
  std::vector<std::string> baseRevs;
  {
    auto db = Database::open(base, "base");
    REQUIRE(db);
    REQUIRE(bulk(**db, "old", 100));
    for (int i = 0; i < 10; ++i) {
      // Bodies of a page each: loading a stub's parent then reads a page of its own from the disk.
      auto r = (*db)->put(
          R"({"_id":"att)" + std::to_string(i) + R"(","pad":")" + std::string(3000, 'q') +
          R"(","_attachments":{"a.txt":{"content_type":"text/plain","data":"YXR0YWNobWVudA=="}}})");
      REQUIRE(r.isOk());
      baseRevs.push_back(r->rev);
    }
  }
  auto updated = [&](Database& db) {
    int n = 0;
    for (int i = 0; i < 10; ++i) {
      auto got = db.get("att" + std::to_string(i));
      REQUIRE(got.isOk());
      n += got->find(baseRevs[static_cast<size_t>(i)]) == std::string::npos ? 1 : 0;
    }
    return n;
  };
  int failed = 0, faults = 0;
  for (int n = 1; n < 3000; ++n) {
    INFO((failReads ? "the read that fails: " : "the write that fails: ") << n);
    const std::string path = dir.file("copy" + std::to_string(n) + ".settee");
    std::filesystem::copy_file(base, path);
    bool ok = true;
    {
      auto db = Database::open(path, "copy", onFaultyDisk());
      REQUIRE(db);
      FaultyDisk::resetFaults();
      if (failReads)
        FaultyDisk::failRead(n);
      else
        FaultyDisk::failWrite(n);
      // The updates first: a failure loading a stub's parent must not let the documents after it commit.
      std::vector<std::string> docs;
      for (int i = 0; i < 10; ++i)
        docs.push_back(R"({"_id":"att)" + std::to_string(i) + R"(","_rev":")" +
                       baseRevs[static_cast<size_t>(i)] +
                       R"(","v":2,"_attachments":{"a.txt":{"stub":true}}})");
      for (int i = 0; i < 30; ++i) docs.push_back(doc("new" + std::to_string(i), 2000));
      docs.push_back(withAttachment("withatt", "aGVsbG8gd29ybGQ="));
      for (auto& r : (*db)->bulkDocs(views(docs))) ok = ok && r.status.isOk();
      const bool faulted = FaultyDisk::faults() > 0;
      FaultyDisk::disarm();
      // The same handle, disk healthy again: old documents read, the batch is all or nothing.
      CHECK(present(**db, "old", 100) == 100);
      CHECK(present(**db, "new", 30) == (ok ? 30 : 0));
      CHECK((*db)->getAttachment("withatt", "a.txt").isOk() == ok);
      CHECK(updated(**db) == (ok ? 10 : 0));
      if (!faulted) {
        CHECK(ok);
        break;
      }
      ++faults;
      failed += ok ? 0 : 1;
    }
    CHECK(integrityCheck(path) == "ok");
    auto db = Database::open(path, "copy");
    REQUIRE(db);
    CHECK(present(**db, "old", 100) == 100);
    CHECK(present(**db, "new", 30) == (ok ? 30 : 0));
    CHECK(updated(**db) == (ok ? 10 : 0));
    CHECK((*db)->info()->docCount == (ok ? 141u : 110u));
    db->reset();
    std::filesystem::remove(path);
  }
  // The faults reached the write (some made it fail), and the loop ran past the last of them.
  CHECK(faults > 0);
  CHECK(failed > 0);
}

}  // namespace

TEST_CASE(
    "Disk full: a bulk write failing at any one disk write is absent whole, or acknowledged and present",
    "[db][diskfull]") {
  everyFaultAllOrNothing(false);
}

TEST_CASE("Disk full: a bulk write failing at any one disk read is absent whole, or acknowledged and present",
          "[db][diskfull]") {
  // Regression: a read error while loading a stub's parent revision answered missing_stub for that
  // document and the batch went on; SQLite had rolled the transaction back with the error, so every
  // document after it committed on its own while the batch answered an error for all of them (and the
  // in-memory update_seq went back below the stored one).
  everyFaultAllOrNothing(true);
}

TEST_CASE("Transaction: a failed BEGIN is an error, and commit() never answers success for it",
          "[db][diskfull]") {
  // Regression: Transaction ignored a failed BEGIN IMMEDIATE (SQLITE_BUSY from another process on the
  // file, an I/O error reading page 1, a transaction left open). Every statement "in" it then ran in
  // autocommit mode and committed alone — a failure midway left half a write — and commit() answered
  // success when some other transaction was open: it committed that one instead.
  test::TempDir dir;
  db::Connection conn;
  REQUIRE(conn.open(dir.file("begin.settee"), true, false));
  REQUIRE(conn.exec("CREATE TABLE t(x)"));
  // A transaction already open on the connection: BEGIN IMMEDIATE fails ("within a transaction").
  REQUIRE(conn.exec("BEGIN"));
  REQUIRE(conn.exec("INSERT INTO t VALUES(1)"));
  {
    db::Transaction txn(conn);
    CHECK_FALSE(txn.begun().isOk());
    CHECK_THAT(txn.begun().reason(), Catch::Contains("begin"));
    Status st = txn.commit();
    CHECK_FALSE(st.isOk());
  }
  // The outer transaction is untouched by the failed one: still open, neither committed nor rolled back.
  CHECK(sqlite3_get_autocommit(conn.handle()) == 0);
  REQUIRE(conn.exec("ROLLBACK"));
  {
    db::Transaction txn(conn);
    REQUIRE(txn.begun().isOk());
    REQUIRE(conn.exec("INSERT INTO t VALUES(2)"));
    REQUIRE(txn.commit());
  }
  sqlite3_stmt* count = nullptr;
  REQUIRE(sqlite3_prepare_v2(conn.handle(), "SELECT group_concat(x) FROM t", -1, &count, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(count) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(count, 0))) == "2");
  sqlite3_finalize(count);
}

TEST_CASE("Disk full: compaction failing at any one read keeps every attachment a revision refers to",
          "[db][diskfull][compact]") {
  // Regression: compaction collected the digests still in use with a scan that stopped quietly on a read
  // error, then deleted every attachment not collected — attachments of live revisions included.
  Disarm disarm;
  test::TempDir dir;
  const std::string base = dir.file("base.settee");
  std::vector<std::pair<std::string, std::string>> kept;  // (doc id, attachment data) at the leaves
  {
    auto db = Database::open(base, "base");
    REQUIRE(db);
    // First, rows compaction leaves alone and reads only in its scan for digests in use: revisions are
    // scanned in the order they were written, so these come before every revision with an attachment,
    // and a cold page cache must read them from the disk.
    std::vector<std::string> filler;
    for (int i = 0; i < 150; ++i) filler.push_back(doc("filler" + std::to_string(i), 3000));
    for (auto& r : (*db)->bulkDocs(views(filler))) REQUIRE(r.status.isOk());
    for (int i = 0; i < 40; ++i) {
      const std::string id = "d" + std::to_string(i);
      // Distinct bodies, so each attachment is its own row; large enough to spread over many pages.
      std::string data = std::string(3000, static_cast<char>('a' + i % 26)) + id;
      AttachmentBody body{"a.bin", data, nullptr};
      auto first = (*db)->put(R"({"v":1,"_attachments":{"a.bin":{"content_type":"application/octet-stream",)"
                              R"("follows":true,"length":)" +
                                  std::to_string(data.size()) + "}}}",
                              {.id = id}, {body});
      REQUIRE(first.isOk());
      // A second revision keeps the attachment (a stub), so compaction drops the first revision's body.
      auto second = (*db)->put(
          R"({"v":2,"_rev":")" + first->rev + R"(","_attachments":{"a.bin":{"stub":true}}})", {.id = id});
      REQUIRE(second.isOk());
      kept.emplace_back(id, data);
    }
    // And some whose second revision drops the attachment: compaction may delete those bodies.
    for (int i = 0; i < 10; ++i) {
      const std::string id = "gone" + std::to_string(i);
      AttachmentBody body{"a.bin", std::string(2000, 'g') + id, nullptr};
      auto first =
          (*db)->put(R"({"_attachments":{"a.bin":{"content_type":"text/plain","follows":true,"length":)" +
                         std::to_string(body.data.size()) + "}}}",
                     {.id = id}, {body});
      REQUIRE(first.isOk());
      REQUIRE((*db)->put(R"({"_rev":")" + first->rev + "\"}", {.id = id}).isOk());
    }
  }
  int faulted = 0;
  // Every third read: the scans read a few hundred pages, and a fault anywhere in a scan is the same case.
  for (int n = 1; n < 5000; n += 3) {
    INFO("the read that fails: " << n);
    const std::string path = dir.file("copy" + std::to_string(n) + ".settee");
    std::filesystem::copy_file(base, path);
    auto db = Database::open(path, "copy", onFaultyDisk());
    REQUIRE(db);
    FaultyDisk::resetFaults();
    FaultyDisk::failRead(n);
    Status st = (*db)->compact();
    const bool hit = FaultyDisk::faults() > 0;
    FaultyDisk::disarm();
    for (const auto& [id, data] : kept) {
      auto att = (*db)->getAttachment(id, "a.bin");
      REQUIRE(att.isOk());
      CHECK(att->data == data);
    }
    db->reset();
    CHECK(integrityCheck(path) == "ok");
    std::filesystem::remove(path);
    if (!hit) {
      CHECK(st.isOk());
      break;
    }
    ++faulted;
  }
  CHECK(faulted > 0);
}

TEST_CASE("Disk full: opening a database that fails at any one read fails, or opens with its counters intact",
          "[db][diskfull]") {
  Disarm disarm;
  test::TempDir dir;
  const std::string base = dir.file("base.settee");
  {
    auto db = Database::open(base, "base");
    REQUIRE(db);
    REQUIRE(bulk(**db, "old", 100));
  }
  int refused = 0;
  for (int n = 1; n < 500; ++n) {
    INFO("the read that fails: " << n);
    const std::string path = dir.file("copy" + std::to_string(n) + ".settee");
    std::filesystem::copy_file(base, path);
    FaultyDisk::resetFaults();
    FaultyDisk::failRead(n);
    auto db = Database::open(path, "copy", onFaultyDisk());
    const bool hit = FaultyDisk::faults() > 0;
    FaultyDisk::disarm();
    if (db) {
      auto info = *(*db)->info();
      CHECK(info.updateSeq == 100);
      CHECK(info.docCount == 100);
      CHECK((*db)->put(doc("next")).isOk());
      CHECK((*db)->info()->updateSeq == 101);
      CHECK(present(**db, "old", 100) == 100);
    } else {
      ++refused;
    }
    db = Status::ok();
    std::filesystem::remove(path);
    if (!hit) break;
  }
  CHECK(refused > 0);
}
