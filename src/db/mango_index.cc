// mango_index.cc — see mango_index.h.
#include "db/mango_index.h"

#include <algorithm>

#include "db/json.h"

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// The partial filter of a view's map: `partial_filter_selector`, or the `selector` older text indexes
// kept (CouchDB reads both). Empty object or absent: none. False when present but not a selector.
bool readPartial(simdjson::dom::object map, IndexSpec& spec) {
  for (const char* key : {"partial_filter_selector", "selector"}) {
    element sel;
    if (map.at_key(key).get(sel)) continue;
    if (sel.type() != element_type::OBJECT) return false;
    if (simdjson::dom::object o = sel.get_object().value_unsafe(); o.size() == 0) return true;
    auto compiled = Selector::parse(sel);
    if (!compiled) return false;
    spec.partialJson = toJson(sel);
    spec.partial = std::make_shared<const Selector>(std::move(*compiled));
    return true;
  }
  return true;
}

// One view of a "language": "query" design document as an index, or nullopt when CouchDB would skip it:
// map.fields must be a non-empty object of field: "asc" | "desc" (in index order).
std::optional<IndexSpec> readView(std::string_view ddocId, std::string_view name, element view) {
  simdjson::dom::object map;
  if (view.type() != element_type::OBJECT || view.at_key("map").get_object().get(map)) return std::nullopt;
  simdjson::dom::object fields;
  if (map.at_key("fields").get_object().get(fields) || fields.size() == 0) return std::nullopt;
  IndexSpec spec;
  spec.ddoc.assign(ddocId);
  spec.name.assign(name);
  for (auto field : fields) {
    std::string_view dir;
    if (field.key.empty() || field.value.get_string().get(dir) || (dir != "asc" && dir != "desc"))
      return std::nullopt;
    spec.fields.push_back({std::string(field.key), dir == "desc"});
  }
  if (!readPartial(map, spec)) return std::nullopt;
  return spec;
}

}  // namespace

std::vector<IndexSpec> indexesOfDesignDoc(std::string_view ddocId, element body) {
  std::vector<IndexSpec> out;
  std::string_view language;
  if (body.type() != element_type::OBJECT || body.at_key("language").get_string().get(language) ||
      language != "query")
    return out;
  simdjson::dom::object views;
  if (body.at_key("views").get_object().get(views)) return out;
  for (auto view : views) {
    // A name met twice (JSON allows it) keeps its first definition only.
    if (std::any_of(out.begin(), out.end(), [&](const IndexSpec& s) { return s.name == view.key; })) continue;
    if (auto spec = readView(ddocId, view.key, view.value)) out.push_back(std::move(*spec));
  }
  return out;
}

}  // namespace settee::db
