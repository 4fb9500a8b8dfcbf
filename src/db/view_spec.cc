// view_spec.cc — a design document's views as a ViewGroupSpec, its signature and its file (view_index.h).
#include <simdjson.h>

#include <algorithm>
#include <filesystem>

#include "db/crypto.h"
#include "db/json.h"
#include "db/view_index.h"
#include "db/view_reduce.h"

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// CouchDB answers a design document whose fields have the wrong type with 400 invalid_design_doc and
// the failing path (couch_mrview:validate_ddoc_fields): "`views.x.map` field must have string type".
Status wrongType(std::string_view path, std::string_view type) {
  return Status(ErrorCode::BadRequest,
                "`" + std::string(path) + "` field must have " + std::string(type) + " type",
                "invalid_design_doc");
}

// Each part is written with its length first, so ("ab","c") and ("a","bc") never digest alike.
void digestPart(Md5& md5, std::string_view part) {
  std::string len = std::to_string(part.size()) + ":";
  md5.update(len);
  md5.update(part);
}

}  // namespace

std::string viewSignature(const ViewGroupSpec& spec) {
  Md5 md5;
  digestPart(md5, "settee-views-1");
  digestPart(md5, spec.language);
  for (const ViewDef& view : spec.views) {
    digestPart(md5, view.name);
    digestPart(md5, view.map);
    digestPart(md5, view.reduce);
  }
  digestPart(md5, spec.lib);
  digestPart(md5, spec.includeDesign ? "include_design" : "");
  digestPart(md5, spec.localSeq ? "local_seq" : "");
  return md5.finishHex();
}

Result<ViewGroupSpec> parseViewGroup(std::string_view ddocId, std::string_view ddocJson) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(ddocJson.data(), ddocJson.size(), true).get(doc) || doc.type() != element_type::OBJECT)
    return badRequest("Invalid design document JSON.");
  ViewGroupSpec spec;
  spec.ddocId = std::string(ddocId);
  spec.language = "javascript";
  element language;
  if (!doc["language"].get(language)) {
    if (language.type() != element_type::STRING) return wrongType("language", "string");
    spec.language = std::string(language.get_string().value_unsafe());
  }
  element options;
  if (!doc["options"].get(options)) {
    if (options.type() != element_type::OBJECT) return wrongType("options", "object");
    bool flag = false;
    if (!options["include_design"].get(flag)) spec.includeDesign = flag;
    if (!options["local_seq"].get(flag)) spec.localSeq = flag;
  }
  // Mango's json indexes live in design documents of language "query", whose views' maps are objects:
  // they are Mango's to build and check (mango_index.h), never a map/reduce view group.
  element views;
  if (spec.language == "query" || doc["views"].get(views)) {
    spec.signature = viewSignature(spec);
    return spec;
  }
  if (views.type() != element_type::OBJECT) return wrongType("views", "object");
  for (auto field : simdjson::dom::object(views)) {
    std::string name(field.key);
    if (name == "lib") {
      if (field.value.type() != element_type::OBJECT) return wrongType("views.lib", "object");
      spec.lib = toJson(field.value);
      continue;
    }
    if (field.value.type() != element_type::OBJECT) return wrongType("views." + name, "object");
    element map, reduce;
    bool hasMap = !field.value["map"].get(map);
    if (hasMap && map.type() != element_type::STRING) return wrongType("views." + name + ".map", "string");
    bool hasReduce = !field.value["reduce"].get(reduce);
    if (hasReduce && reduce.type() != element_type::STRING)
      return wrongType("views." + name + ".reduce", "string");
    if (!hasMap)
      return Status(ErrorCode::BadRequest, "View `" + name + "` must contain map function",
                    "invalid_design_doc");
    ViewDef def;
    def.name = std::move(name);
    def.map = std::string(map.get_string().value_unsafe());
    if (hasReduce) def.reduce = std::string(reduce.get_string().value_unsafe());
    // couch_mrview:validate: a reduce starting with `_` must be one of the built-ins.
    if (!def.reduce.empty() && def.reduce[0] == '_' && !isBuiltinReduce(def.reduce))
      return Status(ErrorCode::BadRequest, "`" + def.reduce + "` is not a supported reduce function.",
                    "invalid_design_doc");
    spec.views.push_back(std::move(def));
  }
  std::sort(spec.views.begin(), spec.views.end(),
            [](const ViewDef& a, const ViewDef& b) { return a.name < b.name; });
  spec.signature = viewSignature(spec);
  return spec;
}

std::string viewFileFor(const std::string& viewDir, const std::string& signature) {
  return (std::filesystem::path(viewDir) / (signature + ".view")).string();
}

}  // namespace settee::db
