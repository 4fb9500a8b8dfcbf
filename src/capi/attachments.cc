// Streamed attachments (settee.h, "Attachments").
//
// Reading: the attachment is found by reference (its digest and stored length, no bytes), then its
// stored bytes are read from the Store a piece at a time, at most what the app's buffer takes, and
// decoded on the way when they are stored gzip-encoded. The whole body is never held.
// Writing: the bytes go to a spool file in the data directory (unlinked at once, so it never outlives
// the process) and reach the Store at commit as a ByteSource read piece by piece — as an HTTP upload of
// PUT /{db}/{docid}/{att} does (http/body_spool.h). The document JSON of the edit is made as that
// handler makes it: the revision's members and other attachments kept, this one `follows`.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "capi/capi_internal.h"
#include "db/database_internal.h"
#include "db/rev_id.h"
#include "http/api.h"
#include "http/gzip_inflater.h"
#include "http/handlers/document_internal.h"

using settee::capi::badArgument;
using settee::capi::copyOut;
using settee::capi::guard;
using settee::capi::toError;

namespace {

using settee::Result;
using settee::Status;

// Stored bytes read per step when decoding a gzip body (the decoded piece may be larger).
constexpr size_t kGzipStep = 64 * 1024;
// Largest decoded gzip body accepted: its recorded length, with this floor for bodies recorded as empty.
constexpr uint64_t kMinInflateLimit = 1;

Status internal(const std::string& what) { return Status(settee::ErrorCode::Internal, what); }

Status checkName(const char* name) {
  if (!name || !*name) return settee::badRequest("an attachment needs a name");
  if (name[0] == '_') return settee::badRequest("Attachment name can't start with '_'");
  return Status::ok();
}

Status checkRev(const char* rev) {
  if (rev && !settee::db::RevId::parse(rev)) return settee::badRequest("Invalid rev format");
  return Status::ok();
}

// The document `id` at `rev` as the base of an attachment edit, rewritten by `edit` (which writes the
// `_attachments` member, or nothing). A revision the document lacks is a conflict, as in CouchDB.
Result<std::string> editedDoc(
    settee::Database& db, std::string_view id, const char* rev,
    const std::function<void(settee::db::JsonWriter&, simdjson::dom::object*)>& edit) {
  if (!rev) {
    return settee::http::writeJson([&](settee::db::JsonWriter& w) {
      w.StartObject();
      edit(w, nullptr);
      w.EndObject();
    });
  }
  settee::ReadOptions read;
  read.rev = rev;
  auto doc = db.get(id, read);
  if (!doc) return doc.status().code() == settee::ErrorCode::NotFound ? settee::conflict() : doc.status();
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(*doc).get(obj)) return internal("unreadable document " + std::string(id));
  simdjson::dom::object atts;
  const bool hasAtts = !obj["_attachments"].get(atts);
  return settee::http::detail::rewriteObject(
      obj, {"_attachments", "_deleted"},
      [&](settee::db::JsonWriter& w) { edit(w, hasAtts ? &atts : nullptr); });
}

// An attachment edit's `_attachments`: the revision's others (as stubs) and `name` following as `type`.
Result<std::string> withAttachment(settee::Database& db, std::string_view id, const char* name,
                                   const char* rev, const std::string& type) {
  return editedDoc(db, id, rev, [&](settee::db::JsonWriter& w, simdjson::dom::object* atts) {
    settee::db::writeKey(w, "_attachments");
    w.StartObject();
    if (atts) {
      for (auto field : *atts) {
        if (field.key == name) continue;
        settee::db::writeKey(w, field.key);
        settee::db::writeElement(w, field.value);
      }
    }
    settee::db::writeKey(w, name);
    w.StartObject();
    settee::db::writeKey(w, "content_type");
    settee::db::writeString(w, type);
    settee::db::writeKey(w, "follows");
    w.Bool(true);
    w.EndObject();
    w.EndObject();
  });
}

