// Document endpoints (being written).
#include "http/handlers/handlers.h"

namespace settee::http {

void registerDocumentRoutes(Api&) {}

}  // namespace settee::http
