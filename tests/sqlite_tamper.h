// Damages a Settee database file the way a bad disk or a foreign writer would, through SQLite's own API,
// so tests can check that reads report the damage instead of passing over it. The database must not be
// open in any process (Settee holds its files with exclusive locking).
#pragma once

#include <sqlite3.h>

#include <string>

namespace settee::test {

// Replaces the stored revision tree of document `id` with bytes no tree decodes from (a wrong version
// byte). Returns false when the file could not be changed or holds no such document.
inline bool corruptRevTree(const std::string& file, const std::string& id) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK;
  sqlite3_stmt* stmt = nullptr;
  ok = ok &&
       sqlite3_prepare_v2(db, "UPDATE docs SET tree = x'ff00' WHERE id = ?", -1, &stmt, nullptr) == SQLITE_OK;
  ok =
      ok && sqlite3_bind_text(stmt, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT) == SQLITE_OK;
  ok = ok && sqlite3_step(stmt) == SQLITE_DONE && sqlite3_changes(db) == 1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return ok;
}

}  // namespace settee::test