// The spool file, closed when the writer and every source reading it are gone.
struct SpoolFile {
  int fd = -1;
  ~SpoolFile() {
    if (fd >= 0) ::close(fd);
  }
};

class SpoolSource : public settee::ByteSource {
 public:
  SpoolSource(std::shared_ptr<SpoolFile> file, uint64_t size) : file_(std::move(file)), size_(size) {}
  uint64_t size() const override { return size_; }
  Result<size_t> read(uint64_t offset, char* buf, size_t n) const override {
    if (offset >= size_) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    for (;;) {
      ssize_t got = ::pread(file_->fd, buf, n, static_cast<off_t>(offset));
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR)
        return internal(std::string("cannot read the attachment spool: ") + std::strerror(errno));
    }
  }

 private:
  std::shared_ptr<SpoolFile> file_;
  uint64_t size_;
};

}  // namespace

struct settee_attachment_reader {
  std::shared_ptr<settee::Database> db;
  settee::Attachment att;  // without data: the digest and the stored length
  uint64_t offset = 0;     // stored bytes read so far
  std::unique_ptr<settee::http::detail::GzipInflater> inflater;  // gzip-stored bodies
  std::string piece;                                             // stored bytes of the last step
  std::string decoded;                                           // decoded bytes not yet handed out
  size_t decodedAt = 0;
};

struct settee_attachment_writer {
  std::shared_ptr<settee::Database> db;
  std::string id, name, contentType;
  std::optional<std::string> rev;
  std::shared_ptr<SpoolFile> file;
  uint64_t written = 0;
  bool spent = false;
};

extern "C" {

settee_error* settee_db_open_attachment(settee_db* db, const char* doc_id, const char* name, const char* rev,
                                        settee_attachment_reader** out_reader) {
  return guard([&]() -> settee_error* {
    if (out_reader) *out_reader = nullptr;
    if (!db || !doc_id || !name || !out_reader)
      return badArgument("settee_db_open_attachment needs db, doc_id, name and out_reader");
    if (Status st = checkRev(rev); !st) return toError(st);
    settee::ReadOptions read;
    if (rev) read.rev = rev;
    read.attachments = true;
    std::vector<settee::Attachment> atts;
    auto doc =
        settee::db::storeOf(*db->db).get(doc_id, read, &atts, settee::db::Store::FollowMode::Reference);
    if (!doc && doc.status().code() != settee::ErrorCode::NotFound) return toError(doc.status());
    for (settee::Attachment& att : atts) {
      if (!doc || att.name != name) continue;
      auto reader = std::make_unique<settee_attachment_reader>();
      reader->db = db->db;
      reader->att = std::move(att);
      if (reader->att.encoding == "gzip") {
        reader->inflater = std::make_unique<settee::http::detail::GzipInflater>(
            static_cast<size_t>(std::max<uint64_t>(reader->att.length, kMinInflateLimit)));
      } else if (!reader->att.encoding.empty()) {
        return toError(internal("unknown attachment encoding " + reader->att.encoding));
      }
      *out_reader = reader.release();
      return nullptr;
    }
    return toError(settee::notFound("Document is missing attachment"));
  });
}

settee_error* settee_attachment_reader_info(settee_attachment_reader* reader, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!reader || !out_json) return badArgument("settee_attachment_reader_info needs reader and out_json");
    const settee::Attachment& a = reader->att;
    *out_json = copyOut(settee::http::writeJson([&](settee::db::JsonWriter& w) {
      w.StartObject();
      settee::db::writeKey(w, "content_type");
      settee::db::writeString(w, a.contentType);
      settee::db::writeKey(w, "length");
      w.Uint64(a.length);
      settee::db::writeKey(w, "digest");
      settee::db::writeString(w, a.digest);
      settee::db::writeKey(w, "revpos");
      w.Uint64(a.revpos);
      if (!a.encoding.empty()) {
        settee::db::writeKey(w, "encoding");
        settee::db::writeString(w, a.encoding);
        settee::db::writeKey(w, "encoded_length");
        w.Uint64(a.storedLength);
      }
      w.EndObject();
    }));
    return nullptr;
  });
}

