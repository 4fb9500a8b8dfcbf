// js/query_server_calls.cc — each public call of QueryServerPool as protocol commands (written with
// RapidJSON, the caller's JSON spliced in as raw values) and the shapes of their answers.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>

#include "js/pool_internal.h"
#include "js/query_server_pool.h"

namespace settee::js {

using detail::Command;
using detail::processError;
using detail::unexpected;

namespace {

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t specKey(const MapSpec& spec) {
  uint64_t h = 14695981039346656037ull;
  for (const std::string& s : spec.sources) {
    h = fnv1a(h, s);
    h = fnv1a(h, std::string_view("\0", 1));
  }
  return fnv1a(h, spec.lib);
}

// [true, [...]]: the list.
bool trueAndList(simdjson::dom::element answer, simdjson::dom::array& list) {
  simdjson::dom::array a;
  bool ok = false;
  return !answer.get_array().get(a) && a.size() == 2 && !a.at(0).get_bool().get(ok) && ok &&
         !a.at(1).get_array().get(list);
}

Result<std::vector<std::string>> reductions(simdjson::dom::element answer, size_t count,
                                            const char* command) {
  simdjson::dom::array list;
  if (!trueAndList(answer, list) || list.size() != count) return unexpected(command, answer);
  std::vector<std::string> out;
  out.reserve(count);
  for (simdjson::dom::element r : list) out.push_back(simdjson::minify(r));
  return out;
}

Result<std::vector<bool>> passes(simdjson::dom::element answer, size_t count, const char* command) {
  simdjson::dom::array list;
  if (!trueAndList(answer, list) || list.size() != count) return unexpected(command, answer);
  std::vector<bool> out;
  out.reserve(count);
  for (simdjson::dom::element r : list) {
    bool b = false;
    if (r.get_bool().get(b)) return unexpected(command, answer);
    out.push_back(b);
  }
  return out;
}

}  // namespace

std::string detail::resetCommand(bool reduceLimit) {
  Command reset;
  reset.str("reset");
  reset.w().StartObject();
  reset.w().Key("reduce_limit");
  reset.w().Bool(reduceLimit);
  reset.w().EndObject();
  return reset.line();
}

// Sends "ddoc new" unless this process has the same revision of the design document already. The key
// names the content, so an edited design document is a new one to the query server.
Result<std::string> QueryServerPool::ensureDesignDoc(Call& call, const DesignDoc& ddoc) {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(fnv1a(14695981039346656037ull, ddoc.json)));
  std::string key = std::string(ddoc.id) + "@" + hash;
  if (call.worker.ddocs.count(key)) return key;
  Command c;
  c.str("ddoc");
  c.str("new");
  c.str(key);
  c.raw(ddoc.json);
  simdjson::dom::element answer;
  if (Status s = call.ask(c.line(), answer); !s) return s;
  bool ok = false;
  if (answer.get_bool().get(ok) || !ok) return unexpected("ddoc new", answer);
  call.worker.ddocs.insert(key);
  if (call.worker.ddocs.size() >= options_.maxDesignDocsPerProcess) call.worker.retire = true;
  return key;
}

Result<std::vector<DocEmits>> QueryServerPool::mapDocs(const MapSpec& spec,
                                                       const std::vector<std::string_view>& docs) {
  std::vector<DocEmits> out;
  const uint64_t key = specKey(spec);
  Status status = run([&](Call& call) -> Status {
    out.clear();
    Worker& w = call.worker;
    simdjson::dom::element answer;
    if (!w.mapLoaded || w.mapKey != key) {
      w.mapLoaded = false;
      if (Status s = call.ask(detail::resetCommand(options_.reduceLimit), answer); !s) return s;
      if (!spec.lib.empty()) {
        Command lib;
        lib.str("add_lib");
        lib.raw(spec.lib);
        if (Status s = call.ask(lib.line(), answer); !s) return s;
      }
      for (const std::string& source : spec.sources) {
        Command add;
        add.str("add_fun");
        add.str(source);
        if (Status s = call.ask(add.line(), answer); !s) return s;
      }
      w.mapLoaded = true;
      w.mapKey = key;
    }
    out.reserve(docs.size());
    for (std::string_view doc : docs) {
      Command map;
      map.str("map_doc");
      map.raw(doc);
      if (Status s = call.ask(map.line(), answer); !s) return s;
      simdjson::dom::array perFunction;
      if (answer.get_array().get(perFunction) || perFunction.size() != spec.sources.size())
        return unexpected("map_doc", answer);
      DocEmits emits;
      emits.reserve(spec.sources.size());
      for (simdjson::dom::element fn : perFunction) {
        simdjson::dom::array pairs;
        if (fn.get_array().get(pairs)) return unexpected("map_doc", answer);
        std::vector<Emitted> list;
        list.reserve(pairs.size());
        for (simdjson::dom::element pair : pairs) {
          simdjson::dom::array kv;
          if (pair.get_array().get(kv) || kv.size() != 2) return unexpected("map_doc", answer);
          list.push_back(
              {simdjson::minify(kv.at(0).value_unsafe()), simdjson::minify(kv.at(1).value_unsafe())});
        }
        emits.push_back(std::move(list));
      }
      out.push_back(std::move(emits));
    }
    return Status::ok();
  });
  if (!status) return status;
  return out;
}

