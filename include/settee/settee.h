/* settee/settee.h — Settee's C API: the embedded CouchDB-compatible database, for C and for every language
 * that reaches native code through C (Swift, Kotlin/JNI, Dart FFI, React Native JSI).
 *
 * It is a thin, stable skin over the C++ API (settee/database.h, replicator.h, sync.h): the same
 * databases, files and behaviour. Shapes follow CouchDB's HTTP API, so what CouchDB's documentation says
 * of a body or an answer holds here: documents go in and come out as JSON text; options are JSON objects
 * spelled as CouchDB's query parameters or request bodies (`{"include_docs":true,"limit":10}`), NULL for
 * the defaults; an unknown option is a bad_request error, never ignored.
 *
 * Conventions, for every function below:
 * - Errors. A call that can fail returns `settee_error*`: NULL on success, otherwise an error the caller
 *   owns and frees with settee_error_free(). It carries CouchDB's error name ("not_found", "conflict",
 *   "bad_request", ...) and a message. No C++ exception ever crosses this API: one thrown inside becomes an
 *   error value (out of memory: "internal_server_error"). On error, out-parameters are left NULL/0.
 * - Ownership. Strings and buffers returned through `char**` are allocated by Settee and freed with
 *   settee_free(). An out-parameter may be NULL only where its function says "may be NULL"; any pointer
 *   given as NULL where its function gives NULL no meaning is a bad_request error, never a crash. Handles (`settee_db*`, `settee_cursor*`, ...) are freed with their own `_free`/`_close`
 *   function, named at each type; passing NULL to any free/close function is a no-op. Strings passed in are
 *   read during the call only (copied when kept), and are UTF-8, NUL-terminated.
 * - Threads. Every handle may be used from any thread. Database, replication, sync and node handles may be
 *   used from several threads at once; a cursor or an attachment reader/writer by one thread at a time.
 *   Free a handle once no other thread uses it. Callbacks get the `void* context` given with them and run
 *   on Settee's threads, as said at each; they must return quickly and must not free the handle that
 *   calls them.
 * - Durability. A write that returned NULL (success) survives a crash of the process (kill -9).
 */
#ifndef SETTEE_SETTEE_H
#define SETTEE_SETTEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "settee/version.h"

#if defined(_WIN32)
#define SETTEE_API __declspec(dllexport)
#elif defined(__GNUC__)
#define SETTEE_API __attribute__((visibility("default")))
#else
#define SETTEE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ------------------------------------------------------------------------------------- */

/* The library's version, "MAJOR.MINOR.PATCH" (a static string: never freed). Compare with the
 * compile-time SETTEE_VERSION_STRING (settee/version.h) to detect a header/library mismatch. */
SETTEE_API const char* settee_version(void);
/* MAJOR * 1000000 + MINOR * 1000 + PATCH, as SETTEE_VERSION_NUMBER. */
SETTEE_API int settee_version_number(void);

/* ---- Errors and memory --------------------------------------------------------------------------- */

/* The kind of an error; each has CouchDB's name (settee_error_name). The values are stable. */
typedef enum settee_code {
  SETTEE_OK = 0,
  SETTEE_BAD_REQUEST = 1,             /* bad_request: malformed input, a bad option or argument */
  SETTEE_NOT_FOUND = 2,               /* not_found */
  SETTEE_CONFLICT = 3,                /* conflict: the edit does not extend a current leaf */
  SETTEE_FORBIDDEN = 4,               /* forbidden */
  SETTEE_UNAUTHORIZED = 5,            /* unauthorized */
  SETTEE_FILE_EXISTS = 6,             /* file_exists */
  SETTEE_MISSING_STUB = 7,            /* missing_stub */
  SETTEE_TOO_LARGE = 8,               /* too_large */
  SETTEE_BAD_CONTENT_TYPE = 9,        /* bad_content_type */
  SETTEE_ILLEGAL_DOCID = 10,          /* illegal_docid */
  SETTEE_DOC_VALIDATION = 11,         /* doc_validation */
  SETTEE_ILLEGAL_DATABASE_NAME = 12,  /* illegal_database_name */
  SETTEE_PRECONDITION_FAILED = 13,    /* precondition_failed */
  SETTEE_INTERNAL = 14                /* internal_server_error: storage failure, out of memory; nothing changed */
} settee_code;

