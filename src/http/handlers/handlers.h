// http/handlers/handlers.h — the endpoint families. Each registers its routes on the Api; a family's
// file holds nothing but its handlers (one family per file, no HTTP parsing, no SQL).
#pragma once

#include "http/api.h"

namespace settee::http {

void registerServerRoutes(Api& api);      // /, /_up, /_all_dbs, /_uuids, /_active_tasks, /_session
void registerDatabaseRoutes(Api& api);    // /{db}, _revs_limit, _compact, _security, _ensure_full_commit, _purge
void registerDocumentRoutes(Api& api);    // /{db}/{docid}, _design/, _local/, COPY, open_revs
void registerAttachmentRoutes(Api& api);  // /{db}/{docid}/{att}
void registerBulkRoutes(Api& api);        // _all_docs, _bulk_docs, _bulk_get, _revs_diff, _missing_revs
void registerChangesRoutes(Api& api);     // _changes: normal, longpoll, continuous, eventsource
void registerFindRoutes(Api& api);        // Mango: _find, _explain, _index
void registerNodeRoutes(Api& api);        // /_node/{node}/_stats, /_node/{node}/_prometheus (metrics)
void registerDesignRoutes(Api& api);      // /{db}/_design/{ddoc}/_show, _update, _list, _rewrite
void registerPartitionRoutes(Api& api);   // /{db}/_partition/...: refused, no database here is partitioned

// `?partitioned=` of PUT /{db}: ok when absent or "false"; CouchDB's refusal otherwise (the feature is
// not available here, so "true" is refused as CouchDB refuses it with the feature disabled).
Status partitionedOptionStatus(const Request& req);

}  // namespace settee::http
