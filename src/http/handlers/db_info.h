// http/handlers/db_info.h — a database's info object as GET /{db} answers it, and POST /_dbs_info, which
// answers it for many databases at once. Plain functions; any thread but the loop's for the handler.
#pragma once

#include "http/api.h"
#include "settee/database.h"

namespace settee::http {

// {"db_name","update_seq","purge_seq","doc_count","doc_del_count","sizes",...} in CouchDB 3.4's shape.
void writeDbInfo(db::JsonWriter& w, const DatabaseInfo& info);

// POST /_dbs_info: {"keys":[name, ...]} -> [{"key","info"} | {"key","error":"not_found"}, ...], in the
// order asked; at most ServerConfig::maxDbsInfoKeys names (bad_request too_many_keys beyond).
Response dbsInfo(Call& call);

// The database names GET /_all_dbs and GET /_dbs_info list, in answer order: name order (descending=true
// reverses it), within startkey/start_key and endkey/end_key (JSON strings; the end excluded with
// inclusive_end=false), after `skip`, at most `limit`. bad_request for a malformed parameter.
Result<std::vector<std::string>> selectDbNames(const Request& req, DataDir& data);

// GET /_dbs_info (CouchDB 3.2+): [{"key","info"}, ...] for every database in name order, with _all_dbs'
// descending, limit, skip and startkey/endkey (JSON strings, both inclusive). Streamed a few databases a
// page, so a node with thousands of databases is not answered from one buffer. Loop thread (async).
void allDbsInfo(std::shared_ptr<Call> call);

}  // namespace settee::http
