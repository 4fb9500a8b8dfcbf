// If-None-Match, as CouchDB matches it (couch_httpd:etag_match): any of the listed tags, weak or strong.
#include "http/handlers/document_internal.h"

namespace settee::http::detail {

bool etagMatches(const Request& req, std::string_view etag) {
  const std::string* header = req.header("If-None-Match");
  if (!header) return false;
  std::string_view rest = *header;
  while (!rest.empty()) {
    size_t end = rest.find_first_of(", ");
    std::string_view tag = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    // A weak validator names the same revision: a document or attachment has one representation.
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (!tag.empty() && tag == etag) return true;
  }
  return false;
}

}  // namespace settee::http::detail
