// The info object of a database, and POST /_dbs_info.
#include "http/handlers/db_info.h"

namespace settee::http {

using db::writeKey;
using db::writeString;

void writeDbInfo(db::JsonWriter& w, const DatabaseInfo& info) {
  w.StartObject();
  writeKey(w, "db_name");
  writeString(w, info.name);
  writeKey(w, "update_seq");
  w.Uint64(info.updateSeq);
  writeKey(w, "purge_seq");
  w.Uint64(info.purgeSeq);
  writeKey(w, "doc_count");
  w.Uint64(info.docCount);
  writeKey(w, "doc_del_count");
  w.Uint64(info.docDelCount);
  writeKey(w, "sizes");
  w.StartObject();
  writeKey(w, "file");
  w.Uint64(info.fileSize);
  writeKey(w, "external");
  w.Uint64(info.activeSize);
  writeKey(w, "active");
  w.Uint64(info.activeSize);
  w.EndObject();
  writeKey(w, "compact_running");
  w.Bool(false);
  writeKey(w, "instance_start_time");
  writeString(w, info.instanceStartTime);
  writeKey(w, "disk_format_version");
  w.Uint(8);
  writeKey(w, "cluster");
  w.StartObject();
  for (const char* k : {"q", "n", "w", "r"}) {
    writeKey(w, k);
    w.Uint(1);
  }
  w.EndObject();
  writeKey(w, "props");
  w.StartObject();
  w.EndObject();
  w.EndObject();
}

Response dbsInfo(Call& call) {
  simdjson::dom::parser parser;
  auto body = jsonBody(call.req, parser);
  if (!body) return errorResponse(body.status());
  simdjson::dom::object obj;
  if ((*body).get(obj)) return errorResponse(badRequest("Request body must be a JSON object"));
  simdjson::dom::element keys;
  if (obj["keys"].get(keys)) return errorResponse(badRequest("`keys` member must exist."));
  simdjson::dom::array names;
  if (keys.get(names)) return errorResponse(badRequest("`keys` member must be an array."));
  if (names.size() > call.svc->config->maxDbsInfoKeys) return errorResponse(badRequest("too_many_keys"));
  // The cap bounds the answer (a few hundred bytes per name), so it is built whole.
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  w.StartArray();
  for (simdjson::dom::element key : names) {
    w.StartObject();
    writeKey(w, "key");
    db::writeElement(w, key);
    // As in CouchDB, a name that is not a string or not a valid database name names no database.
    std::string_view name;
    Result<std::shared_ptr<Database>> opened = notFound();
    if (!key.get(name) && DataDir::validName(name)) opened = call.svc->data->open(std::string(name));
    const ErrorCode failed = opened.status().code();
    if (failed != ErrorCode::Ok && failed != ErrorCode::NotFound && failed != ErrorCode::IllegalDatabaseName)
      return errorResponse(opened.status());  // a storage failure is not an absent database
    if (opened) {
      auto info = (*opened)->info();
      if (!info) return errorResponse(info.status());
      writeKey(w, "info");
      writeDbInfo(w, *info);
    } else {
      writeKey(w, "error");
      writeString(w, "not_found");
    }
    w.EndObject();
  }
  w.EndArray();
  return Response::json(200, std::string(db::bufferView(buf)));
}

}  // namespace settee::http
