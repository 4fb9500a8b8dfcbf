// The view family: GET|POST /{db}/_design/{ddoc}/_view/{view}, POST .../_view/{view}/queries,
// GET /{db}/_design/{ddoc}/_info, POST /{db}/_view_cleanup, POST /{db}/_compact/{ddoc} and the retired
// POST /{db}/_temp_view, as CouchDB 3.4 answers them. Queries are streamed a page at a time (view_rows.cc);
// the index is brought up to date on the thread pool by the first page.
#include <set>

#include "http/design_functions.h"
#include "http/handlers/bulk_internal.h"
#include "http/handlers/handlers.h"
#include "http/handlers/view_internal.h"
#include "http/views.h"

namespace settee::http {
namespace detail {

Result<ViewTarget> openViewTarget(Services& svc, const std::shared_ptr<Database>& db, const std::string& ddoc,
                                  const std::string& name) {
  if (!svc.views || !svc.design) return Status(ErrorCode::Internal, "this node serves no views");
  const std::string id = "_design/" + ddoc;
  auto json = db->get(id);
  if (!json) return json.status();
  auto spec = db::parseViewGroup(id, *json);
  if (!spec) return spec.status();
  ViewTarget t;
  t.db = db;
  t.registry = svc.views;
  t.design = svc.design;
  auto found = std::find_if(spec->views.begin(), spec->views.end(),
                            [&](const db::ViewDef& v) { return v.name == name; });
  if (found == spec->views.end()) return notFound("missing_named_view");
  if (Status st = checkViewLanguage(*spec); !st) return st;
  t.view = static_cast<size_t>(found - spec->views.begin());
  t.spec = std::move(*spec);
  auto index = svc.views->index(db, t.spec);
  if (!index) return index.status();
  t.index = std::move(*index);
  return t;
}

}  // namespace detail

namespace {

using detail::ViewAnswer;
using detail::ViewQuery;
using detail::ViewTarget;

// GET|POST /{db}/_design/{ddoc}/_view/{view}: one answer.
class ViewSource : public detail::PageSource {
 public:
  explicit ViewSource(std::shared_ptr<Call> call) : call_(std::move(call)) {}

  Status page(std::string& out, bool& done) override {
    if (!answer_) {
      Call& c = *call_;
      auto target = detail::openViewTarget(*c.svc, c.db, c.params["ddoc"], c.params["view"]);
      if (!target) return target.status();
      auto q = detail::parseViewRequest(c.req, c.req.method == "POST");
      if (!q) return q.status();
      if (Status st = detail::validateViewQuery(*q, *target); !st) return st;
      answer_.emplace(std::make_shared<ViewTarget>(std::move(*target)), std::move(*q));
    }
    return answer_->page(out, done);
  }

 private:
  std::shared_ptr<Call> call_;
  std::optional<ViewAnswer> answer_;
};

// POST .../_view/{view}/queries: {"results":[answer,\r\n answer ...]}. Every entry is checked before
// the first byte goes out, so a bad entry is the whole answer.
class QueriesSource : public detail::PageSource {
 public:
  explicit QueriesSource(std::shared_ptr<Call> call) : call_(std::move(call)) {}

  Status page(std::string& out, bool& done) override {
    if (!target_) {
      Call& c = *call_;
      auto target = detail::openViewTarget(*c.svc, c.db, c.params["ddoc"], c.params["view"]);
      if (!target) return target.status();
      auto queries = detail::parseViewQueries(c.req);
      if (!queries) return queries.status();
      for (const ViewQuery& q : *queries) {
        if (Status st = detail::validateViewQuery(q, *target); !st) return st;
      }
      queries_ = std::move(*queries);
      target_ = std::make_shared<ViewTarget>(std::move(*target));
      out += "{\"results\":[";
    }
    while (next_ < queries_.size()) {
      if (!current_) {
        out += next_ > 0 ? ",\r\n" : "\r\n";
        // The index is brought up to date once, by the first query that asks.
        if (next_ > 0 && queries_[next_].update == detail::ViewUpdate::Now && updated_)
          queries_[next_].update = detail::ViewUpdate::Never;
        updated_ = updated_ || queries_[next_].update == detail::ViewUpdate::Now;
        current_.emplace(target_, std::move(queries_[next_]));
      }
      bool finished = false;
      if (Status st = current_->page(out, finished); !st) return st;
      if (!finished) return Status::ok();
      current_.reset();
      ++next_;
    }
    out += "\r\n]}";
    done = true;
    return Status::ok();
  }

