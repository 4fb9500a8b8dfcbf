// mango_indexes.cc — index management (mango_find.h): POST/GET/DELETE /{db}/_index and their Database
// doors. An index is a view of a "language": "query" design document (mango_index.h); creating or deleting
// one writes a new revision of that document through the ordinary write path, so it replicates like any
// document and the store registers or drops the index in that write's transaction.
//
// CouchDB's behaviour followed (mango_httpd.erl, mango_idx.erl, mango_idx_view.erl, mango_sort.erl):
// - fields: non-empty names, all in one direction (unsupported_mixed_sort otherwise);
// - ddoc and name default to the hex SHA-1 of the definition; a ddoc without "_design/" gets it;
// - the same name with the same definition in that design document is "exists", with no write;
// - an existing design document of another language is invalid_ddoc_lang;
// - a failed save is 500 error_saving_ddoc; deleting a missing index is 404 not_found "missing";
// - deleting the last view of a design document that holds nothing else deletes the document.
#include <openssl/evp.h>

#include "db/crypto.h"
#include "db/json.h"
#include "db/mango_find.h"
#include "db/mango_index.h"
#include "db/store.h"

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// A write of the design document can lose a race with another writer of it: read and try again.
constexpr int kSaveAttempts = 3;

std::string sha1Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha1(), nullptr);
  return hexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string designId(std::string_view ddoc) {
  return ddoc.substr(0, 8) == "_design/" ? std::string(ddoc) : "_design/" + std::string(ddoc);
}

// The view CouchDB writes for an index (transcript #8): the map holds the fields as an object in index
// order and the partial filter selector ({} for none); options.def is the definition as it was asked for.
// `normalPartial` is the partial filter selector in normal form ("" for none), `rawPartial` as asked for.
std::string viewJson(const IndexDefinition& index, std::string_view normalPartial,
                     std::string_view rawPartial) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "map");
  w.StartObject();
  writeKey(w, "fields");
  w.StartObject();
  for (const SortField& f : index.fields) {
    writeKey(w, f.field);
    writeString(w, f.descending ? "desc" : "asc");
  }
  w.EndObject();
  writeKey(w, "partial_filter_selector");
  if (normalPartial.empty()) {
    w.StartObject();
    w.EndObject();
  } else {
    writeRaw(w, normalPartial);
  }
  w.EndObject();
  writeKey(w, "reduce");
  writeString(w, "_count");
  writeKey(w, "options");
  w.StartObject();
  writeKey(w, "def");
  w.StartObject();
  writeKey(w, "fields");
  w.StartArray();
  for (const SortField& f : index.fields) {
    if (!f.descending) {
      writeString(w, f.field);
      continue;
    }
    w.StartObject();
    writeKey(w, f.field);
    writeString(w, "desc");
    w.EndObject();
  }
  w.EndArray();
  if (!rawPartial.empty()) {
    writeKey(w, "partial_filter_selector");
    writeRaw(w, rawPartial);
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return std::string(bufferView(buf));
}

// CouchDB's normal form of a selector (mango_selector:normalize), which it keeps as an index's
// partial_filter_selector and lists: every condition explicit ({"f": v} is {"f": {"$eq": v}}), sub-field
// objects as dotted paths, one condition per member, several conditions under "$and".
void appendConditions(std::string_view path, element value, std::vector<std::string>& out);