Result<std::vector<std::string>> QueryServerPool::reduce(const std::vector<std::string>& sources,
                                                         const std::vector<ReduceRow>& rows) {
  std::vector<std::string> out;
  Status status = run([&](Call& call) -> Status {
    Command c;
    c.str("reduce");
    c.w().StartArray();
    for (const std::string& s : sources) c.str(s);
    c.w().EndArray();
    c.w().StartArray();
    for (const ReduceRow& r : rows) {
      c.w().StartArray();
      c.w().StartArray();
      c.raw(r.key);
      c.str(r.docId);
      c.w().EndArray();
      c.raw(r.value);
      c.w().EndArray();
    }
    c.w().EndArray();
    simdjson::dom::element answer;
    if (Status s = call.ask(c.line(), answer); !s) return s;
    auto r = reductions(answer, sources.size(), "reduce");
    if (!r) return r.status();
    out = std::move(*r);
    return Status::ok();
  });
  if (!status) return status;
  return out;
}

Result<std::vector<std::string>> QueryServerPool::rereduce(const std::vector<std::string>& sources,
                                                           const std::vector<std::string_view>& values) {
  std::vector<std::string> out;
  Status status = run([&](Call& call) -> Status {
    Command c;
    c.str("rereduce");
    c.w().StartArray();
    for (const std::string& s : sources) c.str(s);
    c.w().EndArray();
    c.w().StartArray();
    for (std::string_view v : values) c.raw(v);
    c.w().EndArray();
    simdjson::dom::element answer;
    if (Status s = call.ask(c.line(), answer); !s) return s;
    auto r = reductions(answer, sources.size(), "rereduce");
    if (!r) return r.status();
    out = std::move(*r);
    return Status::ok();
  });
  if (!status) return status;
  return out;
}

Status QueryServerPool::validate(const DesignDoc& ddoc, std::string_view newDoc, std::string_view oldDoc,
                                 std::string_view userCtx, std::string_view secObj) {
  return run([&](Call& call) -> Status {
    auto key = ensureDesignDoc(call, ddoc);
    if (!key) return key.status();
    Command c;
    c.str("ddoc");
    c.str(*key);
    c.w().StartArray();
    c.str("validate_doc_update");
    c.w().EndArray();
    c.w().StartArray();
    c.raw(newDoc);
    c.raw(oldDoc.empty() ? std::string_view("null") : oldDoc);
    c.raw(userCtx.empty() ? std::string_view("null") : userCtx);
    c.raw(secObj.empty() ? std::string_view("{}") : secObj);
    c.w().EndArray();
    simdjson::dom::element answer;
    if (Status s = call.ask(c.line(), answer); !s) return s;
    int64_t one = 0;
    if (!answer.get_int64().get(one) && one == 1) return Status::ok();
    // As couch_query_servers: {"forbidden": m} is 403, {"unauthorized": m} 401, anything else an
    // unknown_error carrying what was thrown.
    simdjson::dom::object o;
    if (!answer.get_object().get(o) && o.size() >= 1) {
      auto field = *o.begin();
      std::string_view text;
      std::string message =
          field.value.get_string().get(text) ? simdjson::minify(field.value) : std::string(text);
      if (field.key == "forbidden") return Status(ErrorCode::Forbidden, std::move(message));
      if (field.key == "unauthorized") return Status(ErrorCode::Unauthorized, std::move(message));
      return Status(ErrorCode::Internal, std::move(message), "unknown_error");
    }
    std::string_view text;
    if (!answer.get_string().get(text))
      return Status(ErrorCode::Internal, std::string(text), "unknown_error");
    return Status(ErrorCode::Internal, simdjson::minify(answer), "unknown_error");
  });
}

Result<std::vector<bool>> QueryServerPool::filter(const DesignDoc& ddoc, std::string_view name,
                                                  const std::vector<std::string_view>& docs,
                                                  std::string_view req) {
  std::vector<bool> out;
  Status status = run([&](Call& call) -> Status {
    auto key = ensureDesignDoc(call, ddoc);
    if (!key) return key.status();
    Command c;
    c.str("ddoc");
    c.str(*key);
    c.w().StartArray();
    c.str("filters");
    c.str(name);
    c.w().EndArray();
    c.w().StartArray();
    c.w().StartArray();
    for (std::string_view d : docs) c.raw(d);
    c.w().EndArray();
    c.raw(req.empty() ? std::string_view("{}") : req);
    c.w().EndArray();
    simdjson::dom::element answer;
    if (Status s = call.ask(c.line(), answer); !s) return s;
    auto r = passes(answer, docs.size(), "filters");
    if (!r) return r.status();
    out = std::move(*r);
    return Status::ok();
  });
  if (!status) return status;
  return out;
}

Result<std::vector<bool>> QueryServerPool::filterView(const DesignDoc& ddoc, std::string_view view,
                                                      const std::vector<std::string_view>& docs) {
  std::vector<bool> out;
  Status status = run([&](Call& call) -> Status {
    auto key = ensureDesignDoc(call, ddoc);
    if (!key) return key.status();
    Command c;
    c.str("ddoc");
    c.str(*key);
    c.w().StartArray();
    c.str("views");
    c.str(view);
    c.str("map");
    c.w().EndArray();
    c.w().StartArray();
    c.w().StartArray();
    for (std::string_view d : docs) c.raw(d);
    c.w().EndArray();
    c.w().EndArray();
    simdjson::dom::element answer;
    if (Status s = call.ask(c.line(), answer); !s) return s;
    auto r = passes(answer, docs.size(), "views");
    if (!r) return r.status();
    out = std::move(*r);
    return Status::ok();
  });
  if (!status) return status;
  return out;
}

}  // namespace settee::js
