// The C API's databases (settee.h, "Databases"): open, close, info, delete.
#include <filesystem>

#include "capi/capi_internal.h"
#include "capi/options.h"
#include "http/api.h"
#include "http/handlers/db_info.h"

using settee::capi::badArgument;
using settee::capi::copyOut;
using settee::capi::guard;
using settee::capi::toError;

namespace {

struct OpenOptions {
  settee::DatabaseOptions db;
  bool createIfMissing = true;
  std::optional<uint64_t> revsLimit;
};

settee::Result<OpenOptions> parseOpenOptions(const char* json) {
  auto req = settee::capi::optionsRequest(
      json, {"create_if_missing", "revs_limit", "max_document_size", "sync_full", "exclusive"});
  if (!req) return req.status();
  OpenOptions o;
  struct Flag {
    const char* name;
    bool* out;
  };
  for (Flag f : {Flag{"create_if_missing", &o.createIfMissing}, Flag{"sync_full", &o.db.syncFull},
                 Flag{"exclusive", &o.db.exclusive}}) {
    auto v = settee::http::boolParam(*req, f.name, *f.out);
    if (!v) return v.status();
    *f.out = *v;
  }
  auto size = settee::http::uintParam(*req, "max_document_size", o.db.maxDocumentSize);
  if (!size) return size.status();
  o.db.maxDocumentSize = static_cast<size_t>(*size);
  if (req->param("revs_limit")) {
    auto limit = settee::http::uintParam(*req, "revs_limit", 0);
    if (!limit) return limit.status();
    if (*limit == 0 || *limit > UINT32_MAX)
      return settee::badRequest("revs_limit must be a positive integer");
    o.revsLimit = *limit;
  }
  o.db.createIfMissing = o.createIfMissing;
  return o;
}

}  // namespace

extern "C" {

settee_error* settee_db_open(const char* dir, const char* name, const char* options_json,
                             settee_db** out_db) {
  return guard([&]() -> settee_error* {
    if (out_db) *out_db = nullptr;
    if (!dir || !name || !out_db) return badArgument("settee_db_open needs dir, name and out_db");
    auto options = parseOpenOptions(options_json);
    if (!options) return toError(options.status());
    // The name is checked before anything touches the disk (a bad name makes no directory).
    if (!settee::DataDir::validName(name))
      return toError(
          {settee::ErrorCode::IllegalDatabaseName,
           "Name: '" + std::string(name) +
               "'. Only lowercase "
               "characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are "
               "allowed. Must begin with a letter."});
    std::error_code ec;
    if (options->createIfMissing) std::filesystem::create_directories(dir, ec);
    if (ec)
      return toError(
          {settee::ErrorCode::Internal, "cannot create " + std::string(dir) + ": " + ec.message()});
    // The directory's DataDir is shared by every handle and node on it; the options given by the first
    // opener are its defaults (a database's own settings, such as revs_limit, persist in its file).
    auto data = settee::capi::dataDir(dir, options->db);
    auto opened = data->open(name);
    bool created = false;
    if (!opened && opened.status().code() == settee::ErrorCode::NotFound && options->createIfMissing) {
      opened = data->create(name);
      created = opened.isOk();
      if (!opened && opened.status().code() == settee::ErrorCode::FileExists) opened = data->open(name);
    }
    if (!opened) return toError(opened.status());
    if (created && options->revsLimit) {
      if (settee::Status st = (*opened)->setRevsLimit(static_cast<uint32_t>(*options->revsLimit)); !st)
        return toError(st);
    }
    auto handle = std::make_unique<settee_db>();
    handle->dir = std::move(data);
    handle->db = std::move(*opened);
    handle->name = name;
    *out_db = handle.release();
    return nullptr;
  });
}

void settee_db_close(settee_db* db) {
  settee::capi::guardVoid([&] { delete db; });
}

const char* settee_db_name(const settee_db* db) { return db ? db->name.c_str() : ""; }

settee_error* settee_db_info(settee_db* db, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !out_json) return badArgument("settee_db_info needs db and out_json");
    auto info = db->db->info();
    if (!info) return toError(info.status());
    *out_json = copyOut(
        settee::http::writeJson([&](settee::db::JsonWriter& w) { settee::http::writeDbInfo(w, *info); }));
    return nullptr;
  });
}

settee_error* settee_db_delete_database(settee_db* db) {
  return guard([&]() -> settee_error* {
    if (!db) return badArgument("settee_db_delete_database needs db");
    return toError(db->dir->remove(db->name));
  });
}

}  // extern "C"
