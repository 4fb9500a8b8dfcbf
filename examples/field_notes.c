/* field_notes — a field-notes app on Settee's C API (settee/settee.h): notes are written offline into a
 * local database and synced with a CouchDB-compatible node (another Settee, CouchDB) when one is reachable.
 *
 *   field_notes DIR add "text"          writes a note: {"type":"note","text","created_at","device"}
 *   field_notes DIR list                lists the notes, oldest first
 *   field_notes DIR sync URL [SECONDS]  syncs both ways with the database at URL (http://host:port/db)
 *                                       until caught up (or offline, or SECONDS, default 30), then prints
 *                                       the sync state; remembers URL for `status`
 *   field_notes DIR status [URL]        the sync state kept for URL (default: the last synced), no network
 *
 * The device is $FIELD_NOTES_DEVICE, else the host name. A note's id is "note:" + its time + ":" + device,
 * so the ids sort oldest first and two devices never write the same id. Exit status: 0 done, 1 failed
 * (the error's CouchDB name and message on stderr), 2 bad usage.
 *
 * Build it against the installed package: see examples/CMakeLists.txt and README.md. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "settee/settee.h"

/* ---- Small helpers: a growing string, JSON strings in and out, times --------------------------------- */

typedef struct {
  char* data;
  size_t length, capacity;
} text;

static void append(text* t, const char* s, size_t n) {
  if (t->length + n + 1 > t->capacity) {
    size_t capacity = (t->length + n + 1) * 2;
    char* data = realloc(t->data, capacity);
    if (!data) {
      fprintf(stderr, "field_notes: out of memory\n");
      exit(1);
    }
    t->data = data;
    t->capacity = capacity;
  }
  memcpy(t->data + t->length, s, n);
  t->length += n;
  t->data[t->length] = '\0';
}
static void append_str(text* t, const char* s) { append(t, s, strlen(s)); }

/* Appends `s` as a JSON string, quoted and escaped (quotes, backslashes and control characters). */
static void append_json_string(text* t, const char* s) {
  append_str(t, "\"");
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    char escaped[8];
    if (c == '"' || c == '\\') {
      snprintf(escaped, sizeof escaped, "\\%c", c);
      append_str(t, escaped);
    } else if (c < 0x20) {
      snprintf(escaped, sizeof escaped, "\\u%04x", c);
      append_str(t, escaped);
    } else {
      append(t, (const char*)&c, 1);
    }
  }
  append_str(t, "\"");
}

/* The four hex digits at `p` (stopping at the first that is not one, so never past the string's end). */
static int hex4(const char* p, unsigned long* out) {
  *out = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return 0;
    *out = *out * 16 + (unsigned long)digit;
  }
  return 1;
}

/* The string value of `"name":"..."` in a flat JSON object as Settee writes it (compact), unescaped, in
 * `out` (reset first). Returns 0 when the object has no such string field. */
