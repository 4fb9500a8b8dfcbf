// The Database API on real SQLite files.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "settee/database.h"
#include "test_util.h"

using namespace settee;
using settee::test::Json;
using settee::test::TempDir;

namespace {
std::unique_ptr<Database> openDb(const TempDir& dir, DatabaseOptions options = {}) {
  auto db = Database::open(dir.file("db.settee"), "db", options);
  REQUIRE(db);
  return std::move(*db);
}
}  // namespace

TEST_CASE("Database: create, read, update and delete with MVCC", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  auto r1 = db->put(R"({"_id":"a","n":1})");
  REQUIRE(r1);
  CHECK(r1->rev.substr(0, 2) == "1-");
  CHECK(r1->rev.size() == 34);

  Json doc(*db->get("a"));
  CHECK(doc.str("_rev") == r1->rev);
  CHECK(int64_t(doc["n"]) == 1);

  // No _rev on an existing document, or a stale one: conflict, nothing written.
  CHECK(db->put(R"({"_id":"a","n":2})").status().code() == ErrorCode::Conflict);
  auto r2 = db->put(R"({"_id":"a","_rev":")" + r1->rev + R"(","n":2})");
  REQUIRE(r2);
  CHECK(db->put(R"({"_id":"a","_rev":")" + r1->rev + R"(","n":3})").status().code() == ErrorCode::Conflict);
  CHECK(int64_t(Json(*db->get("a"))["n"]) == 2);

  auto del = db->remove("a", r2->rev);
  REQUIRE(del);
  CHECK(del->rev.substr(0, 2) == "3-");
  auto gone = db->get("a");
  CHECK(gone.status().code() == ErrorCode::NotFound);
  CHECK(gone.status().reason() == "deleted");
  ReadOptions at;
  at.rev = del->rev;
  CHECK(Json(*db->get("a", at)).has("_deleted"));

  auto info = *db->info();
  CHECK(info.docCount == 0);
  CHECK(info.docDelCount == 1);
  CHECK(info.updateSeq == 3);
}

TEST_CASE("Database: the same edit on two nodes gets the same revision id", "[db]") {
  TempDir d1, d2;
  auto a = openDb(d1), b = openDb(d2);
  auto ra = a->put(R"({"_id":"x","v":[1,2,{"k":"s"}]})");
  auto rb = b->put(R"({"_id":"x","v":[1,2,{"k":"s"}]})");
  REQUIRE(ra);
  REQUIRE(rb);
  CHECK(ra->rev == rb->rev);
  auto rc = b->put(R"({"_id":"y","v":[1,2,{"k":"t"}]})");
  CHECK(rc->rev != ra->rev);
}

TEST_CASE("Database: re-creating a deleted document extends its tombstone", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  auto r1 = db->put(R"({"_id":"a"})");
  auto r2 = db->remove("a", r1->rev);
  auto r3 = db->put(R"({"_id":"a","back":true})");
  REQUIRE(r3);
  CHECK(r3->rev.substr(0, 2) == "3-");
  ReadOptions opts;
  opts.revs = true;
  Json doc(*db->get("a", opts));
  CHECK(int64_t(doc["_revisions"]["start"]) == 3);
  CHECK(doc["_revisions"]["ids"].get_array().size() == 3);
  CHECK(db->info()->docCount == 1);
  CHECK(db->info()->docDelCount == 0);
}

