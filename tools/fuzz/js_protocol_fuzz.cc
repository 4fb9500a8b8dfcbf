// The JavaScript query server's protocol handler (js/query_server.h), in process: each input line is a
// command (reset, add_lib, add_fun, map_doc, reduce, rereduce, ddoc ... with shows, updates, lists and
// rewrites) and the handler must answer each with exactly one line of valid UTF-8 JSON, never crash, and
// keep its heap within its cap. A list reads the lines after its command as its rows (list_row,
// list_end), and every line it writes before its answer must be valid JSON too.
//
// Bounded: Debian's Duktape has no execution timeout, so fuzzed *code* could loop forever (in the node
// the parent kills such a process; in process nothing can). Code is therefore not fuzzed: every string
// in a code position (add_fun, add_lib, reduce and rereduce sources, a design document's members) is
// replaced by one of the functions below, chosen by a hash of the string. The command structure, the
// documents, the arguments and the design documents' shapes are fuzzed as they come; lines that are not
// JSON go to the handler unchanged.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <string>

#include "fuzz_util.h"
#include "js/query_server.h"

using namespace settee;

namespace {

const char* const kCode[] = {
    "function(doc){ emit(doc._id, doc); }",
    "function(doc){ if (doc.a) throw new Error('x'); emit([doc.a, doc.b], null); log(doc); }",
    "function(keys, values, rereduce){ return sum(values); }",
    "function(k, v, r){ return [k, v.length, r]; }",
    ("function(newDoc, oldDoc, userCtx, secObj){ if (newDoc && newDoc.x) throw({forbidden: 'x'}); "
     "if (userCtx && userCtx.y) throw({unauthorized: userCtx.y}); }"),
    "function(doc, req){ return doc && req && req.query && doc.s === req.query.s; }",
    "exports.v = 1; exports.f = function(x){ return [x]; };",
    "function(doc){ emit(require('views/lib/m').v, 1); }",
    "function(doc){ syntax error",
    "42",
    "function(doc){ throw ['fatal', 'x', 'y']; }",
    "function(doc, req){ return require('lib/m').f(doc); }",
    "function(doc){ emit(doc, doc); emit(toJSON(doc), isArray(doc)); }",
    "var m = require('./n'); exports.v = m;",
    // Render functions: shows, updates, lists (whose getRow() reads the lines that follow), rewrites.
    "function(doc, req){ provides('json', function(){ return {json: doc}; }); provides('html', function(){ "
    "return '<p>'; }); }",
    "function(doc, req){ start({code: 201, headers: {'X-A': 'b'}}); send(req && req.method); return doc ? "
    "doc._id : null; }",
    "function(doc, req){ registerType('x', 'text/x'); return [doc, {body: 'ok', headers: {'X-Id': doc && "
    "doc._id}}]; }",
    "function(head, req){ var r, n = 0; while ((r = getRow()) && n < 100) { send(toJSON(r)); n++; } return "
    "'end'; }",
    "function(head, req){ provides('text', function(){ send(toJSON(getRow())); }); }",
    "function(req){ return req && req.path ? {path: '../../' + req.path.join('/'), query: req.query} : null; "
    "}",
};
constexpr size_t kCodeCount = sizeof kCode / sizeof kCode[0];

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void rewrite(Writer& w, simdjson::dom::element e, bool code) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array a = e.get_array().value_unsafe();  // a copy: the result is a temporary
      w.StartArray();
      for (auto child : a) rewrite(w, child, code);
      w.EndArray();
      break;
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object o = e.get_object().value_unsafe();
      w.StartObject();
      for (auto field : o) {
        w.Key(field.key.data(), static_cast<rapidjson::SizeType>(field.key.size()));
        rewrite(w, field.value, code);
      }
      w.EndObject();
      break;
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      if (code) {
        size_t h = std::hash<std::string_view>{}(s);
        w.String(kCode[h % kCodeCount]);
      } else {
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      }
      break;
    }
    default: {
      std::string scalar = simdjson::minify(e);
      w.RawValue(scalar.c_str(), scalar.size(), rapidjson::kNumberType);
    }
  }
}

// The line with its code positions replaced; the line itself when it is not a JSON array.
std::string safeLine(simdjson::dom::parser& parser, std::string_view line) {
  simdjson::dom::element e;
  if (parser.parse(line.data(), line.size()).get(e) || !e.is_array()) return std::string(line);
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  size_t i = 0;
  std::string_view name, sub;
  simdjson::dom::array a = e.get_array().value_unsafe();
  if (a.size() > 0) (void)a.at(0).get_string().get(name);
  if (a.size() > 1) (void)a.at(1).get_string().get(sub);
  for (auto child : a) {
    // Code lives in: add_fun's and add_lib's argument, reduce's and rereduce's function list, and the
    // design document of "ddoc new" (any member may be compiled or required).
    bool code =
        (i == 1 && (name == "add_fun" || name == "add_lib" || name == "reduce" || name == "rereduce")) ||
        (i == 3 && name == "ddoc" && sub == "new");
    if (i == 0 || (name == "ddoc" && i < 3)) code = false;
    rewrite(w, child, code);
    ++i;
  }
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static simdjson::dom::parser parser;
  static simdjson::dom::parser checker;
  std::string_view text = fuzz::asText(data, size);
  js::QueryServer server({16u << 20}, [](std::string_view log) {
    FUZZ_CHECK(log.find('\n') == std::string_view::npos);
    FUZZ_CHECK(!checker.parse(log.data(), log.size()).error());
  });
  // A list function's getRow() reads the lines that follow its command, as `settee js` reads stdin;
  // they are made safe as any command is. A separate parser keeps the command's document alive.
  static simdjson::dom::parser rowParser;
  int commands = 0;
  server.setLineSource([&](std::string& out) {
    if (text.empty() || ++commands >= 64) return false;
    auto [line, rest] = fuzz::splitLine(text);
    text = rest;
    out = safeLine(rowParser, line);
    return true;
  });
  for (; !text.empty() && commands < 64 && !server.broken(); ++commands) {
    auto [line, rest] = fuzz::splitLine(text);
    text = rest;
    std::string command = safeLine(parser, line);
    std::string answer = server.handle(command);
    FUZZ_CHECK(answer.find('\n') == std::string::npos);
    FUZZ_CHECK(!checker.parse(answer).error());
    FUZZ_CHECK(server.heapBytes() <= (16u << 20));
  }
  return 0;
}
