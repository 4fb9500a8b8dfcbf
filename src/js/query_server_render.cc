// js/query_server_render.cc — the pool's render calls (shows, updates, lists, rewrites) as protocol
// commands and the shapes of their answers. A list is the one exchange of many lines: the command, then
// a list_row per getRow() and a list_end, each answered by ["chunks", ...] until ["end", ...].
#include "js/pool_internal.h"
#include "js/query_server_pool.h"

namespace settee::js {

using detail::Command;
using detail::unexpected;

namespace {

// ["ddoc", key, [kind, name...], [args...]] with the raw JSON arguments.
std::string renderCommand(std::string_view key, std::initializer_list<std::string_view> path,
                          std::initializer_list<std::string_view> args) {
  Command c;
  c.str("ddoc");
  c.str(key);
  c.w().StartArray();
  for (std::string_view p : path) c.str(p);
  c.w().EndArray();
  c.w().StartArray();
  for (std::string_view a : args) c.raw(a);
  c.w().EndArray();
  return c.line();
}

// The array answer and its tag, or false.
bool tagged(simdjson::dom::element answer, simdjson::dom::array& a, std::string_view& tag) {
  return !answer.get_array().get(a) && a.size() >= 1 && !a.at(0).get_string().get(tag);
}

// A chunk as text: strings as they are, anything else (a list's tail may be any value) as JSON.
std::string chunkText(simdjson::dom::element e) {
  std::string_view s;
  if (!e.get_string().get(s)) return std::string(s);
  return simdjson::minify(e);
}

// [tag, chunks] or [tag, chunks, response] as a ListOutput; false when it is not that shape.
bool listOutput(simdjson::dom::array a, ListOutput& out) {
  simdjson::dom::array chunks;
  if (a.size() < 2 || a.size() > 3 || a.at(1).get_array().get(chunks)) return false;
  for (simdjson::dom::element c : chunks) out.chunks.push_back(chunkText(c));
  if (a.size() == 3) {
    simdjson::dom::object resp;
    if (a.at(2).get_object().get(resp)) return false;
    out.response = simdjson::minify(a.at(2).value_unsafe());
  }
  return true;
}

}  // namespace

Result<std::string> QueryServerPool::show(const DesignDoc& ddoc, std::string_view name, std::string_view doc,
                                          std::string_view req) {
  std::string out;
  Status status = run([&](Call& call) -> Status {
    auto key = ensureDesignDoc(call, ddoc);
    if (!key) return key.status();
    simdjson::dom::element answer;
    std::string line = renderCommand(*key, {"shows", name}, {doc.empty() ? "null" : doc, req});
    if (Status s = call.ask(line, answer); !s) return s;
    simdjson::dom::array a;
    std::string_view tag;
    simdjson::dom::object resp;
    if (!tagged(answer, a, tag) || tag != "resp" || a.size() != 2 || a.at(1).get_object().get(resp))
      return unexpected("shows", answer);
    out = simdjson::minify(a.at(1).value_unsafe());
    return Status::ok();
  });
  if (!status) return status;
  return out;
}

Result<UpdateAnswer> QueryServerPool::update(const DesignDoc& ddoc, std::string_view name,
                                             std::string_view doc, std::string_view req) {
  UpdateAnswer out;
  Status status = run([&](Call& call) -> Status {
    auto key = ensureDesignDoc(call, ddoc);
    if (!key) return key.status();
    simdjson::dom::element answer;
    std::string line = renderCommand(*key, {"updates", name}, {doc.empty() ? "null" : doc, req});
    if (Status s = call.ask(line, answer); !s) return s;
    simdjson::dom::array a;
    std::string_view tag;
    simdjson::dom::object resp;
    if (!tagged(answer, a, tag) || tag != "up" || a.size() != 3 || a.at(2).get_object().get(resp))
      return unexpected("updates", answer);
    out.doc = simdjson::minify(a.at(1).value_unsafe());
    out.response = simdjson::minify(a.at(2).value_unsafe());
    return Status::ok();
  });
  if (!status) return status;
  return out;
}

ListAnswer QueryServerPool::list(const DesignDoc& ddoc, std::string_view name, std::string_view head,
                                 std::string_view req, const std::vector<std::string_view>& rows) {
  ListAnswer out;
  out.status = run([&](Call& call) -> Status {
    out.outputs.clear();
    auto key = ensureDesignDoc(call, ddoc);
    if (!key) return key.status();
    simdjson::dom::element answer;
    if (Status s = call.ask(renderCommand(*key, {"lists", name}, {head.empty() ? "{}" : head, req}), answer);
        !s)
      return s;
    // A process that answers out of turn is out of step with us: it must not serve another call.
    auto outOfStep = [&](const char* command) {
      call.worker.broken = true;
      return unexpected(command, answer);
    };
    simdjson::dom::array a;
    std::string_view tag;
    if (!tagged(answer, a, tag) || tag != "start") return outOfStep("lists");
    size_t next = 0;
    bool ended = false;  // list_end has been sent
    for (;;) {
      ListOutput output;
      if (!listOutput(a, output)) return outOfStep(ended ? "list_end" : "list_row");
      out.outputs.push_back(std::move(output));
      if (tag == "end") return Status::ok();
      if (ended) return outOfStep("list_end");  // after list_end only "end" may come
      std::string line;
      if (next < rows.size()) {
        Command row;
        row.str("list_row");
        row.raw(rows[next++]);
        line = row.line();
      } else {
        Command end;
        end.str("list_end");
        line = end.line();
        ended = true;
      }
      if (Status s = call.ask(line, answer); !s) return s;
      if (!tagged(answer, a, tag) || (tag != "chunks" && tag != "end")) return outOfStep("list_row");
    }
  });
  return out;
}

Result<std::string> QueryServerPool::rewrite(const DesignDoc& ddoc, std::string_view req) {
  std::string out;
  Status status = run([&](Call& call) -> Status {
    auto key = ensureDesignDoc(call, ddoc);
    if (!key) return key.status();
    simdjson::dom::element answer;
    if (Status s = call.ask(renderCommand(*key, {"rewrites"}, {req}), answer); !s) return s;
    simdjson::dom::object refusal;
    if (!answer.get_object().get(refusal) && refusal.size() == 1) {
      auto field = *refusal.begin();
      std::string_view message;
      if (!field.value.get_string().get(message)) {
        if (field.key == "forbidden") return Status(ErrorCode::Forbidden, std::string(message));
        if (field.key == "unauthorized") return Status(ErrorCode::Unauthorized, std::string(message));
      }
    }
    simdjson::dom::array a;
    std::string_view tag;
    if (!tagged(answer, a, tag)) return unexpected("rewrites", answer);
    if (tag == "no_dispatch_rule" && a.size() == 1) {
      out.clear();
      return Status::ok();
    }
    simdjson::dom::object rewrite;
    if (tag != "ok" || a.size() != 2 || a.at(1).get_object().get(rewrite))
      return Status(ErrorCode::Internal, "bad rewrite", "rewrite_error");
    out = simdjson::minify(a.at(1).value_unsafe());
    return Status::ok();
  });
  if (!status) return status;
  return out;
}

}  // namespace settee::js
