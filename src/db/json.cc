#include "db/json.h"

namespace settee::db {

void writeElement(JsonWriter& w, simdjson::dom::element value) {
  using simdjson::dom::element_type;
  switch (value.type()) {
    case element_type::OBJECT:
      w.StartObject();
      for (auto field : simdjson::dom::object(value)) {
        writeKey(w, field.key);
        writeElement(w, field.value);
      }
      w.EndObject();
      break;
    case element_type::ARRAY:
      w.StartArray();
      for (auto item : simdjson::dom::array(value)) writeElement(w, item);
      w.EndArray();
      break;
    case element_type::STRING:
      writeString(w, value.get_string().value_unsafe());
      break;
    case element_type::INT64:
      w.Int64(value.get_int64().value_unsafe());
      break;
    case element_type::UINT64:
      w.Uint64(value.get_uint64().value_unsafe());
      break;
    case element_type::DOUBLE:
      w.Double(value.get_double().value_unsafe());
      break;
    case element_type::BOOL:
      w.Bool(value.get_bool().value_unsafe());
      break;
    case element_type::NULL_VALUE:
      w.Null();
      break;
  }
}

std::string toJson(simdjson::dom::element value) {
  JsonBuffer buf;
  JsonWriter w(buf);
  writeElement(w, value);
  return std::string(bufferView(buf));
}

}  // namespace settee::db