TEST_CASE("Database: new_edits=false merges histories, keeps conflicts, and is idempotent", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  std::string left = R"({"_id":"c","_rev":"2-bbbb","_revisions":{"start":2,"ids":["bbbb","aaaa"]},"side":"left"})";
  std::string right = R"({"_id":"c","_rev":"2-cccc","_revisions":{"start":2,"ids":["cccc","aaaa"]},"side":"right"})";
  auto res = db->bulkDocs({left, right}, {.newEdits = false});
  REQUIRE(res.size() == 2);
  CHECK(res[0].status.isOk());
  CHECK(res[1].status.isOk());
  uint64_t seq = db->info()->updateSeq;
  // The same batch again changes nothing.
  res = db->bulkDocs({left, right}, {.newEdits = false});
  CHECK(res[0].status.isOk());
  CHECK(db->info()->updateSeq == seq);

  ReadOptions opts;
  opts.conflicts = true;
  Json doc(*db->get("c", opts));
  CHECK(doc.str("_rev") == "2-cccc");
  CHECK(doc.str("side") == "right");
  REQUIRE(doc["_conflicts"].get_array().size() == 1);
  CHECK(std::string_view(doc["_conflicts"].at(0)) == "2-bbbb");
  CHECK(*db->conflicts("c") == std::vector<std::string>{"2-bbbb"});

  // Resolving: keep the left, delete the right, in one call.
  auto resolved = db->resolveConflicts("c", "2-bbbb");
  REQUIRE(resolved);
  CHECK(db->conflicts("c")->empty());
  Json after(*db->get("c", opts));
  CHECK(after.str("side") == "left");
  CHECK(!after.has("_conflicts"));
  ReadOptions dc;
  dc.deletedConflicts = true;
  CHECK(Json(*db->get("c", dc))["_deleted_conflicts"].get_array().size() == 1);
}

TEST_CASE("Database: resolving with a merged body writes it on the chosen leaf", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  auto res = db->bulkDocs({R"({"_id":"m","_rev":"1-aa","v":1})", R"({"_id":"m","_rev":"1-bb","v":2})"}, {.newEdits = false});
  auto merged = db->resolveConflicts("m", "1-bb", std::string_view(R"({"v":3})"));
  REQUIRE(merged);
  CHECK(merged->rev.substr(0, 2) == "2-");
  Json doc(*db->get("m"));
  CHECK(int64_t(doc["v"]) == 3);
  CHECK(db->conflicts("m")->empty());
  CHECK(db->resolveConflicts("m", "9-zz").status().code() == ErrorCode::Conflict);
}

TEST_CASE("Database: open_revs lists every leaf and marks unknown revisions missing", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  (void)db->bulkDocs({R"({"_id":"o","_rev":"2-b","_revisions":{"start":2,"ids":["b","a"]}})",
                      R"({"_id":"o","_rev":"2-c","_revisions":{"start":2,"ids":["c","a"]},"_deleted":true})"},
                     {.newEdits = false});
  auto all = db->getOpenRevs("o", {});
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].rev == "2-b");  // live leaf first
  CHECK(Json((*all)[1].json).has("_deleted"));
  ReadOptions latest;
  latest.latest = true;
  auto named = db->getOpenRevs("o", {"1-a", "9-zz"}, latest);
  REQUIRE(named);
  REQUIRE(named->size() == 3);
  CHECK((*named)[2].rev == "9-zz");
  CHECK(!(*named)[2].found);
  // Without latest, the ancestor 1-a has no stored body (it arrived as a bare id).
  auto plain = db->getOpenRevs("o", {"1-a"});
  CHECK(!(*plain)[0].found);
}

TEST_CASE("Database: revs_info and revisions describe the winner's path", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  auto r1 = db->put(R"({"_id":"p"})");
  auto r2 = db->put(R"({"_id":"p","_rev":")" + r1->rev + "\"}");
  ReadOptions opts;
  opts.revsInfo = true;
  Json doc(*db->get("p", opts));
  auto info = doc["_revs_info"].get_array().value();
  REQUIRE(info.size() == 2);
  CHECK(std::string_view(info.at(0)["status"]) == "available");
  REQUIRE(db->compact().isOk());
  Json compacted(*db->get("p", opts));
  CHECK(std::string_view(compacted["_revs_info"].at(1)["status"]) == "missing");
  ReadOptions old;
  old.rev = r1->rev;
  CHECK(db->get("p", old).status().code() == ErrorCode::NotFound);
}