typedef struct settee_error settee_error;

/* The error's kind; SETTEE_OK for NULL. */
SETTEE_API settee_code settee_error_code(const settee_error* error);
/* CouchDB's error name, e.g. "not_found" (can be more precise than the code's, e.g. Mango's
 * "no_usable_index"); "" for NULL. Valid until the error is freed. */
SETTEE_API const char* settee_error_name(const settee_error* error);
/* The reason, e.g. "missing"; "" for NULL. Valid until the error is freed. */
SETTEE_API const char* settee_error_message(const settee_error* error);
SETTEE_API void settee_error_free(settee_error* error);

/* Frees a string or buffer Settee returned through a `char**` out-parameter. */
SETTEE_API void settee_free(void* memory);

/* ---- Databases ----------------------------------------------------------------------------------- */

/* A database: one SQLite file in a data directory, laid out as `settee serve --data DIR` lays it out, so
 * the same directory can be served (settee_node_start) or synced by the `settee` command. Opening the same
 * (directory, name) twice in one process gives two handles on one database. Free with settee_db_close. */
typedef struct settee_db settee_db;

/* Opens the database `name` (CouchDB's naming rule) in directory `dir` (created when missing).
 * options (JSON, or NULL): {"create_if_missing": true, "revs_limit": 1000, "max_document_size": 8388608,
 * "sync_full": false, "exclusive": true}. exclusive=false lets another process (`settee status`) open the
 * file too. not_found when absent and create_if_missing is false; illegal_database_name for a bad name.
 * max_document_size, sync_full and exclusive belong to the directory: the first handle (or node) opened on
 * a directory in the process sets them for every database in it; revs_limit applies when the database is
 * created. */
SETTEE_API settee_error* settee_db_open(const char* dir, const char* name, const char* options_json,
                                        settee_db** out_db);
/* Closes the handle (the database closes with its last handle). Any cursor, listener, live query,
 * replication or sync made from it must be freed first. */
SETTEE_API void settee_db_close(settee_db* db);
/* The database's name as opened (owned by the handle). */
SETTEE_API const char* settee_db_name(const settee_db* db);
/* GET /{db}: {"db_name","update_seq","doc_count","doc_del_count","sizes":{...},...}. */
SETTEE_API settee_error* settee_db_info(settee_db* db, char** out_json);
/* Deletes the database's file. The handle stays usable only for settee_db_close. */
SETTEE_API settee_error* settee_db_delete_database(settee_db* db);

/* ---- Documents ----------------------------------------------------------------------------------- */

/* Writes one document (an edit: `_rev` must name the current leaf, absent for a new document).
 * `id`: the document id, or NULL to take the body's `_id` (a new UUID when the body has none, as POST does).
 * Out: the id (may be NULL) and the new revision (may be NULL), each freed with settee_free. */
SETTEE_API settee_error* settee_db_put(settee_db* db, const char* id, const char* json, char** out_id,
                                       char** out_rev);
/* Reads a document: the winner, or as GET /{db}/{docid} options say: {"rev","revs","revs_info",
 * "conflicts","deleted_conflicts","attachments","att_encoding_info","atts_since","local_seq","latest"}. */
SETTEE_API settee_error* settee_db_get(settee_db* db, const char* id, const char* options_json,
                                       char** out_json);
/* Deletes a document at its current revision `rev` (DELETE /{db}/{docid}?rev=). Out (may be NULL): the
 * tombstone's rev. */
