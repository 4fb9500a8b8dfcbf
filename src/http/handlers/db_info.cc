// The info object of a database, and POST /_dbs_info.
#include "http/handlers/db_info.h"

#include <algorithm>

#include "http/handlers/bulk_internal.h"

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

Result<std::vector<std::string>> selectDbNames(const Request& req, DataDir& data) {
  auto limit = uintParam(req, "limit", UINT64_MAX);
  if (!limit) return limit.status();
  auto skip = uintParam(req, "skip", 0);
  if (!skip) return skip.status();
  auto descending = boolParam(req, "descending", false);
  if (!descending) return descending.status();
  auto inclusiveEnd = boolParam(req, "inclusive_end", true);
  if (!inclusiveEnd) return inclusiveEnd.status();
  std::optional<std::string> bounds[2];
  const char* names[2][2] = {{"startkey", "start_key"}, {"endkey", "end_key"}};
  for (int i = 0; i < 2; ++i) {
    for (const char* name : names[i]) {
      simdjson::dom::parser parser;
      auto v = jsonParam(req, name, parser);
      if (!v) return v.status();
      if (!*v) continue;
      std::string_view s;
      if ((**v).get(s)) return badRequest(std::string("Invalid JSON string in query parameter ") + name);
      bounds[i].emplace(s);
    }
  }
  auto listed = data.list();
  if (!listed) return listed.status();
  std::vector<std::string> all = std::move(*listed);
  if (*descending) std::reverse(all.begin(), all.end());
  auto before = [&](const std::string& a, const std::string& b) { return *descending ? a > b : a < b; };
  std::vector<std::string> kept;
  uint64_t skipped = 0;
  for (auto& name : all) {
    if (bounds[0] && before(name, *bounds[0])) continue;
    if (bounds[1] && (before(*bounds[1], name) || (!*inclusiveEnd && name == *bounds[1]))) continue;
    if (skipped < *skip) {
      ++skipped;
      continue;
    }
    if (kept.size() >= *limit) break;
    kept.push_back(std::move(name));
  }
  return kept;
}

namespace {

// Databases opened and described per page of GET /_dbs_info.
constexpr size_t kDbsPerPage = 50;

class AllDbsInfoSource : public detail::PageSource {
 public:
  explicit AllDbsInfoSource(std::shared_ptr<Call> call) : call_(std::move(call)) {}

  Status page(std::string& out, bool& done) override {
    if (!started_) {
      if (Status st = select(); !st) return st;
      started_ = true;
      out += '[';
    }
    for (size_t n = 0; next_ < names_.size() && n < kDbsPerPage; ++n, ++next_) {
      auto opened = call_->svc->data->open(names_[next_]);
      // A database deleted since the listing is left out, as CouchDB leaves it out.
      if (!opened && opened.status().code() == ErrorCode::NotFound) continue;
      if (!opened) return opened.status();
      auto info = (*opened)->info();
      if (!info) return info.status();
      if (!first_) out += ',';
      first_ = false;
      out += writeJson([&](db::JsonWriter& w) {
        w.StartObject();
        writeKey(w, "key");
        writeString(w, names_[next_]);
        writeKey(w, "info");
        writeDbInfo(w, *info);
        w.EndObject();
      });
    }
    if (next_ == names_.size()) {
      out += ']';
      done = true;
    }
    return Status::ok();
  }

 private:
  Status select() {
    auto names = selectDbNames(call_->req, *call_->svc->data);
    if (!names) return names.status();
    names_ = std::move(*names);
    return Status::ok();
  }

  std::shared_ptr<Call> call_;
  bool started_ = false;
  bool first_ = true;
  std::vector<std::string> names_;
  size_t next_ = 0;
};

}  // namespace

void allDbsInfo(std::shared_ptr<Call> call) {
  auto source = std::make_shared<AllDbsInfoSource>(call);
  detail::streamPages(std::move(call), std::move(source));
}

}  // namespace settee::http
