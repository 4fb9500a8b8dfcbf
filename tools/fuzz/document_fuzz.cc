// The JSON document parser (db/document.h): what PUT, POST, _bulk_docs and a replication source send,
// with `_revisions` and `_attachments`. The first byte picks a normal or a `_local` document.
// Properties: an accepted document's body is a JSON object that parses again; its attachment list
// survives the stored encoding (encodeAttachments / decodeAttachments).
#include <simdjson.h>

#include "db/document.h"
#include "db/rev_hash.h"
#include "fuzz_util.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool local = data[0] & 1;
  std::string_view json = fuzz::asText(data + 1, size - 1);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root)) return 0;
  auto doc = db::parseDocument(root, local);
  if (!doc) return 0;
  (void)db::validateDocId(doc->id);

  simdjson::dom::parser again;
  simdjson::dom::object body;
  FUZZ_CHECK(!again.parse(doc->body).get(body));
  FUZZ_CHECK(body["_id"].error() == simdjson::NO_SUCH_FIELD);  // split out, never left in the body

  std::vector<db::AttachmentInfo> infos;
  for (const auto& att : doc->attachments) infos.push_back(att.info);
  std::vector<db::AttachmentInfo> decoded = db::decodeAttachments(db::encodeAttachments(infos));
  FUZZ_CHECK(decoded.size() == infos.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    FUZZ_CHECK(decoded[i].name == infos[i].name);
    FUZZ_CHECK(decoded[i].digest == infos[i].digest);
    FUZZ_CHECK(decoded[i].length == infos[i].length);
  }
  if (doc->rev) {
    // The term of any accepted body is well-formed and the hash is its MD5: 32 hex characters.
    db::RevParent parent{true, doc->rev->gen, doc->rev->hash};
    std::string term = db::revisionTerm(doc->deleted, parent, doc->body, infos);
    FUZZ_CHECK(term.size() > 2 && static_cast<uint8_t>(term[0]) == 131);
    FUZZ_CHECK(db::couchRevHash(doc->deleted, parent, doc->body, infos).size() == 32);
  }
  return 0;
}
