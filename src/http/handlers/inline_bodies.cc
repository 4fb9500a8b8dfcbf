// A document's attachment bodies inline as base64 `data`, with the large ones left in the store as
// pieces to be read while the answer streams (document_internal.h: inlineBodies).
#include "db/crypto.h"
#include "http/gzip_inflater.h"
#include "http/handlers/document_internal.h"

namespace settee::http::detail {

namespace {

// The decoded bytes of a gzip body held in `att.data`, when they are few enough to hold (below
// kLoadWhole); nullopt to have them streamed. Internal for a body that does not decode to its length.
Result<std::optional<std::string>> decodedSmall(const Attachment& att) {
  if (att.data.empty() || att.length >= kLoadWhole) return std::optional<std::string>();
  GzipInflater inflater(static_cast<size_t>(att.length));
  std::string decoded;
  if (inflater.feed(att.data, decoded) != GzipInflater::Result::Ok ||
      inflater.finish() != GzipInflater::Result::Ok || decoded.size() != att.length)
    return Status(ErrorCode::Internal, "attachment " + att.digest + " is not a valid gzip stream");
  return std::optional<std::string>(std::move(decoded));
}

}  // namespace

Result<Pieces> inlineBodies(db::Store& store, std::string_view json, std::vector<Attachment>& atts,
                            uint64_t loadBudget, bool showEncoding) {
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
  Status failed;
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
          // As CouchDB does, inline data is always the decoded bytes; the encoding is only described
          // when asked (att_encoding_info).
          if (!showEncoding && (item.key == "encoding" || item.key == "encoded_length")) continue;
          db::writeKey(w, item.key);
          db::writeElement(w, item.value);
        }
        if (follows && next < atts.size()) {
          Attachment& att = atts[next];
          db::writeKey(w, "data");
          if (!att.encoding.empty()) {
            Result<std::optional<std::string>> small =
                att.length == 0 ? Result<std::optional<std::string>>(std::optional<std::string>(""))
                                : decodedSmall(att);
            if (!small) failed = small.status();
            if (small && *small) {
              db::writeString(w, db::base64Encode(**small));
            } else {
              db::writeString(w, nonce + std::to_string(next));
              streamed.push_back(next);
            }
          } else if (!att.data.empty() || att.storedLength == 0) {
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
  if (!failed) return failed;
  Pieces pieces;
  size_t from = 0;
  for (size_t i : streamed) {
    const std::string mark = nonce + std::to_string(i) + "\"";
    const size_t at = text.find(mark, from);
    if (at == std::string::npos) return Status(ErrorCode::Internal, "lost an attachment");
    textOf(pieces).append(text, from, at - from);
    // A gzip body is decoded on the way, up to its recorded length, then encoded.
    appendStored(pieces, atts[i].digest, 0, atts[i].storedLength,
                 atts[i].encoding.empty() ? 0 : atts[i].length);
    pieces.back().base64 = true;
    from = at + mark.size() - 1;  // the closing quote goes out after the data
  }
  textOf(pieces).append(text, from, std::string::npos);
  return pieces;
}

}  // namespace settee::http::detail