 private:
  std::shared_ptr<Call> call_;
  std::shared_ptr<ViewTarget> target_;
  std::vector<ViewQuery> queries_;
  size_t next_ = 0;
  bool updated_ = false;
  std::optional<ViewAnswer> current_;
};

void viewQuery(std::shared_ptr<Call> call) {
  auto source = std::make_shared<ViewSource>(call);
  detail::streamPages(std::move(call), std::move(source));
}

void viewQueries(std::shared_ptr<Call> call) {
  auto source = std::make_shared<QueriesSource>(call);
  detail::streamPages(std::move(call), std::move(source));
}

// The changes of `db` after `since` (_info's updates_pending): the documents an update would map.
Result<uint64_t> pendingChanges(Database& db, uint64_t since) {
  uint64_t n = 0;
  ChangesOptions options;
  options.since = since;
  auto read = db.changes(options, [&](const Change&) {
    ++n;
    return true;
  });
  if (!read) return read.status();
  return n;
}

// GET /{db}/_design/{ddoc}/_info: the view group's index, as couch_mrview:get_info describes it.
Response designInfo(Call& call) {
  if (!call.svc->views) return errorResponse(Status(ErrorCode::Internal, "this node serves no views"));
  const std::string& ddoc = call.params["ddoc"];
  const std::string id = "_design/" + ddoc;
  auto json = call.db->get(id);
  if (!json) return errorResponse(json.status());
  auto spec = db::parseViewGroup(id, *json);
  if (!spec) return errorResponse(spec.status());
  auto index = call.svc->views->index(call.db, *spec);
  if (!index) return errorResponse(index.status());
  db::ViewIndex& ix = **index;
  auto sizes = ix.sizes();
  if (!sizes) return errorResponse(sizes.status());
  const uint64_t seq = ix.updateSeq();
  auto pending = pendingChanges(*call.db, seq);
  if (!pending) return errorResponse(pending.status());
  auto info = call.db->info();
  if (!info) return errorResponse(info.status());
  const bool running = ix.updating();
  const uint64_t waiting = call.svc->views->waiting(ix);
  std::string body = writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    db::writeKey(w, "name");
    db::writeString(w, ddoc);
    db::writeKey(w, "view_index");
    w.StartObject();
    db::writeKey(w, "updates_pending");
    w.StartObject();
    // One node holds every shard: what a minimum and a preferred replica would have to
    // map alike.
    for (const char* k : {"minimum", "preferred", "total"}) {
      db::writeKey(w, k);
      w.Uint64(*pending);
    }
    w.EndObject();
    db::writeKey(w, "waiting_commit");
    w.Bool(false);
    db::writeKey(w, "waiting_clients");
    w.Uint64(waiting);
    db::writeKey(w, "updater_running");
    w.Bool(running);
    db::writeKey(w, "update_seq");
    w.Uint64(seq);
    db::writeKey(w, "sizes");
    w.StartObject();
    db::writeKey(w, "file");
    w.Uint64(sizes->file);
    db::writeKey(w, "external");
    w.Uint64(sizes->active);
    db::writeKey(w, "active");
    w.Uint64(sizes->active);
    w.EndObject();
    db::writeKey(w, "signature");
    db::writeString(w, spec->signature);
    db::writeKey(w, "purge_seq");
    w.Uint64(info->purgeSeq);
    db::writeKey(w, "language");
    db::writeString(w, spec->language);
    db::writeKey(w, "compact_running");
    w.Bool(false);
    db::writeKey(w, "collator_versions");
    w.StartArray();
    db::writeString(w, collatorVersion());
    w.EndArray();
    w.EndObject();
    w.EndObject();
  });
  return Response::json(200, std::move(body));
}

// POST /{db}/_view_cleanup: the index files no current design document's view group names go.
Response viewCleanup(Call& call) {
  const std::string* type = call.req.header("Content-Type");
  if (!type || type->find("application/json") == std::string::npos)
    return errorResponse(Status(ErrorCode::BadContentType, "Content-Type must be application/json"));
  if (!call.svc->views) return jsonOk(202);
  AllDocsOptions range;
  range.startKey = "_design/";
  range.endKey = "_design0";  // '0' follows '/': every id with the prefix sorts below it
  range.inclusiveEnd = false;
  range.includeDocs = true;
  std::set<std::string> keep;
  auto read = call.db->allDocs(range, [&](const AllDocsRow& row) {
    if (row.doc.empty()) return true;
    auto spec = db::parseViewGroup(row.id, row.doc);
    if (spec && !spec->views.empty()) keep.insert(spec->signature);
    return true;
  });
  if (!read) return errorResponse(read.status());
  if (Status st = call.svc->views->cleanup(call.db, keep); !st) return errorResponse(st);
  return jsonOk(202);
}

// POST /{db}/_temp_view: gone since CouchDB 2.
Response tempView(Call&) {
  return errorResponse(410, "gone", "Temporary views are not supported in CouchDB");
}

// POST /{db}/_compact/{ddoc}: CouchDB rewrites a view file without its dead rows; an index in SQLite
// reuses its free pages as it goes, so there is nothing to start. Answered as CouchDB answers a started
// compaction, for clients that ask.
Response compactViews(Call& call) {
  const std::string* type = call.req.header("Content-Type");
  if (!type || type->find("application/json") == std::string::npos)
    return errorResponse(Status(ErrorCode::BadContentType, "Content-Type must be application/json"));
  auto ddoc = call.db->get("_design/" + call.params["ddoc"]);
  if (!ddoc) return errorResponse(ddoc.status());
  return jsonOk(202);
}

}  // namespace

void registerViewRoutes(Api& api) {
  // Literal `_view` and `_info` segments: they win over the attachment route /{db}/_design/{ddoc}/{att...}.
  api.async("GET", "/{db}/_design/{ddoc}/_view/{view}", Access::Reader, viewQuery);
  api.async("POST", "/{db}/_design/{ddoc}/_view/{view}", Access::Reader, viewQuery);
  api.async("POST", "/{db}/_design/{ddoc}/_view/{view}/queries", Access::Reader, viewQueries);
  api.sync("GET", "/{db}/_design/{ddoc}/_info", Access::Reader, designInfo);
  api.sync("POST", "/{db}/_view_cleanup", Access::DbAdmin, viewCleanup);
  api.sync("POST", "/{db}/_compact/{ddoc}", Access::DbAdmin, compactViews);
  api.sync("POST", "/{db}/_temp_view", Access::DbAdmin, tempView, Cost::Quick);
}

}  // namespace settee::http
