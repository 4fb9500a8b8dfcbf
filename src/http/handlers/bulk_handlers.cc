// Bulk endpoints (being written).
#include "http/handlers/handlers.h"

namespace settee::http {

void registerBulkRoutes(Api&) {}

}  // namespace settee::http