SETTEE_API settee_error* settee_db_delete(settee_db* db, const char* id, const char* rev, char** out_rev);
/* POST /{db}/_bulk_docs: body {"docs":[...], "new_edits": true}; answer: CouchDB's array of
 * {"id","rev"} / {"id","error","reason"}, one per document in order (a refused document is not an error
 * of the call). With "new_edits": false, as CouchDB, only the documents refused are answered. */
SETTEE_API settee_error* settee_db_bulk_docs(settee_db* db, const char* body_json, char** out_json);

/* ---- Iterating: all documents, changes, query results -------------------------------------------- */

/* A stream of rows, read one at a time: it holds a page of rows, never the whole result. Free with
 * settee_cursor_free. */
typedef struct settee_cursor settee_cursor;

/* GET /{db}/_all_docs options: {"startkey","endkey","inclusive_end","keys","limit","skip","descending",
 * "include_docs","conflicts","attachments","att_encoding_info"}. Rows as CouchDB's:
 * {"id","key","value":{"rev"},"doc"}; {"key","error":"not_found"} for a missing key. */
SETTEE_API settee_error* settee_db_all_docs(settee_db* db, const char* options_json, settee_cursor** out_cursor);
/* GET /{db}/_changes (normal feed) options: {"since","limit","descending","style":"all_docs",
 * "include_docs","conflicts"}. Rows as CouchDB's: {"seq","id","changes":[{"rev"}],"deleted","doc"}. */
SETTEE_API settee_error* settee_db_changes(settee_db* db, const char* options_json, settee_cursor** out_cursor);
/* The next row as JSON in *out_row (length in *out_length, may be NULL), or *out_row = NULL at the end.
 * The row is owned by the cursor, valid until the next call on it. */
SETTEE_API settee_error* settee_cursor_next(settee_cursor* cursor, const char** out_row, size_t* out_length);
/* What the stream answers besides its rows, once the end was reached (bad_request before the end, or
 * after the stream ended with an error): _all_docs {"total_rows","offset"},
 * _changes {"last_seq","pending"}, _find {"bookmark","warning","execution_stats"}. */
SETTEE_API settee_error* settee_cursor_summary(settee_cursor* cursor, char** out_json);
SETTEE_API void settee_cursor_free(settee_cursor* cursor);

/* ---- Change listeners ---------------------------------------------------------------------------- */

/* Called after each committed write with the database's new update_seq, on the writing thread (or a
 * thread of Settee's): wake something up and return; do not write to the same database from it. */
typedef void (*settee_change_fn)(void* context, uint64_t update_seq);
typedef struct settee_listener settee_listener;
SETTEE_API settee_error* settee_db_add_change_listener(settee_db* db, settee_change_fn fn, void* context,
                                                       settee_listener** out_listener);
/* Unregisters and frees: once it returns, `fn` is not running and will not be called again. */
SETTEE_API void settee_listener_free(settee_listener* listener);

/* ---- Attachments (streamed) ---------------------------------------------------------------------- */

/* Reads an attachment's bytes piece by piece (decoded), never holding the whole body. Free with
 * settee_attachment_reader_free. */
typedef struct settee_attachment_reader settee_attachment_reader;
/* `rev` NULL: the winner. not_found when the document or the attachment is missing. */
SETTEE_API settee_error* settee_db_open_attachment(settee_db* db, const char* doc_id, const char* name,
                                                   const char* rev, settee_attachment_reader** out_reader);
/* {"content_type","length","digest","revpos","encoding"} of the attachment being read. */
SETTEE_API settee_error* settee_attachment_reader_info(settee_attachment_reader* reader, char** out_json);
/* Copies up to `capacity` bytes into `buffer`; *out_read is 0 only at the end. */
SETTEE_API settee_error* settee_attachment_read(settee_attachment_reader* reader, void* buffer, size_t capacity,
                                                size_t* out_read);
