// mango_fields.cc — documents cut down to a query's `fields`, and documents rebuilt from index values
// (see mango_find_internal.h).
#include <optional>

#include "db/json.h"
#include "db/mango_find_internal.h"

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// The output being built: an object whose members are values found in the document or further objects.
struct Node {
  std::string key;
  std::optional<element> value;     // a leaf taken from a document
  std::optional<std::string> text;  // a leaf string of our own (the `_id` of a derived document)
  std::vector<Node> children;
};

Node& childOf(Node& parent, const std::string& key) {
  for (auto& c : parent.children) {
    if (c.key == key) return c;
  }
  parent.children.push_back(Node{key, std::nullopt, std::nullopt, {}});
  return parent.children.back();
}

Node& place(Node& root, const std::vector<std::string>& path) {
  Node* at = &root;
  for (const auto& segment : path) {
    at = &childOf(*at, segment);
    // A later, deeper field turns a leaf into an object, as CouchDB's set_field does.
    at->value.reset();
    at->text.reset();
  }
  at->children.clear();
  return *at;
}

void write(JsonWriter& w, const Node& n) {
  if (n.value) {
    writeElement(w, *n.value);
    return;
  }
  if (n.text) {
    writeString(w, *n.text);
    return;
  }
  w.StartObject();
  for (const auto& c : n.children) {
    writeKey(w, c.key);
    write(w, c);
  }
  w.EndObject();
}

std::optional<element> lookup(element doc, const std::vector<std::string>& path) {
  element at = doc;
  for (const auto& segment : path) {
    if (at.type() == element_type::OBJECT) {
      simdjson::dom::object obj;
      if (at.get(obj) != simdjson::SUCCESS || obj.at_key(segment).get(at) != simdjson::SUCCESS)
        return std::nullopt;
    } else if (at.type() == element_type::ARRAY) {
      if (segment.empty() || segment.size() > 18 ||
          segment.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
      simdjson::dom::array arr;
      if (at.get(arr) != simdjson::SUCCESS || arr.at(std::stoull(segment)).get(at) != simdjson::SUCCESS)
        return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return at;
}

std::string render(const Node& root) {
  JsonBuffer buf;
  JsonWriter w(buf);
  write(w, root);
  return std::string(bufferView(buf));
}

}  // namespace

std::string projectFields(element doc, const std::vector<std::vector<std::string>>& fields) {
  Node root;
  for (const auto& path : fields) {
    if (auto v = lookup(doc, path)) place(root, path).value = *v;
  }
  return render(root);
}

std::string buildDoc(const std::vector<std::vector<std::string>>& paths, const std::vector<element>& values,
                     std::string_view id) {
  Node root;
  place(root, {"_id"}).text = std::string(id);
  for (size_t i = 0; i < paths.size() && i < values.size(); ++i) place(root, paths[i]).value = values[i];
  return render(root);
}

}  // namespace settee::db
