// http/handlers/index_json.h — POST /{db}/_index's answer, {"result":"created"|"exists","id","name"},
// written once for the handler (find_handlers.cc) and the C API's settee_db_create_index. A plain
// function; any thread.
#pragma once

#include "db/json.h"
#include "settee/query.h"

namespace settee::http {

void writeIndexCreated(db::JsonWriter& w, const IndexCreated& created);

}  // namespace settee::http
