// A document's attachment bodies inline as base64 `data`, with the large ones left in the store as
// pieces to be read while the answer streams (document_internal.h: inlineBodies).
#include "db/crypto.h"
#include "http/handlers/document_internal.h"

namespace settee::http::detail {

Result<Pieces> inlineBodies(db::Store& store, std::string_view json, std::vector<Attachment>& atts,
                            uint64_t loadBudget) {
  if (Status st = loadSmall(store, atts, loadBudget); !st) return st;
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  if (parser.parse(json.data(), json.size()).get(doc))
    return Status(ErrorCode::Internal, "unreadable document");
  // A streamed body's data is written as a placeholder string, then the text is cut around it: no
  // document can hold the random nonce, and the quotes around it stay in the text.
  const std::string nonce = randomBoundary();
  std::vector<size_t> streamed;
  size_t next = 0;
  std::string text = writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    for (auto field : doc) {
      db::writeKey(w, field.key);
      simdjson::dom::object entries;
      if (field.key != "_attachments" || field.value.get(entries)) {
        db::writeElement(w, field.value);
        continue;
      }
      w.StartObject();
      for (auto entry : entries) {
        db::writeKey(w, entry.key);
        simdjson::dom::object meta;
        if (entry.value.get(meta)) {
          db::writeElement(w, entry.value);
          continue;
        }
        w.StartObject();
        bool follows = false;
        for (auto item : meta) {
          if (item.key == "follows") {
            follows = true;
            continue;
          }
          db::writeKey(w, item.key);
          db::writeElement(w, item.value);
        }
        if (follows && next < atts.size()) {
          Attachment& att = atts[next];
          db::writeKey(w, "data");
          if (!att.data.empty() || att.storedLength == 0) {
            db::writeString(w, db::base64Encode(att.data));
          } else {
            db::writeString(w, nonce + std::to_string(next));
            streamed.push_back(next);
          }
          ++next;
        }
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndObject();
  });
  Pieces pieces;
  size_t from = 0;
  for (size_t i : streamed) {
    const std::string mark = nonce + std::to_string(i) + "\"";
    const size_t at = text.find(mark, from);
    if (at == std::string::npos) return Status(ErrorCode::Internal, "lost an attachment");
    textOf(pieces).append(text, from, at - from);
    appendStored(pieces, atts[i].digest, 0, atts[i].storedLength);
    pieces.back().base64 = true;
    from = at + mark.size() - 1;  // the closing quote goes out after the data
  }
  textOf(pieces).append(text, from, std::string::npos);
  return pieces;
}

}  // namespace settee::http::detail
