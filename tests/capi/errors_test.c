/* The C API's conventions that every other call relies on: versions, error values, memory. */
#include "capi_test.h"

CAPI_TEST(version_function_matches_the_header_macros) {
  CHECK(strcmp(settee_version(), SETTEE_VERSION_STRING) == 0);
  CHECK(settee_version_number() == SETTEE_VERSION_NUMBER);
  CHECK(SETTEE_VERSION_NUMBER ==
        SETTEE_VERSION_MAJOR * 1000000 + SETTEE_VERSION_MINOR * 1000 + SETTEE_VERSION_PATCH);
}

CAPI_TEST(null_error_reads_as_success_and_frees_as_a_no_op) {
  CHECK(settee_error_code(NULL) == SETTEE_OK);
  CHECK(strcmp(settee_error_name(NULL), "") == 0);
  CHECK(strcmp(settee_error_message(NULL), "") == 0);
  settee_error_free(NULL);
  settee_free(NULL);
}
