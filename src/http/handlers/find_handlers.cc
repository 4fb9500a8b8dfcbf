// Mango endpoints: POST /{db}/_find and /{db}/_explain, GET/POST /{db}/_index, DELETE
// /{db}/_index/{ddoc}/json/{name}, POST /{db}/_index/_bulk_delete.
//
// The body of `_find` keeps CouchDB's layout, a document a line, then the page's bookmark and what CouchDB
// adds after it (execution_stats, warning):
//   {"docs":[
//   {...},
//   {...}
//   ],
//   "bookmark": "...",
//   "warning": "..."}
// Readers of the database may query it; creating or deleting an index writes a design document, which
// takes a database admin, as in CouchDB.
#include <algorithm>
#include <optional>

#include "db/database_internal.h"
#include "db/mango_find.h"
#include "db/mango_pages.h"
#include "http/handlers/bulk_internal.h"
#include "http/handlers/handlers.h"
#include "http/handlers/index_json.h"

namespace settee::http {
namespace {

using db::JsonWriter;
using db::writeKey;
using db::writeString;

Status requireJson(const Request& req) {
  const std::string* type = req.header("Content-Type");
  if (!type || type->find("application/json") == std::string::npos)
    return Status(ErrorCode::BadContentType, "Content-Type must be application/json");
  return Status::ok();
}

// `"key": value` after what came before, as CouchDB appends the members that follow the documents.
template <class F>
void appendMember(std::string& out, std::string_view key, F&& value) {
  out += ",\n";
  out += writeJson([&](JsonWriter& w) { writeString(w, key); });
  out += ": ";
  out += writeJson(value);
}

// Rows per page of a `_find` answer, and the bytes after which a page ends early: each page is one short
// hold of the store, and a large answer is never whole in memory (paged_stream.cc holds the pages back
// while a slow client has not taken the ones before).
constexpr uint64_t kRowsPerPage = 1000;
constexpr size_t kPageBytes = 512 * 1024;

// The answer a page at a time (db/mango_pages.h): a page ends at kRowsPerPage rows or once it passes
// kPageBytes.
class FindSource : public detail::PageSource {
 public:
  explicit FindSource(std::shared_ptr<Call> call) : call_(std::move(call)) {}

  Status page(std::string& out, bool& done) override {
    if (!pages_) {
      if (Status st = requireJson(call_->req); !st) return st;
      auto parsed = db::parseFindRequest(call_->req.body);
      if (!parsed) return parsed.status();
      pages_.emplace(std::move(*parsed));
      out += "{\"docs\":[";
    }
    db::FindQuery q = pages_->next(kRowsPerPage);
    bool full = false;
    uint64_t sent = 0;
    auto ran = db::runFind(db::storeOf(*call_->db), q, [&](std::string_view doc) {
      out += firstRow_ ? "\n" : ",\n";
      firstRow_ = false;
      out.append(doc);
      ++sent;
      full = out.size() >= kPageBytes;
      return !full;
    });
    if (!ran) return ran.status();
    const bool more = pages_->record(*ran, sent, q.options.limit);
    if (more || (full && pages_->remaining() > 0)) return Status::ok();
    finish(out);
    done = true;
    return Status::ok();
  }

 private:
  // The members after the documents, in CouchDB's order.
  void finish(std::string& out) {
    out += "\n],\n\"bookmark\": ";
    out += writeJson([&](JsonWriter& w) { writeString(w, pages_->bookmark()); });
    if (pages_->query().options.executionStats)
      appendMember(out, "execution_stats", [&](JsonWriter& w) { pages_->writeExecutionStats(w); });
    std::string warning = pages_->warning();
    if (!warning.empty()) appendMember(out, "warning", [&](JsonWriter& w) { writeString(w, warning); });
    out += "}\n";
  }