static int json_string_field(const char* json, const char* name, text* out) {
  text key = {0};
  append_json_string(&key, name);
  append_str(&key, ":\"");
  const char* p = strstr(json, key.data);
  size_t skip = key.length;
  free(key.data);
  if (!p) return 0;
  out->length = 0;
  append(out, "", 0);
  for (p += skip; *p && *p != '"'; ++p) {
    if (*p != '\\') {
      append(out, p, 1);
      continue;
    }
    char c = *++p, one = c;
    if (!c) break;
    if (c == 'u') { /* \uXXXX (and a surrogate pair) as UTF-8 */
      unsigned long cp, low;
      if (!hex4(p + 1, &cp)) break;
      p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u' && hex4(p + 3, &low) && low >= 0xDC00 &&
          low < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        p += 6;
      }
      char utf8[4];
      size_t n = 0;
      if (cp < 0x80) {
        utf8[n++] = (char)cp;
      } else if (cp < 0x800) {
        utf8[n++] = (char)(0xC0 | (cp >> 6));
        utf8[n++] = (char)(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        utf8[n++] = (char)(0xE0 | (cp >> 12));
        utf8[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        utf8[n++] = (char)(0x80 | (cp & 0x3F));
      } else {
        utf8[n++] = (char)(0xF0 | (cp >> 18));
        utf8[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        utf8[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        utf8[n++] = (char)(0x80 | (cp & 0x3F));
      }
      append(out, utf8, n);
      continue;
    }
    if (c == 'n')
      one = '\n';
    else if (c == 't')
      one = '\t';
    else if (c == 'r')
      one = '\r';
    else if (c == 'b')
      one = '\b';
    else if (c == 'f')
      one = '\f';
    append(out, &one, 1);
  }
  return 1;
}

/* `micros` since the epoch as ISO 8601 UTC with milliseconds ("2026-12-05T07:10:00.123Z"). */
static void iso_time(uint64_t micros, char out[32]) {
  time_t seconds = (time_t)(micros / 1000000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char day[24];
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 32, "%s.%03uZ", day, (unsigned)(micros / 1000 % 1000));
}

static uint64_t now_micros(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Prints the error as "field_notes: WHAT: name: message", frees it, and gives the exit status 1. */
static int fail(settee_error* error, const char* what) {
  fprintf(stderr, "field_notes: %s: %s: %s\n", what, settee_error_name(error), settee_error_message(error));
  settee_error_free(error);
  return 1;
}

/* ---- The commands ------------------------------------------------------------------------------------ */

static int add_note(settee_db* db, const char* note_text) {
  const char* device = getenv("FIELD_NOTES_DEVICE");
  char host[256] = "unknown";
  if (!device || !*device) {
    if (gethostname(host, sizeof host) == 0) host[sizeof host - 1] = '\0';
    device = host;
  }
  char created_at[32];
  iso_time(now_micros(), created_at);

  text id = {0}, doc = {0};
  append_str(&id, "note:");
  append_str(&id, created_at);
  append_str(&id, ":");
  append_str(&id, device);
  append_str(&doc, "{\"type\":\"note\",\"text\":");
  append_json_string(&doc, note_text);
  append_str(&doc, ",\"created_at\":");
  append_json_string(&doc, created_at);
  append_str(&doc, ",\"device\":");
  append_json_string(&doc, device);
  append_str(&doc, "}");

  char* rev = NULL;
  settee_error* error = settee_db_put(db, id.data, doc.data, NULL, &rev);
  if (!error) printf("added %s (%s)\n", id.data, rev);
  settee_free(rev);
  free(id.data);
  free(doc.data);
  return error ? fail(error, "writing the note") : 0;
}

static int list_notes(settee_db* db) {
  /* The notes in id order, which is time order; fields keeps the rows to what is printed. */
  settee_cursor* cursor = NULL;
  settee_error* error = settee_db_find(
      db,
      "{\"selector\":{\"type\":\"note\"},\"fields\":[\"created_at\",\"device\",\"text\"],\"limit\":1000000}",
      &cursor);
  if (error) return fail(error, "listing the notes");
  text created_at = {0}, device = {0}, note = {0};
  size_t count = 0;
  const char* row = NULL;
  while (!(error = settee_cursor_next(cursor, &row, NULL)) && row) {
    json_string_field(row, "created_at", &created_at);
    json_string_field(row, "device", &device);
    json_string_field(row, "text", &note);
    printf("%s  %s  %s\n", created_at.data ? created_at.data : "?", device.data ? device.data : "?",
           note.data ? note.data : "");
    ++count;
  }
  settee_cursor_free(cursor);
  free(created_at.data);
  free(device.data);
  free(note.data);
  if (error) return fail(error, "listing the notes");
  printf("%zu note%s\n", count, count == 1 ? "" : "s");
  return 0;
}

static const char* state_name(settee_sync_state state) {
  switch (state) {
    case SETTEE_SYNC_OFFLINE:
      return "offline";
    case SETTEE_SYNC_CONNECTING:
      return "connecting";
    case SETTEE_SYNC_SYNCING:
      return "syncing";
    case SETTEE_SYNC_IDLE:
      return "idle";
    case SETTEE_SYNC_STOPPED:
      return "stopped";
  }
  return "?";
}

static void print_status(const char* peer, const settee_sync_status* s) {
  char last[32] = "never";
  if (s->last_sync_micros) iso_time(s->last_sync_micros, last);
  printf("%s: state %s, pending %llu, failed %llu, conflicted %llu, last sync %s\n", peer,
         state_name(s->state), (unsigned long long)s->pending, (unsigned long long)s->failed,
         (unsigned long long)s->conflicted, last);
  if (s->error_name[0]) printf("last error: %s: %s\n", s->error_name, s->error_message);
}

/* The peer URL last synced with is kept in the _local document "field_notes" (never replicated). */
static const char* kLocalId = "field_notes";

static int remember_url(settee_db* db, const char* url) {
  text doc = {0}, rev = {0};
  append_str(&doc, "{\"url\":");
  append_json_string(&doc, url);
  char* old = NULL;
  settee_error* error = settee_db_get_local(db, kLocalId, &old);
  if (!error && json_string_field(old, "_rev", &rev)) { /* an update names the revision it replaces */
    append_str(&doc, ",\"_rev\":");
    append_json_string(&doc, rev.data);
  }
  settee_free(old);
  if (error && settee_error_code(error) != SETTEE_NOT_FOUND) {
    free(doc.data);
    free(rev.data);
    return fail(error, "reading the last peer");
  }
  settee_error_free(error);
  append_str(&doc, "}");
  error = settee_db_put_local(db, kLocalId, doc.data, NULL);
  free(doc.data);
  free(rev.data);
  return error ? fail(error, "remembering the peer") : 0;
}

/* What the status listener saw last, handed from the sync's thread to main's. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t changed;
  settee_sync_status last;
} waiter;

static void on_status(void* context, const settee_sync_status* status) {
  waiter* w = context;
  pthread_mutex_lock(&w->mu);
  w->last = *status;
  pthread_cond_signal(&w->changed);
  pthread_mutex_unlock(&w->mu);
}

/* Caught up both ways, or offline after a failure (it would back off and retry: an app would wait). */
static int settled(const settee_sync_status* s) {
  return s->state == SETTEE_SYNC_IDLE || (s->state == SETTEE_SYNC_OFFLINE && s->error_name[0]);
}

static int sync_notes(settee_db* db, const char* url, int seconds) {
  if (remember_url(db, url)) return 1;
  settee_sync* sync = NULL;
  settee_error* error = settee_sync_new(db, url, NULL, &sync);
  if (error) return fail(error, "setting up the sync");
  waiter w = {.last = {.state = SETTEE_SYNC_STOPPED}};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.changed, NULL);
  error = settee_sync_set_listeners(sync, on_status, NULL, &w);
  if (!error) error = settee_sync_start(sync);
  if (error) {
    settee_sync_free(sync);
    return fail(error, "starting the sync");
  }

  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += seconds;
  int timed_out = 0;
  pthread_mutex_lock(&w.mu);
  while (!settled(&w.last) && !timed_out)
    timed_out = pthread_cond_timedwait(&w.changed, &w.mu, &deadline) != 0;
  settee_sync_status status = w.last;
  pthread_mutex_unlock(&w.mu);

  /* Stops and waits for the sync's threads; the listener's last call (stopped) comes before it returns,
   * so `w` outlives every call. */
  char* peer = strdup(settee_sync_peer(sync));
  settee_sync_free(sync);
  pthread_cond_destroy(&w.changed);
  pthread_mutex_destroy(&w.mu);

  print_status(peer ? peer : url, &status);
  free(peer);
  if (status.state == SETTEE_SYNC_IDLE) return 0;
  fprintf(stderr, "field_notes: %s\n",
          timed_out ? "not caught up before the deadline" : "the peer is unreachable");
  return 1;
}

static int show_status(settee_db* db, const char* url) {
  text remembered = {0};
  if (!url) {
    char* local = NULL;
    settee_error* error = settee_db_get_local(db, kLocalId, &local);
    if (error && settee_error_code(error) == SETTEE_NOT_FOUND) {
      settee_error_free(error);
      printf("never synced: give a URL (field_notes DIR sync URL)\n");
      return 0;
    }
    if (error) return fail(error, "reading the last peer");
    int found = json_string_field(local, "url", &remembered);
    settee_free(local);
    if (!found) {
      fprintf(stderr, "field_notes: the _local/%s document has no url\n", kLocalId);
      return 1;
    }
    url = remembered.data;
  }
  /* A sync that is not started reads what the database keeps for the peer: no network. */
  settee_sync* sync = NULL;
  settee_error* error = settee_sync_new(db, url, NULL, &sync);
  if (!error) {
    settee_sync_status status;
    settee_sync_get_status(sync, &status);
    print_status(settee_sync_peer(sync), &status);
    settee_sync_free(sync);
  }
  free(remembered.data);
  return error ? fail(error, "reading the sync state") : 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: field_notes DIR add TEXT\n"
          "       field_notes DIR list\n"
          "       field_notes DIR sync URL [SECONDS]\n"
          "       field_notes DIR status [URL]\n");
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const char* dir = argv[1];
  const char* command = argv[2];
  int seconds = argc > 4 ? atoi(argv[4]) : 30;
  int known = (!strcmp(command, "add") && argc == 4) || (!strcmp(command, "list") && argc == 3) ||
              (!strcmp(command, "sync") && (argc == 4 || (argc == 5 && seconds > 0))) ||
              (!strcmp(command, "status") && (argc == 3 || argc == 4));
  if (!known) return usage();

  settee_db* db = NULL;
  settee_error* error = settee_db_open(dir, "notes", NULL, &db);
  if (error) return fail(error, "opening the notes");
  int status;
  if (!strcmp(command, "add"))
    status = add_note(db, argv[3]);
  else if (!strcmp(command, "list"))
    status = list_notes(db);
  else if (!strcmp(command, "sync"))
    status = sync_notes(db, argv[3], seconds);
  else
    status = show_status(db, argc == 4 ? argv[3] : NULL);
  settee_db_close(db);
  return status;
}