std::string escapeField(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '.') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string normalSelector(simdjson::dom::object selector) {
  std::vector<std::string> conds;
  for (auto m : selector) {
    JsonBuffer buf;
    JsonWriter w(buf);
    if (m.key == "$and" || m.key == "$or" || m.key == "$nor") {
      w.StartObject();
      writeKey(w, m.key);
      w.StartArray();
      simdjson::dom::array items;
      if (!m.value.get_array().get(items)) {
        for (element item : items) {
          simdjson::dom::object o;
          if (item.get_object().get(o)) {
            writeElement(w, item);
          } else {
            std::string inner = normalSelector(o);
            writeRaw(w, inner);
          }
        }
      }
      w.EndArray();
      w.EndObject();
      conds.emplace_back(bufferView(buf));
    } else if (m.key == "$not" && m.value.type() == element_type::OBJECT) {
      w.StartObject();
      writeKey(w, m.key);
      std::string inner = normalSelector(m.value.get_object().value_unsafe());
      writeRaw(w, inner);
      w.EndObject();
      conds.emplace_back(bufferView(buf));
    } else {
      appendConditions(escapeField(m.key), m.value, conds);
    }
  }
  if (conds.size() == 1) return conds.front();
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "$and");
  w.StartArray();
  for (const std::string& c : conds) writeRaw(w, c);
  w.EndArray();
  w.EndObject();
  return std::string(bufferView(buf));
}

void appendConditions(std::string_view path, element value, std::vector<std::string>& out) {
  simdjson::dom::object o;
  const bool object = !value.get_object().get(o);
  if (object && o.size() > 0) {
    for (auto m : o) {
      if (!m.key.empty() && m.key[0] == '$') {
        JsonBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        writeKey(w, path);
        w.StartObject();
        writeKey(w, m.key);
        writeElement(w, m.value);
        w.EndObject();
        w.EndObject();
        out.emplace_back(bufferView(buf));
      } else {
        appendConditions(std::string(path) + "." + escapeField(m.key), m.value, out);
      }
    }
    return;
  }
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, path);
  w.StartObject();
  writeKey(w, "$eq");
  writeElement(w, value);
  w.EndObject();
  w.EndObject();
  out.emplace_back(bufferView(buf));
}

// Checks a definition; its partial filter selector in normal form and as given (minified), "" for none.
Status validate(const IndexDefinition& index, std::string& normalPartial, std::string& rawPartial) {
  if (index.fields.empty())
    return {ErrorCode::BadRequest, "Index fields must not be empty.", "invalid_index"};
  for (const SortField& f : index.fields) {
    if (f.field.empty()) return {ErrorCode::BadRequest, "Invalid sort field: <<>>", "invalid_sort_field"};
    if (f.descending != index.fields.front().descending)
      return {ErrorCode::BadRequest, "Sorts currently only support a single direction for all fields.",
              "unsupported_mixed_sort"};
  }
  if (index.partialFilterSelector.empty()) return Status::ok();
  simdjson::dom::parser parser;
  element sel;
  if (parser.parse(index.partialFilterSelector.data(), index.partialFilterSelector.size()).get(sel) ||
      sel.type() != element_type::OBJECT)
    return {ErrorCode::BadRequest, "Selector must be a JSON object", "invalid_selector_json"};
  auto compiled = Selector::parse(sel);
  if (!compiled) return compiled.status();
  // An empty selector is no filter (CouchDB's default value).
  simdjson::dom::object o = sel.get_object().value_unsafe();
  if (o.size() > 0) {
    normalPartial = normalSelector(o);
    rawPartial = toJson(sel);
  }
  return Status::ok();
}

Status saveError(const Status& st) {
  if (st.code() == ErrorCode::Conflict)
    return {ErrorCode::Internal, "Encountered a conflict while saving the design document.",
            "error_saving_ddoc"};
  return {ErrorCode::Internal, "Unknown error while saving the design document: " + st.reason(),
          "error_saving_ddoc"};
}

// Writes `json` (a whole document with its _id and _rev) as a new revision.
Status save(Store& store, std::string_view id, std::string_view json) {
  std::vector<WriteOp> ops;
  ops.push_back(store.parse(json, id));
  auto results = store.write(ops, true);
  return results.front().status;
}

// The member `name` of the object `o`, or nullopt.
std::optional<element> member(simdjson::dom::object o, std::string_view name) {
  element e;
  if (o.at_key(name).get(e)) return std::nullopt;
  return e;
}