SETTEE_API void settee_attachment_reader_free(settee_attachment_reader* reader);

/* Writes an attachment's bytes piece by piece (spooled to a file beside the database, never held whole),
 * then commits them as a new revision of the document. Free with settee_attachment_writer_free (which
 * abandons the bytes when not committed). */
typedef struct settee_attachment_writer settee_attachment_writer;
/* PUT /{db}/{docid}/{name}?rev=: `rev` the document's current revision, NULL for a new document. */
SETTEE_API settee_error* settee_db_begin_attachment(settee_db* db, const char* doc_id, const char* name,
                                                    const char* rev, const char* content_type,
                                                    settee_attachment_writer** out_writer);
SETTEE_API settee_error* settee_attachment_write(settee_attachment_writer* writer, const void* data, size_t length);
/* Writes the revision; out (may be NULL): its rev. The writer is spent afterwards, even when the commit failed (a
 * conflict): free it. */
SETTEE_API settee_error* settee_attachment_commit(settee_attachment_writer* writer, char** out_rev);
SETTEE_API void settee_attachment_writer_free(settee_attachment_writer* writer);
/* The same in one call, for bytes already in memory. Out (may be NULL): the new rev. */
SETTEE_API settee_error* settee_db_put_attachment(settee_db* db, const char* doc_id, const char* name,
                                                  const char* rev, const char* content_type, const void* data,
                                                  size_t length, char** out_rev);
/* DELETE /{db}/{docid}/{name}?rev=. Out (may be NULL): the new rev. */
SETTEE_API settee_error* settee_db_delete_attachment(settee_db* db, const char* doc_id, const char* name,
                                                     const char* rev, char** out_rev);

/* ---- _local documents (not replicated) ----------------------------------------------------------- */

/* `id` with or without the "_local/" prefix. put_local's out_rev may be NULL. */
SETTEE_API settee_error* settee_db_get_local(settee_db* db, const char* id, char** out_json);
SETTEE_API settee_error* settee_db_put_local(settee_db* db, const char* id, const char* json, char** out_rev);
SETTEE_API settee_error* settee_db_delete_local(settee_db* db, const char* id, const char* rev);

/* ---- Conflicts ----------------------------------------------------------------------------------- */

/* The live losing leaves of a document: a JSON array of revs ([] when none). */
SETTEE_API settee_error* settee_db_conflicts(settee_db* db, const char* id, char** out_json);
/* Document ids with conflicts, in id order after `after` (NULL: from the start), at most `limit`: a JSON
 * array of ids. */
SETTEE_API settee_error* settee_db_conflicted_documents(settee_db* db, size_t limit, const char* after,
                                                        char** out_json);
/* Resolves by hand in one transaction: `winner_rev` stays (its body replaced by `merged_json` when not
 * NULL) and every other live leaf is deleted. Out (may be NULL): the winner's rev after it. */
SETTEE_API settee_error* settee_db_resolve_conflicts(settee_db* db, const char* id, const char* winner_rev,
                                                     const char* merged_json, char** out_rev);

/* A conflict policy (settee/conflict.h): "keep", "lww:FIELD", "merge", "merge:lww:FIELD", or an app's
 * resolver. Free with settee_conflict_policy_free (a Sync keeps its own copy). */
typedef struct settee_conflict_policy settee_conflict_policy;
SETTEE_API settee_error* settee_conflict_policy_parse(const char* text, settee_conflict_policy** out_policy);

/* What a resolver decides, set through the calls below during the resolver's call only; untouched, it
 * keeps the conflict. */
typedef struct settee_decision settee_decision;
/* Keep leaf `rev`'s body as the winner; the other leaves are deleted. */
SETTEE_API void settee_decision_choose(settee_decision* decision, const char* rev);
/* Write `json` (a body without _id/_rev) on top of leaf `on_rev` (NULL: CouchDB's winner); the other
 * leaves are deleted. */
