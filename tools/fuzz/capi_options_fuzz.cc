// The C API's options and bodies (include/settee/settee.h): each input is handed, as the options or body
// JSON, to every entry point that takes one, against small databases in a temporary directory made once.
// The property is the header's contract: a call returns NULL or an error value and never crashes, an
// out-parameter is NULL when the call failed, and everything it hands out is freed (ASan's leak check
// at exit finds what is not). Entry points that start threads or bind sockets (a replication or sync
// started, a node) are not called: their options are read by settee_replication_new / settee_sync_new.
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "fuzz_util.h"
#include "settee/settee.h"

namespace {

// The databases every input runs against: `docs` holds a few documents and is only read; `scratch`
// takes the writes (bulk_docs, create_index) and is made anew every kScratchRuns inputs, so what inputs
// write does not pile up and slow the run down.
struct Fixture {
  std::string dir;
  settee_db* docs = nullptr;
  settee_db* target = nullptr;
  settee_db* scratch = nullptr;
  unsigned runs = 0;
};

constexpr unsigned kScratchRuns = 500;

void ok(settee_error* e) {
  if (e) std::fprintf(stderr, "fixture: %s: %s\n", settee_error_name(e), settee_error_message(e));
  FUZZ_CHECK(e == nullptr);
}

// An error value must carry a name and a message; it is freed here.
void expectErrorShape(settee_error* e) {
  if (!e) return;
  FUZZ_CHECK(settee_error_code(e) != SETTEE_OK);
  FUZZ_CHECK(settee_error_name(e)[0] != '\0');
  FUZZ_CHECK(settee_error_message(e) != nullptr);
  settee_error_free(e);
}

Fixture& fixture() {
  static Fixture* f = [] {
    auto* made = new Fixture;
    char pattern[] = "/tmp/settee-capi-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern) != nullptr);
    made->dir = pattern;
    // The directory goes when the process ends, however libFuzzer ends it (at exit, not after a crash,
    // which keeps what a crash left for a look).
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(fixture().dir, ec);
    });
    ok(settee_db_open(made->dir.c_str(), "docs", nullptr, &made->docs));
    ok(settee_db_open(made->dir.c_str(), "target", nullptr, &made->target));
    ok(settee_db_put(made->docs, "a", "{\"type\":\"note\",\"n\":1}", nullptr, nullptr));
    ok(settee_db_put(made->docs, "b", "{\"type\":\"note\",\"n\":2,\"tags\":[\"x\"]}", nullptr, nullptr));
    char* rev = nullptr;
    ok(settee_db_put(made->docs, "c", "{\"type\":\"task\",\"n\":3}", nullptr, &rev));
    ok(settee_db_delete(made->docs, "c", rev, nullptr));
    settee_free(rev);
    char* index = nullptr;
    ok(settee_db_create_index(made->docs, "{\"index\":{\"fields\":[\"n\"]},\"name\":\"by-n\"}", &index));
    settee_free(index);
    return made;
  }();
  return *f;
}

settee_db* scratch(Fixture& f) {
  if (f.scratch && f.runs % kScratchRuns == 0) {
    ok(settee_db_delete_database(f.scratch));
    settee_db_close(f.scratch);
    f.scratch = nullptr;
  }
  if (!f.scratch) ok(settee_db_open(f.dir.c_str(), "scratch", nullptr, &f.scratch));
  return f.scratch;
}

// Reads at most a few rows of a cursor the call made (when it made one), then frees it.
void readSome(settee_error* e, settee_cursor* cursor) {
  if (e) {
    FUZZ_CHECK(cursor == nullptr);
    expectErrorShape(e);
    return;
  }
  FUZZ_CHECK(cursor != nullptr);
  for (int i = 0; i < 4; ++i) {
    const char* row = nullptr;
    size_t length = 0;
    settee_error* next = settee_cursor_next(cursor, &row, &length);
    if (next) {
      FUZZ_CHECK(row == nullptr);
      expectErrorShape(next);
      break;
    }
    if (!row) {
      char* summary = nullptr;
      settee_error* s = settee_cursor_summary(cursor, &summary);
      FUZZ_CHECK((s == nullptr) == (summary != nullptr));
      expectErrorShape(s);
      settee_free(summary);
      break;
    }
    FUZZ_CHECK(length == std::strlen(row));
  }
  settee_cursor_free(cursor);
}

// A call answering text through `out`: NULL error and text, or an error and NULL.
void checkText(settee_error* e, char* out) {
  FUZZ_CHECK((e == nullptr) == (out != nullptr));
  expectErrorShape(e);
  settee_free(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  ++f.runs;
  // The C API takes NUL-terminated text: an input stops at its first NUL, as a C caller's string would.
  const std::string_view text = settee::fuzz::asText(data, size);
  const std::string input(text.substr(0, text.find('\0')));
  const char* json = input.c_str();

  {
    // A directory of its own, so the first opener's options (the DataDir's defaults) are this input's.
    std::string dir = f.dir + "/open";
    settee_db* db = reinterpret_cast<settee_db*>(1);
    settee_error* e = settee_db_open(dir.c_str(), "opened", json, &db);
    FUZZ_CHECK((e == nullptr) == (db != nullptr));
    expectErrorShape(e);
    settee_db_close(db);
  }
  {
    char* doc = reinterpret_cast<char*>(1);
    settee_error* e = settee_db_get(f.docs, "b", json, &doc);
    checkText(e, doc);
  }
  {
    settee_cursor* cursor = reinterpret_cast<settee_cursor*>(1);
    settee_error* e = settee_db_all_docs(f.docs, json, &cursor);
    readSome(e, cursor);
    cursor = reinterpret_cast<settee_cursor*>(1);
    e = settee_db_changes(f.docs, json, &cursor);
    readSome(e, cursor);
    cursor = reinterpret_cast<settee_cursor*>(1);
    e = settee_db_find(f.docs, json, &cursor);
    readSome(e, cursor);
  }
  {
    settee_db* db = scratch(f);
    char* out = reinterpret_cast<char*>(1);
    checkText(settee_db_bulk_docs(db, json, &out), out);
    out = reinterpret_cast<char*>(1);
    checkText(settee_db_create_index(db, json, &out), out);
  }
  {
    settee_replication* r = reinterpret_cast<settee_replication*>(1);
    settee_error* e = settee_replication_new(f.docs, nullptr, f.target, nullptr, json, &r);
    FUZZ_CHECK((e == nullptr) == (r != nullptr));
    expectErrorShape(e);
    if (r) {
      char* status = nullptr;
      checkText(settee_replication_status(r, &status), status);
    }
    settee_replication_free(r);
  }
  {
    // A peer URL on the loopback that nothing is asked of: the sync is never started.
    settee_sync* s = reinterpret_cast<settee_sync*>(1);
    settee_error* e = settee_sync_new(f.docs, "http://127.0.0.1:9/peer", json, &s);
    FUZZ_CHECK((e == nullptr) == (s != nullptr));
    expectErrorShape(e);
    settee_sync_free(s);
  }
  return 0;
}