// One attempt at adding the view; Conflict when another write of the design document came first.
Result<bool> addView(Store& store, const std::string& ddocId, const std::string& name,
                     const std::string& view) {
  auto current = store.get(ddocId, ReadOptions{});
  if (!current && current.status().code() != ErrorCode::NotFound) return current.status();
  simdjson::dom::parser parser;
  const bool exists = current.isOk();
  element root;
  if (exists &&
      (parser.parse(current->data(), current->size()).get(root) || root.type() != element_type::OBJECT))
    return Status(ErrorCode::Internal, "unreadable design document " + ddocId);
  if (exists) {
    simdjson::dom::object doc = root.get_object().value_unsafe();
    if (auto lang = member(doc, "language")) {
      std::string_view l;
      if (lang->get_string().get(l) || l != "query")
        return Status(ErrorCode::BadRequest, "Existing design doc has an invalid language: " + toJson(*lang),
                      "invalid_ddoc_lang");
    }
    if (auto views = member(doc, "views"); views && views->type() == element_type::OBJECT) {
      if (auto old = member(views->get_object().value_unsafe(), name); old && toJson(*old) == view)
        return false;
    }
  }
  JsonBuffer buf;
  JsonWriter w(buf);
  auto writeViews = [&](std::optional<element> old) {
    w.StartObject();
    bool replaced = false;
    if (old && old->type() == element_type::OBJECT) {
      // A copy of the object: a range-for over value_unsafe() would bind into a destroyed temporary.
      simdjson::dom::object views = old->get_object().value_unsafe();
      for (auto v : views) {
        writeKey(w, v.key);
        if (v.key == name && !replaced) {
          writeRaw(w, view);
          replaced = true;
        } else {
          writeElement(w, v.value);
        }
      }
    }
    if (!replaced) {
      writeKey(w, name);
      writeRaw(w, view);
    }
    w.EndObject();
  };
  w.StartObject();
  bool wroteLanguage = false, wroteViews = false;
  if (exists) {
    simdjson::dom::object members = root.get_object().value_unsafe();
    for (auto m : members) {
      writeKey(w, m.key);
      if (m.key == "language") {
        writeString(w, "query");
        wroteLanguage = true;
      } else if (m.key == "views") {
        writeViews(m.value);
        wroteViews = true;
      } else {
        writeElement(w, m.value);
      }
    }
  } else {
    writeKey(w, "_id");
    writeString(w, ddocId);
  }
  if (!wroteLanguage) {
    writeKey(w, "language");
    writeString(w, "query");
  }
  if (!wroteViews) {
    writeKey(w, "views");
    writeViews(std::nullopt);
  }
  w.EndObject();
  if (Status st = save(store, ddocId, bufferView(buf)); !st) return st;
  return true;
}

// One attempt at removing the view; Conflict when another write of the design document came first.
Status removeView(Store& store, const std::string& ddocId, std::string_view name) {
  auto current = store.get(ddocId, ReadOptions{});
  if (!current)
    return current.status().code() == ErrorCode::NotFound ? notFound("missing") : current.status();
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(current->data(), current->size()).get(root) || root.type() != element_type::OBJECT)
    return Status(ErrorCode::Internal, "unreadable design document " + ddocId);
  // Only an index the store knows from this document (a valid json index view) can be deleted.
  bool known = false;
  for (const IndexSpec& spec : indexesOfDesignDoc(ddocId, root)) known = known || spec.name == name;
  if (!known) return notFound("missing");
  simdjson::dom::object doc = root.get_object().value_unsafe();
  simdjson::dom::object views = member(doc, "views")->get_object().value_unsafe();
  const bool lastView = views.size() == 1;
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  size_t others = 0;  // members besides _id, _rev, language, and the views and their options
  for (auto m : doc) {
    if (lastView && (m.key == "views" || m.key == "options" || m.key == "autoupdate")) continue;
    writeKey(w, m.key);
    if (m.key == "views") {
      w.StartObject();
      for (auto v : views) {
        if (v.key == name) continue;
        writeKey(w, v.key);
        writeElement(w, v.value);
      }
      w.EndObject();
    } else {
      writeElement(w, m.value);
    }
    if (m.key != "_id" && m.key != "_rev" && m.key != "language") ++others;
  }
  w.EndObject();
  if (lastView && others == 0) {
    // Nothing left but the language: CouchDB deletes the design document.
    JsonBuffer del;
    JsonWriter d(del);
    d.StartObject();
    writeKey(d, "_id");
    writeString(d, ddocId);
    writeKey(d, "_rev");
    std::string_view rev;
    if (doc.at_key("_rev").get_string().get(rev)) rev = {};
    writeString(d, rev);
    writeKey(d, "_deleted");
    d.Bool(true);
    d.EndObject();
    return save(store, ddocId, bufferView(del));
  }
  return save(store, ddocId, bufferView(buf));
}

}  // namespace