SETTEE_API void settee_decision_merge(settee_decision* decision, const char* json, const char* on_rev);
/* An app's resolver: `input_json` is {"id","leaves":[{"rev","doc"}...] (CouchDB's winner first),
 * "ancestor_rev","ancestor"(the common ancestor's body, or null)}. Called on Settee's threads, one call at
 * a time per document; it must be deterministic for devices to converge. */
typedef void (*settee_resolver_fn)(void* context, const char* input_json, settee_decision* decision);
/* `free_context` (may be NULL) is called with `context` when the last copy of the policy is freed. */
SETTEE_API settee_error* settee_conflict_policy_custom(settee_resolver_fn fn, void* context,
                                                       void (*free_context)(void* context),
                                                       settee_conflict_policy** out_policy);
SETTEE_API void settee_conflict_policy_free(settee_conflict_policy* policy);
/* Resolves the document's conflict by `policy` in one transaction. Out (may be NULL):
 * {"resolved":bool,"rev":"winner","deleted":["tombstone revs"]}. */
SETTEE_API settee_error* settee_db_resolve_conflict(settee_db* db, const char* id,
                                                    const settee_conflict_policy* policy, char** out_json);

/* ---- Mango queries and indexes ------------------------------------------------------------------- */

/* POST /{db}/_find body: {"selector", "fields", "sort", "limit", "skip", "bookmark", "use_index",
 * "conflicts", "update", "execution_stats"}. Rows: the documents (projected to `fields`). The summary
 * holds the bookmark of the next page. */
SETTEE_API settee_error* settee_db_find(settee_db* db, const char* query_json, settee_cursor** out_cursor);
/* POST /{db}/_index body; out (may be NULL): {"result":"created"|"exists","id","name"}. */
SETTEE_API settee_error* settee_db_create_index(settee_db* db, const char* index_json, char** out_json);
/* GET /{db}/_index: {"total_rows","indexes":[...]}. */
SETTEE_API settee_error* settee_db_indexes(settee_db* db, char** out_json);
SETTEE_API settee_error* settee_db_delete_index(settee_db* db, const char* ddoc, const char* name);

/* A query re-run whenever a committed write may change its result; `fn` gets
 * {"docs":[...],"update_seq":N} each time the result differs from the last one (the first always), on a
 * thread of Settee's, one call at a time. Free with settee_live_query_free: once it returns, `fn` is
 * not running and will not be called again. */
typedef struct settee_live_query settee_live_query;
typedef void (*settee_live_query_fn)(void* context, const char* result_json);
SETTEE_API settee_error* settee_db_live_query(settee_db* db, const char* query_json, settee_live_query_fn fn,
                                              void* context, settee_live_query** out_query);
SETTEE_API void settee_live_query_free(settee_live_query* query);

/* ---- Replication --------------------------------------------------------------------------------- */

/* One replication between two endpoints, each a local database handle or a remote database URL (http or
 * https, credentials as user:password@): give exactly one of `*_db` / `*_url` per side. Free with
 * settee_replication_free (which stops it and waits). The databases must outlive it. */
typedef struct settee_replication settee_replication;
/* The state as JSON: {"state":"starting|running|idle|retrying|completed|failed|stopped","docs_read",
 * "docs_written","doc_write_failures","missing_revisions_found","pending","start_last_seq",
 * "end_last_seq","error":{"error","reason"} (when failing)}. Called on the replication's threads. */
typedef void (*settee_replication_fn)(void* context, const char* status_json);
/* options as POST /_replicate: {"continuous","doc_ids","selector","filter","query_params","since_seq",
 * "create_target","use_checkpoints","batch_size","worker_processes","checkpoint_interval",
 * "connection_timeout","heartbeat","retries_per_request","ca_file","headers":{name: value}}. */