TEST_CASE("Database: stemming at revs_limit drops old revisions", "[db]") {
  TempDir dir;
  DatabaseOptions options;
  options.revsLimit = 3;
  auto db = openDb(dir, options);
  std::string rev = db->put(R"({"_id":"s","i":0})")->rev;
  for (int i = 1; i < 10; ++i) {
    rev = db->put(R"({"_id":"s","_rev":")" + rev + R"(","i":)" + std::to_string(i) + "}")->rev;
  }
  ReadOptions opts;
  opts.revs = true;
  Json doc(*db->get("s", opts));
  CHECK(int64_t(doc["_revisions"]["start"]) == 10);
  CHECK(doc["_revisions"]["ids"].get_array().size() == 3);
  REQUIRE(db->setRevsLimit(5).isOk());
  CHECK(db->revsLimit() == 5);
  CHECK(db->setRevsLimit(0).code() == ErrorCode::BadRequest);
}

TEST_CASE("Database: the changes feed has one row per document at its latest sequence", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  auto a = db->put(R"({"_id":"a"})");
  (void)db->put(R"({"_id":"b"})");
  (void)db->put(R"({"_id":"a","_rev":")" + a->rev + "\"}");
  (void)db->bulkDocs({R"({"_id":"c","_rev":"1-x"})", R"({"_id":"c","_rev":"1-y"})"}, {.newEdits = false});
  std::vector<Change> rows;
  REQUIRE(db->changes({}, [&](const Change& c) {
    rows.push_back(c);
    return true;
  }));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].id == "b");
  CHECK(rows[1].id == "a");
  CHECK(rows[1].seq == 3);
  CHECK(rows[2].revs.size() == 1);
  ChangesOptions all;
  all.allLeaves = true;
  all.since = 3;
  rows.clear();
  auto last = db->changes(all, [&](const Change& c) {
    rows.push_back(c);
    return true;
  });
  REQUIRE(last);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].revs == std::vector<std::string>{"1-y", "1-x"});
  CHECK(*last == rows[0].seq);
  ChangesOptions limited;
  limited.limit = 1;
  limited.descending = true;
  rows.clear();
  REQUIRE(db->changes(limited, [&](const Change& c) {
    rows.push_back(c);
    return true;
  }));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == "c");
}

TEST_CASE("Database: waiting for a change wakes on the next write", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  std::atomic<uint64_t> heard{0};
  auto id = db->addChangeListener([&](uint64_t seq) { heard = seq; });
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)db->put(R"({"_id":"w"})");
  });
  uint64_t seq = db->waitForChange(0, std::chrono::seconds(5));
  writer.join();
  CHECK(seq == 1);
  CHECK(heard == 1);
  db->removeChangeListener(id);
  CHECK(db->waitForChange(1, std::chrono::milliseconds(20)) == 1);
}

TEST_CASE("Database: all_docs orders ids by raw bytes and honours its options", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  for (const char* id : {"b", "a", "B", "c", "\xc3\xa9"}) (void)db->put(std::string(R"({"_id":")") + id + "\"}");
  auto d = db->put(R"({"_id":"dead"})");
  (void)db->remove("dead", d->rev);
  auto ids = [&](AllDocsOptions o) {
    std::vector<std::string> out;
    auto total = db->allDocs(o, [&](const AllDocsRow& r) {
      out.push_back(r.id);
      return true;
    });
    REQUIRE(total);
    return out;
  };
  CHECK(ids({}) == std::vector<std::string>{"B", "a", "b", "c", "\xc3\xa9"});
  AllDocsOptions range;
  range.startKey = "a";
  range.endKey = "c";
  range.inclusiveEnd = false;
  CHECK(ids(range) == std::vector<std::string>{"a", "b"});
  AllDocsOptions desc;
  desc.descending = true;
  desc.skip = 1;
  desc.limit = 2;
  CHECK(ids(desc) == std::vector<std::string>{"c", "b"});
  AllDocsOptions keys;
  keys.keys = std::vector<std::string>{"c", "nope", "dead"};
  keys.includeDocs = true;
  std::vector<AllDocsRow> rows;
  auto total = db->allDocs(keys, [&](const AllDocsRow& r) {
    rows.push_back(r);
    return true;
  });
  REQUIRE(total);
  CHECK(*total == 5);
  REQUIRE(rows.size() == 3);
  CHECK(Json(rows[0].doc).str("_id") == "c");
  CHECK(!rows[1].found);
  CHECK(rows[2].deleted);
  CHECK(rows[2].doc.empty());
}