Result<IndexCreated> createIndex(Store& store, const IndexDefinition& index) {
  const IndexDefinition& def = index;
  std::string normalPartial, rawPartial;
  if (Status st = validate(index, normalPartial, rawPartial); !st) return st;
  const std::string view = viewJson(def, normalPartial, rawPartial);
  // CouchDB names an index by a SHA-1 of its definition; ours hashes the view it writes.
  const std::string hash = sha1Hex(view);
  IndexCreated out;
  out.id = designId(def.ddoc.empty() ? hash : def.ddoc);
  out.name = def.name.empty() ? hash : def.name;
  if (out.id == "_design/")
    return Status(ErrorCode::BadRequest, "Invalid design document id", "invalid_index");
  for (int attempt = 1;; ++attempt) {
    auto added = addView(store, out.id, out.name, view);
    if (added) {
      out.created = *added;
      return out;
    }
    if (added.status().code() == ErrorCode::BadRequest &&
        added.status().error() == std::string("invalid_ddoc_lang"))
      return added.status();
    if (added.status().code() != ErrorCode::Conflict || attempt == kSaveAttempts)
      return saveError(added.status());
  }
}

IndexInfo indexInfo(const IndexSpec* index) {
  if (!index) return IndexInfo{"", "_all_docs", "special", {SortField{"_id", false}}, ""};
  return IndexInfo{index->ddoc, index->name, "json", index->fields, index->partialJson};
}

void writeIndexInfo(JsonWriter& w, const IndexInfo& index) {
  w.StartObject();
  writeKey(w, "ddoc");
  if (index.ddoc.empty())
    w.Null();
  else
    writeString(w, index.ddoc);
  writeKey(w, "name");
  writeString(w, index.name);
  writeKey(w, "type");
  writeString(w, index.type);
  if (index.type == "json") {
    writeKey(w, "partitioned");
    w.Bool(false);
  }
  writeKey(w, "def");
  w.StartObject();
  writeKey(w, "fields");
  w.StartArray();
  for (const auto& f : index.fields) {
    w.StartObject();
    writeKey(w, f.field);
    writeString(w, f.descending ? "desc" : "asc");
    w.EndObject();
  }
  w.EndArray();
  if (!index.partialFilterSelector.empty()) {
    writeKey(w, "partial_filter_selector");
    // Shown normalised, as CouchDB shows it ({"status": "open"} as {"status": {"$eq": "open"}}).
    if (auto sel = Selector::parseJson(index.partialFilterSelector)) {
      sel->writeNormalized(w);
    } else {
      writeRaw(w, index.partialFilterSelector);
    }
  }
  w.EndObject();
  w.EndObject();
}

Result<std::vector<IndexInfo>> listIndexes(Store& store) {
  auto specs = store.indexes();
  if (!specs) return specs.status();
  std::vector<IndexInfo> out;
  out.push_back(indexInfo(nullptr));
  for (IndexSpec& spec : *specs) out.push_back(indexInfo(&spec));
  return out;
}

Status deleteIndex(Store& store, std::string_view ddoc, std::string_view name) {
  const std::string ddocId = designId(ddoc);
  for (int attempt = 1;; ++attempt) {
    Status st = removeView(store, ddocId, name);
    if (st || st.code() == ErrorCode::NotFound) return st;
    if (st.code() != ErrorCode::Conflict || attempt == kSaveAttempts) return saveError(st);
  }
}

}  // namespace settee::db