  std::shared_ptr<Call> call_;
  std::optional<db::FindPages> pages_;  // made on the first page, from the request's body
  bool firstRow_ = true;
};

void find(std::shared_ptr<Call> call) {
  auto source = std::make_shared<FindSource>(call);
  detail::streamPages(std::move(call), std::move(source));
}

Response explain(Call& call) {
  if (Status st = requireJson(call.req); !st) return errorResponse(st);
  auto query = db::parseFindRequest(call.req.body);
  if (!query) return errorResponse(query.status());
  db::JsonBuffer buf;
  JsonWriter w(buf);
  if (Status st = db::writeExplain(db::storeOf(*call.db), *query, call.dbName, w); !st)
    return errorResponse(st);
  return Response::json(200, std::string(db::bufferView(buf)));
}

Response listIndexes(Call& call) {
  auto skip = uintParam(call.req, "skip", 0);
  if (!skip) return errorResponse(skip.status());
  auto limit = uintParam(call.req, "limit", UINT64_MAX);
  if (!limit) return errorResponse(limit.status());
  auto list = call.db->indexes();
  if (!list) return errorResponse(list.status());
  const std::vector<IndexInfo>& all = *list;  // the special index first (Database::indexes)
  return Response::json(200, writeJson([&](JsonWriter& w) {
                          w.StartObject();
                          writeKey(w, "total_rows");
                          w.Uint64(all.size());
                          writeKey(w, "indexes");
                          w.StartArray();
                          for (uint64_t i = *skip, n = 0; i < all.size() && n < *limit; ++i, ++n)
                            db::writeIndexInfo(w, all[i]);
                          w.EndArray();
                          w.EndObject();
                        }));
}

Response createIndex(Call& call) {
  if (Status st = requireJson(call.req); !st) return errorResponse(st);
  auto def = db::parseIndexRequest(call.req.body);
  if (!def) return errorResponse(def.status());
  auto created = call.db->createIndex(*def);
  if (!created) return errorResponse(created.status());
  return Response::json(200, writeJson([&](JsonWriter& w) { writeIndexCreated(w, *created); }));
}

std::string designId(std::string_view ddoc) {
  return ddoc.rfind("_design/", 0) == 0 ? std::string(ddoc) : "_design/" + std::string(ddoc);
}

Response deleteIndex(Call& call) {
  if (call.params["type"] != "json") return errorResponse(404, "not_found", "Index not found");
  if (Status st = call.db->deleteIndex(designId(call.params["ddoc"]), call.params["name"]); !st)
    return errorResponse(st);
  return jsonOk(200);
}

// {"docids": ["_design/a", "b"]}: every json index of those design documents goes.
Response bulkDeleteIndexes(Call& call) {
  if (Status st = requireJson(call.req); !st) return errorResponse(st);
  simdjson::dom::parser parser;
  auto body = jsonBody(call.req, parser);
  if (!body) return errorResponse(body.status());
  simdjson::dom::array ids;
  if ((*body)["docids"].get(ids) != simdjson::SUCCESS)
    return errorResponse(
        Status(ErrorCode::BadRequest, "Missing required key: docids", "missing_required_key"));
  auto list = call.db->indexes();
  if (!list) return errorResponse(list.status());
  std::vector<std::pair<std::string, Status>> results;
  for (simdjson::dom::element e : ids) {
    std::string_view id;
    if (e.get(id) != simdjson::SUCCESS) {
      return errorResponse(
          Status(ErrorCode::BadRequest,
                 "Bulk Delete requires an array of non-null docids. Docids: " + db::toJson(*body),
                 "invalid_bulk_docs"));
    }
    std::string ddoc = designId(id);
    Status outcome = notFound("Index not found");
    for (const auto& index : *list) {
      if (index.ddoc != ddoc) continue;
      outcome = call.db->deleteIndex(ddoc, index.name);
      if (!outcome) break;
    }
    results.emplace_back(ddoc, outcome);
  }
  return Response::json(200, writeJson([&](JsonWriter& w) {
                          w.StartObject();
                          writeKey(w, "success");
                          w.StartArray();
                          for (const auto& [id, st] : results) {
                            if (!st) continue;
                            w.StartObject();
                            writeKey(w, "id");
                            writeString(w, id);
                            writeKey(w, "ok");
                            w.Bool(true);
                            w.EndObject();
                          }
                          w.EndArray();
                          writeKey(w, "fail");
                          w.StartArray();
                          for (const auto& [id, st] : results) {
                            if (st) continue;
                            w.StartObject();
                            writeKey(w, "id");
                            writeString(w, id);
                            writeKey(w, "error");
                            writeString(w, st.error());
                            w.EndObject();
                          }
                          w.EndArray();
                          w.EndObject();
                        }));
}

}  // namespace

void writeIndexCreated(JsonWriter& w, const IndexCreated& created) {
  w.StartObject();
  writeKey(w, "result");
  writeString(w, created.created ? "created" : "exists");
  writeKey(w, "id");
  writeString(w, created.id);
  writeKey(w, "name");
  writeString(w, created.name);
  w.EndObject();
}

void registerFindRoutes(Api& api) {
  api.async("POST", "/{db}/_find", Access::Reader, find);
  api.sync("POST", "/{db}/_explain", Access::Reader, explain);
  api.sync("GET", "/{db}/_index", Access::Reader, listIndexes);
  api.sync("POST", "/{db}/_index", Access::DbAdmin, createIndex);
  api.sync("POST", "/{db}/_index/_bulk_delete", Access::DbAdmin, bulkDeleteIndexes);
  api.sync("DELETE", "/{db}/_index/{ddoc}/{type}/{name}", Access::DbAdmin, deleteIndex);
  api.sync("DELETE", "/{db}/_index/_design/{ddoc}/{type}/{name}", Access::DbAdmin, deleteIndex);
}

}  // namespace settee::http
