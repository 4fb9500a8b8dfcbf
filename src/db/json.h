// json.h — the bridge between simdjson (parsing) and RapidJSON (writing).
//
// Parsed values are simdjson DOM elements, valid only while their parser lives. Output is always
// written with a RapidJSON Writer, which escapes strings for us; JSON is never built by concatenation.
// writeElement() re-serialises a parsed value minified: that is how bodies are normalised on the way in.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <string>
#include <string_view>

namespace settee::db {

using JsonBuffer = rapidjson::StringBuffer;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void writeElement(JsonWriter& w, simdjson::dom::element value);

inline void writeString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
inline void writeKey(JsonWriter& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// Splices already-valid JSON text (e.g. a stored body) as one value.
inline void writeRaw(JsonWriter& w, std::string_view json, rapidjson::Type type = rapidjson::kObjectType) {
  w.RawValue(json.data(), json.size(), type);
}
inline std::string_view bufferView(const JsonBuffer& b) { return {b.GetString(), b.GetSize()}; }
// A parsed value back as minified JSON text (e.g. an opaque sequence kept as the peer sent it).
std::string toJson(simdjson::dom::element value);

}  // namespace settee::db