SETTEE_API settee_error* settee_replication_new(settee_db* source_db, const char* source_url, settee_db* target_db,
                                                const char* target_url, const char* options_json,
                                                settee_replication** out_replication);
/* Starts on threads of its own and returns at once; `fn` (may be NULL) hears each state change. */
SETTEE_API settee_error* settee_replication_start(settee_replication* replication, settee_replication_fn fn,
                                                  void* context);
SETTEE_API void settee_replication_stop(settee_replication* replication);
/* Blocks until it completed, failed or was stopped; NULL when it completed or was stopped, else why it
 * failed. */
SETTEE_API settee_error* settee_replication_wait(settee_replication* replication);
/* The state now, as the callback's JSON. */
SETTEE_API settee_error* settee_replication_status(settee_replication* replication, char** out_json);
SETTEE_API void settee_replication_free(settee_replication* replication);

/* ---- Sync (offline-first, settee/sync.h) --------------------------------------------------------- */

typedef enum settee_sync_state {
  SETTEE_SYNC_OFFLINE = 0,
  SETTEE_SYNC_CONNECTING = 1,
  SETTEE_SYNC_SYNCING = 2,
  SETTEE_SYNC_IDLE = 3,
  SETTEE_SYNC_STOPPED = 4
} settee_sync_state;

/* A sync's status, copied out (no pointers: nothing to free). Error texts are cut to fit. */
typedef struct settee_sync_status {
  settee_sync_state state;
  uint64_t pending;            /* documents the peer has not confirmed (the outbox) */
  uint64_t failed;             /* documents the peer refused */
  uint64_t conflicted;         /* documents with live conflicts */
  uint64_t last_sync_micros;   /* last time both ways were caught up (microseconds since the epoch); 0: never */
  uint64_t next_retry_micros;  /* offline after a failure: when the next try is due; 0 otherwise */
  uint64_t docs_pushed;        /* since start */
  uint64_t docs_pulled;
  uint64_t push_failures;
  uint64_t pull_pending;
  double docs_per_second;
  char error_name[64];         /* the last error's CouchDB name; "" when none */
  char error_message[256];
} settee_sync_status;

typedef enum settee_doc_sync_state {
  SETTEE_DOC_SYNCED = 0,
  SETTEE_DOC_PENDING = 1,
  SETTEE_DOC_FAILED = 2,
  SETTEE_DOC_CONFLICTED = 3
} settee_doc_sync_state;

/* One document's state for one peer (settee/sync_state.h). */
typedef struct settee_doc_sync_info {
  settee_doc_sync_state state; /* the most urgent that applies: failed, conflicted, pending */
  bool pending;
  bool failed;
  bool conflicted;
  uint64_t seq;                /* the local sequence of the unconfirmed change */
  char failure_name[64];       /* failed: the peer's error name and reason */
  char failure_message[256];
} settee_doc_sync_info;

typedef enum settee_doc_event_kind {
  SETTEE_DOC_PULLED = 0,
  SETTEE_DOC_PUSHED = 1,
  SETTEE_DOC_PUSH_FAILED = 2,
  SETTEE_DOC_CONFLICT_DETECTED = 3,
  SETTEE_DOC_CONFLICT_RESOLVED = 4
} settee_doc_event_kind;

/* A database kept in two-way sync with one peer. Free with settee_sync_free (stops and waits). The
 * database must outlive it. */
typedef struct settee_sync settee_sync;
/* Called on the sync's thread, one call at a time; the status is valid during the call. */
typedef void (*settee_sync_status_fn)(void* context, const settee_sync_status* status);
/* `rev`: the revision pulled/pushed/refused or the resolution's winner; `error` (NULL when none, owned by
 * Settee, valid during the call): the peer's refusal, or a failed resolution. */
typedef void (*settee_sync_document_fn)(void* context, settee_doc_event_kind kind, const char* id,
                                        const char* rev, const settee_error* error);
