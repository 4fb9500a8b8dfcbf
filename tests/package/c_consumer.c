/* The C API as an app sees it once Settee is installed: settee/settee.h and libsettee (shared or static).
 * Usage: c_consumer DIR — checks the header's version against the library's, writes a document in a
 * database under DIR and reads it back. Exits 0 when all holds, else prints what failed. */
#include <stdio.h>
#include <string.h>

#include "settee/settee.h"

static int failed(settee_error* error, const char* what) {
  fprintf(stderr, "c_consumer: %s: %s: %s\n", what, settee_error_name(error), settee_error_message(error));
  settee_error_free(error);
  return 1;
}

int main(int argc, char** argv) {
  if (strcmp(settee_version(), SETTEE_VERSION_STRING) != 0 ||
      settee_version_number() != SETTEE_VERSION_NUMBER) {
    fprintf(stderr, "c_consumer: header %s, library %s\n", SETTEE_VERSION_STRING, settee_version());
    return 1;
  }
  /* No error is NULL: its code is SETTEE_OK and its texts are empty. */
  if (settee_error_code(NULL) != SETTEE_OK || strcmp(settee_error_name(NULL), "") != 0) {
    fprintf(stderr, "c_consumer: a NULL error is not SETTEE_OK\n");
    return 1;
  }
  printf("settee %s\n", settee_version());
  if (argc < 2) {
    fprintf(stderr, "usage: c_consumer DIR\n");
    return 2;
  }
  settee_db* db = NULL;
  settee_error* error = settee_db_open(argv[1], "consumer", NULL, &db);
  if (error) return failed(error, "settee_db_open");
  char* rev = NULL;
  error = settee_db_put(db, "greeting", "{\"text\":\"hello from C\"}", NULL, &rev);
  if (error) {
    settee_db_close(db);
    return failed(error, "settee_db_put");
  }
  char* json = NULL;
  error = settee_db_get(db, "greeting", NULL, &json);
  settee_db_close(db);
  if (error) {
    settee_free(rev);
    return failed(error, "settee_db_get");
  }
  int ok = strstr(json, "\"hello from C\"") != NULL && strstr(json, rev) != NULL;
  printf("%s\n", json);
  settee_free(rev);
  settee_free(json);
  if (!ok) {
    fprintf(stderr, "c_consumer: the document read back is not the one written\n");
    return 1;
  }
  return 0;
}