TEST_CASE("Database: local documents have 0-N revisions and stay out of the changes feed", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  auto r1 = db->putLocal("_local/ck", R"({"seq":1})");
  REQUIRE(r1);
  CHECK(r1->rev == "0-1");
  CHECK(db->putLocal("ck", R"({"seq":2})").status().code() == ErrorCode::Conflict);
  auto r2 = db->putLocal("ck", R"({"_rev":"0-1","seq":2})");
  REQUIRE(r2);
  CHECK(r2->rev == "0-2");
  Json doc(*db->getLocal("_local/ck"));
  CHECK(doc.str("_id") == "_local/ck");
  CHECK(int64_t(doc["seq"]) == 2);
  CHECK(db->get("_local/ck").isOk());
  int rows = 0;
  REQUIRE(db->changes({}, [&](const Change&) { return ++rows, true; }));
  CHECK(rows == 0);
  CHECK(db->info()->updateSeq == 0);
  CHECK(db->removeLocal("ck", "0-1").status().code() == ErrorCode::Conflict);
  REQUIRE(db->removeLocal("ck", "0-2"));
  CHECK(db->getLocal("ck").status().code() == ErrorCode::NotFound);
}

TEST_CASE("Database: attachments are stored once per digest, stubs carry them forward", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  // "hello" in base64
  auto r1 = db->put(R"({"_id":"att","_attachments":{"h.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})");
  REQUIRE(r1);
  Json doc(*db->get("att"));
  auto att = doc["_attachments"]["h.txt"];
  CHECK(std::string_view(att["digest"]) == "md5-XUFAKrxLKna5cZ2REBfFkg==");
  CHECK(uint64_t(att["length"]) == 5);
  CHECK(uint64_t(att["revpos"]) == 1);
  CHECK(bool(att["stub"]));
  auto r2 = db->put(R"({"_id":"att","_rev":")" + r1->rev +
                    R"(","x":1,"_attachments":{"h.txt":{"stub":true}}})");
  REQUIRE(r2);
  auto body = db->getAttachment("att", "h.txt");
  REQUIRE(body);
  CHECK(body->data == "hello");
  CHECK(body->contentType == "text/plain");
  CHECK(body->revpos == 1);
  ReadOptions inlineAtts;
  inlineAtts.attachments = true;
  CHECK(std::string_view(Json(*db->get("att", inlineAtts))["_attachments"]["h.txt"]["data"]) == "aGVsbG8=");
  inlineAtts.attsSince = {r1->rev};
  CHECK(Json(*db->get("att", inlineAtts))["_attachments"]["h.txt"]["stub"].is_bool());
  // A stub naming an attachment no ancestor has: missing_stub, nothing written.
  auto bad = db->put(R"({"_id":"att","_rev":")" + r2->rev + R"(","_attachments":{"nope":{"stub":true}}})");
  CHECK(bad.status().code() == ErrorCode::MissingStub);
  CHECK(Json(*db->get("att")).str("_rev") == r2->rev);
  // Multipart-style bodies delivered beside the JSON.
  auto r3 = db->put(R"({"_id":"mp","_attachments":{"b.bin":{"content_type":"application/octet-stream","follows":true,"length":3}}})",
                    {}, {{"b.bin", std::string("\0\1\2", 3), nullptr}});
  REQUIRE(r3);
  CHECK(db->getAttachment("mp", "b.bin")->data == std::string("\0\1\2", 3));
}

