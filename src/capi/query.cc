// The C API's Mango queries and indexes (settee.h, "Mango queries and indexes"): `_find` bodies read by
// the same parser as POST /{db}/_find, run through Database::find a page at a time behind a cursor.
#include <algorithm>
#include <mutex>

#include "capi/capi_internal.h"
#include "capi/cursor.h"
#include "capi/options.h"
#include "db/mango_find.h"
#include "db/mango_pages.h"
#include "http/api.h"
#include "http/handlers/index_json.h"

namespace settee::capi {
namespace {

using db::JsonWriter;
using db::writeKey;
using db::writeString;

// Rows per page a find cursor reads: each page is one short hold of the database, and the cursor never
// holds more than a page whatever the limit (CouchDB's own page for `_find` over HTTP is the same size).
constexpr uint64_t kFindPage = 1000;

// A `_find` result a page at a time (db/mango_pages.h). The first page is read when the cursor is made,
// so a bad query (no_usable_index is only known once planned) is the error of settee_db_find itself,
// before any row.
class FindSource : public RowSource {
 public:
  FindSource(std::shared_ptr<Database> db, db::FindQuery query)
      : db_(std::move(db)), pages_(std::move(query)) {}

  Status prime() { return read(primed_, primedMore_); }

  Status nextPage(std::vector<std::string>& rows, bool& more) override {
    if (havePrimed_) {
      havePrimed_ = false;
      rows.swap(primed_);
      more = primedMore_;
      return Status::ok();
    }
    return read(rows, more);
  }

  Result<std::string> summary() override {
    return http::writeJson([&](JsonWriter& w) {
      w.StartObject();
      writeKey(w, "bookmark");
      writeString(w, pages_.bookmark());
      if (pages_.query().options.executionStats) {
        writeKey(w, "execution_stats");
        pages_.writeExecutionStats(w);
      }
      std::string warning = pages_.warning();
      if (!warning.empty()) {
        writeKey(w, "warning");
        writeString(w, warning);
      }
      w.EndObject();
    });
  }

 private:
  Status read(std::vector<std::string>& rows, bool& more) {
    db::FindQuery q = pages_.next(kFindPage);
    uint64_t sent = 0;
    auto ran = db_->find(q.selectorJson, q.options, [&](std::string_view doc) {
      rows.emplace_back(doc);
      ++sent;
      return true;
    });
    if (!ran) return ran.status();
    more = pages_.record(*ran, sent, q.options.limit);
    return Status::ok();
  }

  std::shared_ptr<Database> db_;
  db::FindPages pages_;
  std::vector<std::string> primed_;  // the first page, read by prime()
  bool primedMore_ = false;
  bool havePrimed_ = true;
};

std::string designId(std::string_view ddoc) {
  return ddoc.rfind("_design/", 0) == 0 ? std::string(ddoc) : "_design/" + std::string(ddoc);
}

}  // namespace
}  // namespace settee::capi

// A live query's handle: the C++ handle, whose destruction unregisters the query and waits for a
// running callback (live_query.h).
struct settee_live_query {
  std::unique_ptr<settee::LiveQuery> query;
};

using namespace settee;
using namespace settee::capi;

extern "C" {

settee_error* settee_db_find(settee_db* db, const char* query_json, settee_cursor** out_cursor) {
  return guard([&]() -> settee_error* {
    if (out_cursor) *out_cursor = nullptr;
    if (!db || !query_json || !out_cursor)
      return badArgument("settee_db_find needs a database, a query and out_cursor");
    auto query = db::parseFindRequest(query_json);
    if (!query) return toError(query.status());
    auto source = std::make_unique<FindSource>(db->db, std::move(*query));
    if (Status st = source->prime(); !st) return toError(st);
    *out_cursor = newCursor(std::move(source));
    return nullptr;
  });
}

settee_error* settee_db_create_index(settee_db* db, const char* index_json, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !index_json) return badArgument("settee_db_create_index needs a database and an index");
    auto def = db::parseIndexRequest(index_json);
    if (!def) return toError(def.status());
    auto created = db->db->createIndex(*def);
    if (!created) return toError(created.status());
    if (out_json) {
      *out_json = copyOut(http::writeJson([&](JsonWriter& w) { http::writeIndexCreated(w, *created); }));
    }
    return nullptr;
  });
}

settee_error* settee_db_indexes(settee_db* db, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !out_json) return badArgument("settee_db_indexes needs a database and out_json");
    auto list = db->db->indexes();
    if (!list) return toError(list.status());
    *out_json = copyOut(http::writeJson([&](JsonWriter& w) {
      w.StartObject();
      writeKey(w, "total_rows");
      w.Uint64(list->size());
      writeKey(w, "indexes");
      w.StartArray();
      for (const auto& index : *list) db::writeIndexInfo(w, index);
      w.EndArray();
      w.EndObject();
    }));
    return nullptr;
  });
}

settee_error* settee_db_delete_index(settee_db* db, const char* ddoc, const char* name) {
  return guard([&]() -> settee_error* {
    if (!db || !ddoc || !name)
      return badArgument("settee_db_delete_index needs a database, a ddoc and a name");
    return toError(db->db->deleteIndex(designId(ddoc), name));
  });
}

settee_error* settee_db_live_query(settee_db* db, const char* query_json, settee_live_query_fn fn,
                                   void* context, settee_live_query** out_query) {
  return guard([&]() -> settee_error* {
    if (out_query) *out_query = nullptr;
    if (!db || !query_json || !fn || !out_query)
      return badArgument("settee_db_live_query needs a database, a query, a callback and out_query");
    auto query = db::parseFindRequest(query_json);
    if (!query) return toError(query.status());
    auto handle = std::make_unique<settee_live_query>();
    auto live =
        db->db->liveQuery(query->selectorJson, query->options, [fn, context](const LiveResult& result) {
          guardVoid([&] {
            std::string json = http::writeJson([&](JsonWriter& w) {
              w.StartObject();
              writeKey(w, "docs");
              w.StartArray();
              for (const auto& doc : result.docs) db::writeRaw(w, doc);
              w.EndArray();
              writeKey(w, "update_seq");
              w.Uint64(result.updateSeq);
              w.EndObject();
            });
            fn(context, json.c_str());
          });
        });
    if (!live) return toError(live.status());
    handle->query = std::move(*live);
    *out_query = handle.release();
    return nullptr;
  });
}

void settee_live_query_free(settee_live_query* query) {
  guardVoid([&] { delete query; });
}

}  // extern "C"
