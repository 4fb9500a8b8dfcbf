/* integrity_check.c — runs SQLite's PRAGMA integrity_check on each file named on the command line and
 * prints one line per file: "<path> ok" or "<path> <first problems>". Exit status 0 when every file is
 * ok, 1 otherwise. kill_test.mjs runs it on a killed node's databases before restarting the node, so it
 * changes nothing on disk: exclusive locking keeps the WAL index in memory (no -shm file, as the node
 * itself runs), and no checkpoint on close leaves the -wal as the crash left it, for the node's own
 * recovery at its restart. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int check(const char* path) {
  sqlite3* db = NULL;
  int ok = 0;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    printf("%s cannot open: %s\n", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return 0;
  }
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL);
  sqlite3_stmt* st = NULL;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(20)", -1, &st, NULL) != SQLITE_OK) {
    printf("%s cannot check: %s\n", path, sqlite3_errmsg(db));
  } else {
    int rows = 0, rc;
    printf("%s", path);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const char* line = (const char*)sqlite3_column_text(st, 0);
      if (rows == 0 && line && strcmp(line, "ok") == 0) ok = 1;
      printf(" %s", line ? line : "(null)");
      ++rows;
    }
    if (rc != SQLITE_DONE) {
      ok = 0;
      printf(" error: %s", sqlite3_errmsg(db));
    }
    printf("\n");
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return ok;
}

int main(int argc, char** argv) {
  int failures = 0;
  for (int i = 1; i < argc; ++i) failures += !check(argv[i]);
  return failures ? 1 : 0;
}
