// settee::Database: the public facade; every call forwards to the Store.
#include "settee/database.h"

#include "db/index_builder.h"
#include "db/live_query.h"
#include "db/mango_find.h"
#include "db/store.h"

namespace settee {

const char* errorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::Ok: return "ok";
    case ErrorCode::BadRequest: return "bad_request";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::Conflict: return "conflict";
    case ErrorCode::Forbidden: return "forbidden";
    case ErrorCode::Unauthorized: return "unauthorized";
    case ErrorCode::FileExists: return "file_exists";
    case ErrorCode::MissingStub: return "missing_stub";
    case ErrorCode::TooLarge: return "too_large";
    case ErrorCode::BadContentType: return "bad_content_type";
    case ErrorCode::IllegalDocId: return "illegal_docid";
    case ErrorCode::DocValidation: return "doc_validation";
    case ErrorCode::IllegalDatabaseName: return "illegal_database_name";
    case ErrorCode::PreconditionFailed: return "precondition_failed";
    case ErrorCode::Internal: return "internal_server_error";
  }
  return "unknown_error";
}

Database::Database(std::unique_ptr<db::Store> store)
    : store_(std::move(store)),
      live_(std::make_unique<db::LiveQueries>(*store_)),
      builder_(std::make_unique<db::IndexBuilder>(*store_)) {}
Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::open(const std::string& path, const std::string& name,
                                                 const DatabaseOptions& options) {
  auto store = db::Store::open(path, name, options);
  if (!store) return store.status();
  return std::unique_ptr<Database>(new Database(std::move(*store)));
}

Result<DatabaseInfo> Database::info() { return store_->info(); }

Result<DocResult> Database::put(std::string_view json, const PutOptions& options,
                                std::vector<AttachmentBody> attachmentBodies) {
  std::vector<db::WriteOp> ops;
  ops.push_back(store_->parse(json, options.id));
  ops.back().bodies = std::move(attachmentBodies);
  DocResult r = std::move(store_->write(ops, options.newEdits).front());
  if (!r.status) return r.status;
  return r;
}

Result<DocResult> Database::remove(std::string_view id, std::string_view rev) {
  db::ParsedDoc doc;
  if (!rev.empty()) {
    doc.rev = db::RevId::parse(rev);
    if (!doc.rev) return badRequest("Invalid rev format");
  }
  std::vector<db::WriteOp> ops(1);
  doc.id.assign(id);
  if (Status st = db::validateDocId(id); !st) return st;
  doc.deleted = true;
  ops[0].doc = std::move(doc);
  ops[0].mustBeLive = true;
  DocResult r = std::move(store_->write(ops, true).front());
  if (!r.status) return r.status;
  return r;
}

std::vector<DocResult> Database::bulkDocs(const std::vector<std::string_view>& docs,
                                          const BulkDocsOptions& options) {
  std::vector<db::WriteOp> ops;
  ops.reserve(docs.size());
  for (auto json : docs) ops.push_back(store_->parse(json));
  return store_->write(ops, options.newEdits);
}

Result<std::string> Database::get(std::string_view id, const ReadOptions& options) {
  return store_->get(id, options);
}

Result<std::vector<OpenRev>> Database::getOpenRevs(std::string_view id, const std::vector<std::string>& revs,
                                                   const ReadOptions& options) {
  return store_->getOpenRevs(id, revs, options);
}

Result<Attachment> Database::getAttachment(std::string_view docId, std::string_view name, std::string_view rev) {
  return store_->getAttachment(docId, name, rev);
}

Result<std::vector<std::string>> Database::conflicts(std::string_view id) {
  auto tree = store_->tree(id);
  if (!tree) return tree.status();
  std::vector<std::string> out;
  int winner = tree->winner();
  for (int leaf : tree->leavesByPriority()) {
    if (leaf != winner && !(*tree)[leaf].deleted) out.push_back((*tree)[leaf].rev());
  }
  return out;
}

Result<DocResult> Database::resolveConflicts(std::string_view id, std::string_view winnerRev,
                                             std::optional<std::string_view> mergedJson) {
  return store_->resolveConflicts(id, winnerRev, mergedJson);
}