settee_error* settee_attachment_read(settee_attachment_reader* reader, void* buffer, size_t capacity,
                                     size_t* out_read) {
  return guard([&]() -> settee_error* {
    if (out_read) *out_read = 0;
    if (!reader || !buffer || !out_read || capacity == 0)
      return badArgument("settee_attachment_read needs reader, a buffer of some capacity and out_read");
    settee::db::Store& store = settee::db::storeOf(*reader->db);
    settee::Attachment& a = reader->att;
    if (!reader->inflater) {
      // Stored as the app wrote it: read straight into the app's buffer's worth.
      const uint64_t n = std::min<uint64_t>(capacity, a.storedLength - reader->offset);
      if (n == 0) return nullptr;
      if (Status st = settee::http::detail::readStored(store, a.digest, reader->offset, n, reader->piece);
          !st)
        return toError(st);
      std::memcpy(buffer, reader->piece.data(), reader->piece.size());
      reader->offset += reader->piece.size();
      *out_read = reader->piece.size();
      return nullptr;
    }
    using Inflate = settee::http::detail::GzipInflater::Result;
    while (reader->decodedAt == reader->decoded.size() && reader->offset < a.storedLength) {
      reader->decoded.clear();
      reader->decodedAt = 0;
      const uint64_t n = std::min<uint64_t>(kGzipStep, a.storedLength - reader->offset);
      if (Status st = settee::http::detail::readStored(store, a.digest, reader->offset, n, reader->piece);
          !st)
        return toError(st);
      reader->offset += reader->piece.size();
      if (reader->inflater->feed(reader->piece, reader->decoded) != Inflate::Ok)
        return toError(internal("the attachment's gzip body does not decode"));
      if (reader->offset == a.storedLength && reader->inflater->finish() != Inflate::Ok)
        return toError(internal("the attachment's gzip body is truncated"));
    }
    const size_t n = std::min(capacity, reader->decoded.size() - reader->decodedAt);
    std::memcpy(buffer, reader->decoded.data() + reader->decodedAt, n);
    reader->decodedAt += n;
    *out_read = n;
    return nullptr;
  });
}

void settee_attachment_reader_free(settee_attachment_reader* reader) {
  settee::capi::guardVoid([&] { delete reader; });
}

settee_error* settee_db_begin_attachment(settee_db* db, const char* doc_id, const char* name, const char* rev,
                                         const char* content_type, settee_attachment_writer** out_writer) {
  return guard([&]() -> settee_error* {
    if (out_writer) *out_writer = nullptr;
    if (!db || !doc_id || !out_writer)
      return badArgument("settee_db_begin_attachment needs db, doc_id, name and out_writer");
    if (Status st = checkName(name); !st) return toError(st);
    if (Status st = checkRev(rev); !st) return toError(st);
    auto writer = std::make_unique<settee_attachment_writer>();
    writer->db = db->db;
    writer->id = doc_id;
    writer->name = name;
    writer->contentType = content_type && *content_type ? content_type : "application/octet-stream";
    if (rev) writer->rev = rev;
    // In the data directory (on disk, unlike a /tmp that may be memory), unlinked at once.
    std::string path = db->dir->path() + "/.settee-attachment-XXXXXX";
    writer->file = std::make_shared<SpoolFile>();
    writer->file->fd = ::mkstemp(path.data());
    if (writer->file->fd < 0)
      return toError(
          internal("cannot make an attachment spool in " + db->dir->path() + ": " + std::strerror(errno)));
    ::unlink(path.c_str());
    *out_writer = writer.release();
    return nullptr;
  });
}