/* options: {"policy":"keep|lww:F|merge|merge:lww:F","priority_selector":{...},"push_selector":{...},
 * "pull_selector":{...},"pull_doc_ids":[...],"large_attachment_bytes":524288,"metered":false,
 * "min_backoff_ms":1000,"max_backoff_ms":300000,"timeout_ms":30000,"heartbeat_ms":10000,"ca_file":"...",
 * "headers":{name: value}}. */
SETTEE_API settee_error* settee_sync_new(settee_db* db, const char* url, const char* options_json,
                                         settee_sync** out_sync);
/* Before start: a policy object (e.g. a custom resolver) instead of the options' "policy". */
SETTEE_API settee_error* settee_sync_set_policy(settee_sync* sync, const settee_conflict_policy* policy);
/* Before start; either may be NULL. */
SETTEE_API settee_error* settee_sync_set_listeners(settee_sync* sync, settee_sync_status_fn on_status,
                                                   settee_sync_document_fn on_document, void* context);
SETTEE_API settee_error* settee_sync_start(settee_sync* sync);
SETTEE_API void settee_sync_stop(settee_sync* sync);
/* The app's word on the network: false stops all work (offline) until true, which connects at once. */
SETTEE_API void settee_sync_network_changed(settee_sync* sync, bool available);
/* A metered network: the large-attachment phase waits while true. */
SETTEE_API void settee_sync_set_metered(settee_sync* sync, bool metered);
SETTEE_API void settee_sync_get_status(settee_sync* sync, settee_sync_status* out_status);
/* The key the database keeps this peer's state under (the URL without credentials); owned by the handle. */
SETTEE_API const char* settee_sync_peer(const settee_sync* sync);
/* not_found before the sync's first start (the peer is registered with the database by start). */
SETTEE_API settee_error* settee_sync_document_state(settee_sync* sync, const char* id,
                                                    settee_doc_sync_info* out_info);
/* Up to `limit` documents in `state` (pending, failed or conflicted) in id order after `after` (NULL:
 * from the start): a JSON array of {"id","seq"} (+ "error","reason" for failed ones). */
SETTEE_API settee_error* settee_sync_documents(settee_sync* sync, settee_doc_sync_state state, size_t limit,
                                               const char* after, char** out_json);
SETTEE_API void settee_sync_free(settee_sync* sync);
/* The same state read from a database for any peer key it knows (no sync running needed). */
SETTEE_API settee_error* settee_db_document_sync_state(settee_db* db, const char* peer, const char* id,
                                                       settee_doc_sync_info* out_info);

/* ---- An HTTP node inside the app ----------------------------------------------------------------- */

/* A CouchDB-compatible HTTP node serving the databases of a data directory, on threads of its own — for a
 * local PouchDB web view or a LAN peer. It shares open databases with settee_db handles on the same
 * directory. Its security is `settee serve`'s (CouchDB 3.4's): give it an admin. Free with
 * settee_node_stop. */
typedef struct settee_node settee_node;
/* options: {"bind_address":"127.0.0.1","port":0 (0: any free port),"config_file":"node.ini" (as
 * `settee serve --config`),"admins":{"name":"password"},"loops":1,"query_server":"/path/to/settee"}.
 * JavaScript of design documents (validate_doc_update, filters) runs in a separate `settee js` process, as
 * CouchDB runs couchjs: name the settee binary in "query_server" (or set COUCHDB_QUERY_SERVER_JAVASCRIPT).
 * Without one, a write that a validate_doc_update must judge fails (os_process_error), never passes. */
SETTEE_API settee_error* settee_node_start(const char* dir, const char* options_json, settee_node** out_node);
/* The port it listens on. */
SETTEE_API int settee_node_port(const settee_node* node);
/* Stops serving, waits for in-flight requests and frees. */
SETTEE_API void settee_node_stop(settee_node* node);

#ifdef __cplusplus
}
#endif

#endif /* SETTEE_SETTEE_H */