TEST_CASE("Database: revs_diff reports missing revisions and possible ancestors", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  (void)db->bulkDocs({R"({"_id":"r","_rev":"2-b","_revisions":{"start":2,"ids":["b","a"]}})"}, {.newEdits = false});
  auto diff = db->revsDiff({{"r", {"2-b", "3-c", "1-a"}}, {"new", {"1-z"}}, {"same", {}}});
  REQUIRE(diff);
  REQUIRE(diff->size() == 2);
  CHECK((*diff)[0].id == "r");
  CHECK((*diff)[0].missing == std::vector<std::string>{"3-c"});
  CHECK((*diff)[0].possibleAncestors == std::vector<std::string>{"2-b"});
  CHECK((*diff)[1].missing == std::vector<std::string>{"1-z"});
}

TEST_CASE("Database: everything survives close and reopen", "[db][storage]") {
  TempDir dir;
  std::string rev;
  {
    auto db = openDb(dir);
    rev = db->put(R"({"_id":"k","v":"persisted"})")->rev;
    (void)db->putLocal("l", R"({"x":1})");
    REQUIRE(db->setRevsLimit(7).isOk());
  }
  auto db = openDb(dir);
  Json doc(*db->get("k"));
  CHECK(doc.str("_rev") == rev);
  CHECK(doc.str("v") == "persisted");
  CHECK(db->getLocal("l").isOk());
  CHECK(db->revsLimit() == 7);
  auto info = *db->info();
  CHECK(info.updateSeq == 1);
  CHECK(info.docCount == 1);
}

TEST_CASE("DataDir: creates, lists, opens and deletes databases by CouchDB's name rule", "[db]") {
  TempDir dir;
  DataDir data(dir.path());
  REQUIRE(data.create("alpha"));
  REQUIRE(data.create("with/slash"));
  CHECK(data.create("alpha").status().code() == ErrorCode::FileExists);
  CHECK(data.create("Bad").status().code() == ErrorCode::IllegalDatabaseName);
  CHECK(data.create("1abc").status().code() == ErrorCode::IllegalDatabaseName);
  CHECK(data.create("a b").status().code() == ErrorCode::IllegalDatabaseName);
  CHECK(*data.list() == std::vector<std::string>{"alpha", "with/slash"});
  CHECK(data.open("nope").status().code() == ErrorCode::NotFound);
  auto a1 = data.open("alpha");
  auto a2 = data.open("alpha");
  CHECK(a1->get() == a2->get());  // one shared handle per database
  REQUIRE(data.remove("alpha").isOk());
  CHECK(data.open("alpha").status().code() == ErrorCode::NotFound);
  CHECK(data.remove("alpha").code() == ErrorCode::NotFound);
}

TEST_CASE("Database: all_docs with includeDocs and attachments inlines the bodies, else stubs", "[db]") {
  TempDir dir;
  auto db = openDb(dir);
  REQUIRE(db->put(R"({"_id":"a","_attachments":{"t.txt":{"content_type":"text/plain","data":"aGVsbG8="}}})"));
  REQUIRE(db->put(R"({"_id":"b"})"));
  auto attachmentOf = [&](const AllDocsOptions& o) {
    std::string doc;
    auto read = db->allDocs(o, [&](const AllDocsRow& r) {
      if (r.id == "a") doc = r.doc;
      return true;
    });
    REQUIRE(read);
    Json j(doc);
    return std::string(simdjson::minify(j["_attachments"]["t.txt"]));
  };
  AllDocsOptions o;
  o.includeDocs = true;
  CHECK(attachmentOf(o).find("\"stub\":true") != std::string::npos);
  o.attachments = true;
  CHECK(attachmentOf(o).find("\"data\":\"aGVsbG8=\"") != std::string::npos);
  o.keys = std::vector<std::string>{"a", "b"};
  CHECK(attachmentOf(o).find("\"data\":\"aGVsbG8=\"") != std::string::npos);
}