settee_error* settee_attachment_write(settee_attachment_writer* writer, const void* data, size_t length) {
  return guard([&]() -> settee_error* {
    if (!writer || (!data && length > 0)) return badArgument("settee_attachment_write needs writer and data");
    if (writer->spent) return badArgument("the attachment writer was committed");
    const char* p = static_cast<const char*>(data);
    while (length > 0) {
      ssize_t n = ::write(writer->file->fd, p, length);
      if (n < 0) {
        if (errno == EINTR) continue;
        return toError(internal(std::string("cannot write the attachment spool: ") + std::strerror(errno)));
      }
      p += n;
      length -= static_cast<size_t>(n);
      writer->written += static_cast<uint64_t>(n);
    }
    return nullptr;
  });
}

settee_error* settee_attachment_commit(settee_attachment_writer* writer, char** out_rev) {
  return guard([&]() -> settee_error* {
    if (out_rev) *out_rev = nullptr;
    if (!writer) return badArgument("settee_attachment_commit needs writer");
    if (writer->spent) return badArgument("the attachment writer was committed");
    writer->spent = true;
    auto json = withAttachment(*writer->db, writer->id, writer->name.c_str(),
                               writer->rev ? writer->rev->c_str() : nullptr, writer->contentType);
    if (!json) return toError(json.status());
    std::vector<settee::AttachmentBody> bodies;
    bodies.push_back({writer->name, {}, std::make_shared<SpoolSource>(writer->file, writer->written)});
    auto written = writer->db->put(*json, {.id = writer->id}, std::move(bodies));
    if (!written) return toError(written.status());
    if (out_rev) *out_rev = copyOut(written->rev);
    return nullptr;
  });
}

void settee_attachment_writer_free(settee_attachment_writer* writer) {
  settee::capi::guardVoid([&] { delete writer; });
}

settee_error* settee_db_put_attachment(settee_db* db, const char* doc_id, const char* name, const char* rev,
                                       const char* content_type, const void* data, size_t length,
                                       char** out_rev) {
  return guard([&]() -> settee_error* {
    if (out_rev) *out_rev = nullptr;
    if (!db || !doc_id || (!data && length > 0))
      return badArgument("settee_db_put_attachment needs db, doc_id and data");
    if (Status st = checkName(name); !st) return toError(st);
    if (Status st = checkRev(rev); !st) return toError(st);
    std::string type = content_type && *content_type ? content_type : "application/octet-stream";
    auto json = withAttachment(*db->db, doc_id, name, rev, type);
    if (!json) return toError(json.status());
    std::vector<settee::AttachmentBody> bodies;
    bodies.push_back({name, std::string(static_cast<const char*>(data), length), nullptr});
    auto written = db->db->put(*json, {.id = doc_id}, std::move(bodies));
    if (!written) return toError(written.status());
    if (out_rev) *out_rev = copyOut(written->rev);
    return nullptr;
  });
}

settee_error* settee_db_delete_attachment(settee_db* db, const char* doc_id, const char* name,
                                          const char* rev, char** out_rev) {
  return guard([&]() -> settee_error* {
    if (out_rev) *out_rev = nullptr;
    if (!db || !doc_id || !name || !rev)
      return badArgument("settee_db_delete_attachment needs db, doc_id, name and rev");
    if (Status st = checkRev(rev); !st) return toError(st);
    bool found = false;
    auto json = editedDoc(*db->db, doc_id, rev, [&](settee::db::JsonWriter& w, simdjson::dom::object* atts) {
      if (!atts) return;
      bool others = false;
      for (auto field : *atts) {
        if (field.key == name)
          found = true;
        else
          others = true;
      }
      if (!others) return;
      settee::db::writeKey(w, "_attachments");
      w.StartObject();
      for (auto field : *atts) {
        if (field.key == name) continue;
        settee::db::writeKey(w, field.key);
        settee::db::writeElement(w, field.value);
      }
      w.EndObject();
    });
    if (!json) return toError(json.status());
    if (!found) return toError(settee::notFound("Document is missing attachment"));
    auto written = db->db->put(*json, {.id = doc_id});
    if (!written) return toError(written.status());
    if (out_rev) *out_rev = copyOut(written->rev);
    return nullptr;
  });
}

}  // extern "C"
