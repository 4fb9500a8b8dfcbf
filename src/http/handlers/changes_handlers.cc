// Changes endpoints (being written).
#include "http/handlers/handlers.h"

namespace settee::http {

void registerChangesRoutes(Api&) {}

}  // namespace settee::http