Status Database::registerSyncPeer(std::string_view peer) { return store_->registerSyncPeer(peer); }
Result<std::vector<std::string>> Database::syncPeers() { return store_->syncPeers(); }
Result<DocSyncInfo> Database::docSyncState(std::string_view peer, std::string_view id) {
  return store_->docSyncState(peer, id);
}
Result<SyncCounts> Database::syncCounts(std::string_view peer) { return store_->syncCounts(peer); }
Result<std::vector<DocSyncEntry>> Database::syncDocuments(std::string_view peer, DocSyncState state, size_t limit,
                                                          std::string_view after) {
  return store_->syncDocuments(peer, state, limit, after);
}
Result<std::vector<std::string>> Database::conflictedDocuments(size_t limit, std::string_view after) {
  return store_->conflictedDocuments(limit, after);
}

const char* docSyncStateName(DocSyncState state) {
  switch (state) {
    case DocSyncState::Synced:
      return "synced";
    case DocSyncState::Pending:
      return "pending";
    case DocSyncState::Failed:
      return "failed";
    case DocSyncState::Conflicted:
      return "conflicted";
  }
  return "unknown";
}

Result<std::vector<RevsDiffEntry>> Database::revsDiff(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& revs) {
  return store_->revsDiff(revs);
}

Result<uint64_t> Database::changes(const ChangesOptions& options,
                                   const std::function<bool(const Change&)>& row) {
  return store_->changes(options, row);
}

uint64_t Database::waitForChange(uint64_t since, std::chrono::milliseconds timeout) {
  return store_->waitForChange(since, timeout);
}

Database::ListenerId Database::addChangeListener(std::function<void(uint64_t)> listener) {
  return store_->addChangeListener(std::move(listener));
}

void Database::removeChangeListener(ListenerId id) { store_->removeChangeListener(id); }

Result<uint64_t> Database::allDocs(const AllDocsOptions& options,
                                   const std::function<bool(const AllDocsRow&)>& row) {
  return store_->allDocs(options, row);
}

Result<std::string> Database::getLocal(std::string_view id) { return store_->getLocal(id); }
Result<DocResult> Database::putLocal(std::string_view id, std::string_view json) {
  return store_->putLocal(id, json);
}
Result<uint64_t> Database::localDocs(const AllDocsOptions& options,
                                     const std::function<bool(const AllDocsRow&)>& row) {
  return store_->localDocs(options, row);
}
Result<DocResult> Database::removeLocal(std::string_view id, std::string_view rev) {
  return store_->removeLocal(id, rev);
}

uint32_t Database::revsLimit() { return store_->revsLimit(); }
Status Database::setRevsLimit(uint32_t limit) { return store_->setRevsLimit(limit); }
Status Database::compact() { return store_->compact(); }
const std::string& Database::name() const { return store_->name(); }
Result<std::string> Database::security() { return store_->security(); }

Result<FindSummary> Database::find(std::string_view selectorJson, const FindOptions& options,
                                   const std::function<bool(std::string_view doc)>& row) {
  Result<db::FindQuery> query = db::makeFindQuery(selectorJson, options);
  if (!query) return query.status();
  return db::runFind(*store_, *query, row);
}
Result<IndexCreated> Database::createIndex(const IndexDefinition& index) { return db::createIndex(*store_, index); }
Result<std::vector<IndexInfo>> Database::indexes() { return db::listIndexes(*store_); }
Status Database::deleteIndex(std::string_view ddoc, std::string_view name) {
  return db::deleteIndex(*store_, ddoc, name);
}
Result<std::unique_ptr<LiveQuery>> Database::liveQuery(std::string_view selectorJson, const FindOptions& options,
                                                       std::function<void(const LiveResult&)> onResult) {
  Result<db::FindQuery> query = db::makeFindQuery(selectorJson, options);
  if (!query) return query.status();
  return live_->add(*query, std::move(onResult));
}
Status Database::setSecurity(std::string_view json) { return store_->setSecurity(json); }

}  // namespace settee
