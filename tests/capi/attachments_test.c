/* Attachments, streamed both ways (settee.h, "Attachments"). */
#include "capi_support.h"

/* A byte pattern that no shift of itself matches: a misplaced piece shows. */
static unsigned char pattern_byte(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

CAPI_TEST(attachment_of_several_megabytes_streams_in_and_out_in_small_pieces_byte_for_byte) {
  enum { kSize = 5 * 1024 * 1024 + 123, kWritePiece = 7001, kReadPiece = 4093 };
  settee_db* db = capi_open_db(capi_tmpdir(), "media");
  REQUIRE(db);
  char rev[64];
  REQUIRE(capi_put(db, "photo", "{\"title\":\"dawn\"}", rev));
  unsigned char* piece = malloc(kWritePiece);
  REQUIRE(piece);
  settee_attachment_writer* writer = NULL;
  REQUIRE_OK(settee_db_begin_attachment(db, "photo", "raw.bin", rev, "application/x-raw", &writer));
  for (size_t at = 0; at < kSize; at += kWritePiece) {
    size_t n = kSize - at < kWritePiece ? kSize - at : kWritePiece;
    for (size_t i = 0; i < n; ++i) piece[i] = pattern_byte(at + i);
    if (!CHECK_OK(settee_attachment_write(writer, piece, n))) break;
  }
  free(piece);
  char* rev2 = NULL;
  CHECK_OK(settee_attachment_commit(writer, &rev2));
  CHECK(rev2 && strncmp(rev2, "2-", 2) == 0);
  CHECK_ERROR(settee_attachment_write(writer, "x", 1), "bad_request"); /* spent */
  CHECK_ERROR(settee_attachment_commit(writer, NULL), "bad_request");
  settee_attachment_writer_free(writer);

  char* doc = NULL;
  CHECK_OK(settee_db_get(db, "photo", NULL, &doc));
  CHECK(capi_contains(doc, "\"title\":\"dawn\"")); /* the document's members are kept */
  CHECK(capi_contains(doc, "\"raw.bin\":{\"content_type\":\"application/x-raw\""));
  settee_free(doc);

  settee_attachment_reader* reader = NULL;
  REQUIRE_OK(settee_db_open_attachment(db, "photo", "raw.bin", NULL, &reader));
  char* info = NULL;
  CHECK_OK(settee_attachment_reader_info(reader, &info));
  CHECK(capi_contains(info, "\"content_type\":\"application/x-raw\""));
  CHECK(capi_contains(info, "\"length\":5243003"));
  CHECK(capi_contains(info, "\"digest\":\"md5-"));
  CHECK(capi_contains(info, "\"revpos\":2"));
  settee_free(info);
  unsigned char buffer[kReadPiece];
  size_t total = 0, reads = 0;
  int same = 1;
  for (;;) {
    size_t got = 0;
    if (!CHECK_OK(settee_attachment_read(reader, buffer, sizeof buffer, &got)) || got == 0) break;
    CHECK(got <= sizeof buffer);
    for (size_t i = 0; i < got; ++i) same = same && buffer[i] == pattern_byte(total + i);
    total += got;
    ++reads;
  }
  CHECK(total == kSize);
  CHECK(same);
  CHECK(reads >= kSize / kReadPiece); /* never more than the buffer at once */
  size_t got = 1;
  CHECK_OK(settee_attachment_read(reader, buffer, sizeof buffer, &got));
  CHECK(got == 0); /* the end stays the end */
  settee_attachment_reader_free(reader);
  settee_free(rev2);
  settee_db_close(db);
}

CAPI_TEST(attachment_put_in_one_call_is_read_back_and_other_attachments_are_kept) {
  settee_db* db = capi_open_db(capi_tmpdir(), "media");
  REQUIRE(db);
  char* rev1 = NULL;
  REQUIRE_OK(settee_db_put_attachment(db, "new-doc", "a.txt", NULL, "text/plain", "hello", 5, &rev1));
  CHECK(rev1 && strncmp(rev1, "1-", 2) == 0);
  char* rev2 = NULL;
  REQUIRE_OK(settee_db_put_attachment(db, "new-doc", "b.txt", rev1, NULL, "", 0, &rev2));
  CHECK_ERROR(settee_db_put_attachment(db, "new-doc", "c.txt", rev1, NULL, "x", 1, NULL), "conflict");
  CHECK_ERROR(settee_db_put_attachment(db, "new-doc", "c.txt", NULL, NULL, "x", 1, NULL), "conflict");
  settee_attachment_reader* reader = NULL;
  REQUIRE_OK(settee_db_open_attachment(db, "new-doc", "a.txt", NULL, &reader));
  char buffer[16];
  size_t got = 0;
  CHECK_OK(settee_attachment_read(reader, buffer, sizeof buffer, &got));
  CHECK(got == 5 && memcmp(buffer, "hello", 5) == 0);
  char* info = NULL;
  CHECK_OK(settee_attachment_reader_info(reader, &info));
  CHECK(capi_contains(info, "\"content_type\":\"text/plain\""));
  CHECK(capi_contains(info, "\"revpos\":1"));
  settee_free(info);
  settee_attachment_reader_free(reader);
  REQUIRE_OK(settee_db_open_attachment(db, "new-doc", "b.txt", rev2, &reader));
  CHECK_OK(settee_attachment_reader_info(reader, &info));
  CHECK(capi_contains(info, "\"content_type\":\"application/octet-stream\""));
  CHECK(capi_contains(info, "\"length\":0"));
  settee_free(info);
  CHECK_OK(settee_attachment_read(reader, buffer, sizeof buffer, &got));
  CHECK(got == 0);
  settee_attachment_reader_free(reader);
  /* The first revision still reads with its one attachment. */
  CHECK_ERROR(settee_db_open_attachment(db, "new-doc", "b.txt", rev1, &reader), "not_found");
  settee_free(rev1);
  settee_free(rev2);
  settee_db_close(db);
}

CAPI_TEST(attachment_deleted_is_gone_from_the_new_revision) {
  settee_db* db = capi_open_db(capi_tmpdir(), "media");
  REQUIRE(db);
  char* rev1 = NULL;
  REQUIRE_OK(settee_db_put_attachment(db, "d", "a", NULL, NULL, "1", 1, &rev1));
  char* rev2 = NULL;
  CHECK_ERROR(settee_db_delete_attachment(db, "d", "nope", rev1, &rev2), "not_found");
  CHECK_ERROR(settee_db_delete_attachment(db, "d", "a", "1-00000000000000000000000000000000", &rev2),
              "conflict");
  CHECK_ERROR(settee_db_delete_attachment(db, "d", "a", "bad", &rev2), "bad_request");
  REQUIRE_OK(settee_db_delete_attachment(db, "d", "a", rev1, &rev2));
  settee_attachment_reader* reader = NULL;
  CHECK_ERROR(settee_db_open_attachment(db, "d", "a", NULL, &reader), "not_found");
  CHECK(reader == NULL);
  char* doc = NULL;
  CHECK_OK(settee_db_get(db, "d", NULL, &doc));
  CHECK(!capi_contains(doc, "_attachments"));
  settee_free(doc);
  settee_free(rev1);
  settee_free(rev2);
  settee_db_close(db);
}

CAPI_TEST(attachment_writer_freed_without_commit_writes_nothing) {
  settee_db* db = capi_open_db(capi_tmpdir(), "media");
  REQUIRE(db);
  settee_attachment_writer* writer = NULL;
  REQUIRE_OK(settee_db_begin_attachment(db, "never", "a.bin", NULL, NULL, &writer));
  CHECK_OK(settee_attachment_write(writer, "abc", 3));
  settee_attachment_writer_free(writer);
  char* doc = NULL;
  CHECK_ERROR(settee_db_get(db, "never", NULL, &doc), "not_found");
  settee_db_close(db);
}

CAPI_TEST(attachment_calls_refuse_bad_names_bad_revs_missing_documents_and_null_arguments) {
  settee_db* db = capi_open_db(capi_tmpdir(), "media");
  REQUIRE(db);
  settee_attachment_writer* writer = (settee_attachment_writer*)1;
  settee_attachment_reader* reader = (settee_attachment_reader*)1;
  CHECK_ERROR(settee_db_begin_attachment(db, "d", "_hidden", NULL, NULL, &writer), "bad_request");
  CHECK_ERROR(settee_db_begin_attachment(db, "d", "", NULL, NULL, &writer), "bad_request");
  CHECK_ERROR(settee_db_begin_attachment(db, "d", "a", "nope", NULL, &writer), "bad_request");
  CHECK_ERROR(settee_db_begin_attachment(NULL, "d", "a", NULL, NULL, &writer), "bad_request");
  CHECK_ERROR(settee_db_begin_attachment(db, NULL, "a", NULL, NULL, &writer), "bad_request");
  CHECK_ERROR(settee_db_begin_attachment(db, "d", NULL, NULL, NULL, &writer), "bad_request");
  CHECK(writer == NULL);
  CHECK_ERROR(settee_db_open_attachment(db, "missing", "a", NULL, &reader), "not_found");
  CHECK(reader == NULL);
  CHECK_ERROR(settee_db_open_attachment(db, "missing", "a", "bad-rev", &reader), "bad_request");
  CHECK_ERROR(settee_db_open_attachment(NULL, "d", "a", NULL, &reader), "bad_request");
  CHECK_ERROR(settee_db_open_attachment(db, "d", NULL, NULL, &reader), "bad_request");
  CHECK_ERROR(settee_db_put_attachment(db, "d", "a", NULL, NULL, NULL, 3, NULL), "bad_request");
  CHECK_ERROR(settee_db_put_attachment(db, "d", "_a", NULL, NULL, "x", 1, NULL), "bad_request");
  CHECK_ERROR(settee_db_delete_attachment(db, "d", "a", NULL, NULL), "bad_request");
  CHECK_ERROR(settee_attachment_write(NULL, "x", 1), "bad_request");
  CHECK_ERROR(settee_attachment_commit(NULL, NULL), "bad_request");
  size_t got = 0;
  char buffer[4];
  CHECK_ERROR(settee_attachment_read(NULL, buffer, sizeof buffer, &got), "bad_request");
  char* info = NULL;
  CHECK_ERROR(settee_attachment_reader_info(NULL, &info), "bad_request");
  /* A commit on a document that moved on is a conflict, and the writer is spent. */
  char rev[64];
  REQUIRE(capi_put(db, "d", "{}", rev));
  REQUIRE_OK(settee_db_begin_attachment(db, "d", "a", rev, NULL, &writer));
  CHECK_OK(settee_attachment_write(writer, NULL, 0));
  char body[128];
  snprintf(body, sizeof body, "{\"_rev\":\"%s\"}", rev);
  REQUIRE(capi_put(db, "d", body, NULL));
  CHECK_ERROR(settee_attachment_commit(writer, NULL), "conflict");
  settee_attachment_writer_free(writer);
  settee_attachment_writer_free(NULL);
  settee_attachment_reader_free(NULL);
  settee_db_close(db);
}

CAPI_TEST(attachment_stored_gzip_encoded_reads_decoded_in_small_pieces) {
  settee_db* db = capi_open_db(capi_tmpdir(), "media");
  REQUIRE(db);
  /* 40 lines "line NNN of a gzip-stored note\n" (1240 bytes), gzip-encoded (149 bytes), as a replicator
   * delivers an attachment CouchDB stored compressed. */
  CHECK(capi_put(db, "zipped",
                 "{\"_attachments\":{\"notes.txt\":{\"content_type\":\"text/plain\",\"encoding\":\"gzip\","
                 "\"length\":1240,\"data\":"
                 "\"H4sIAAAAAAACA33Quw3CQBRE0ZwqXgNIOzN8y0FijSxZXgSOqJ6AmBuf7Czz2qu1VmOqWz0+83P/3sar32sdW98"
                 "tPxazmcN8YD4yn5jPzBfmK7J4TbwmXhOvidfEa+I18Zp4TbxmXjOvmdfMa+Y185p5zbxmXjOvhdfCa+"
                 "G18Fp4LbwWXguvhdfyb+0LpAh26dgEAAA=\"}}}",
                 NULL));
  settee_attachment_reader* reader = NULL;
  REQUIRE_OK(settee_db_open_attachment(db, "zipped", "notes.txt", NULL, &reader));
  char* info = NULL;
  CHECK_OK(settee_attachment_reader_info(reader, &info));
  CHECK(capi_contains(info, "\"length\":1240"));
  CHECK(capi_contains(info, "\"encoding\":\"gzip\",\"encoded_length\":149"));
  settee_free(info);
  char text[2048];
  size_t total = 0;
  for (;;) {
    size_t got = 0;
    if (!CHECK_OK(settee_attachment_read(reader, text + total, 7, &got)) || got == 0) break;
    CHECK(got <= 7);
    total += got;
    if (total + 7 > sizeof text) break;
  }
  CHECK(total == 1240);
  text[total] = '\0';
  CHECK(strncmp(text, "line 000 of a gzip-stored note\nline 001 of", 42) == 0);
  CHECK(capi_contains(text, "line 039 of a gzip-stored note\n"));
  settee_attachment_reader_free(reader);
  settee_db_close(db);
}
