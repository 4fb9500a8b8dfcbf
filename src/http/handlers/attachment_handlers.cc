// Attachment endpoints (being written).
#include "http/handlers/handlers.h"

namespace settee::http {

void registerAttachmentRoutes(Api&) {}

}  // namespace settee::http
