// The render commands of CouchDB's query server protocol (shows, updates, lists, rewrites), in process
// on QueryServer and through QueryServerPool driving real `settee js` processes (SETTEE_BINARY).
#include <catch2/catch.hpp>
#include <deque>
#include <string>
#include <vector>

#include "js/query_server.h"
#include "js/query_server_pool.h"

using namespace settee;
using namespace settee::js;

namespace {

const char* kDdoc = R"({"_id":"_design/r",
  "shows": {"s": "function(doc, req){ return {body: (doc ? doc.a : 'none') + '/' + req.query.q}; }"},
  "updates": {"u": "function(doc, req){ doc.n = 2; return [doc, {json: {ok: true}}]; }",
              "skip": "function(doc, req){ return [null, 'skipped']; }"},
  "lists": {"l": "function(head, req){ start({headers: {'Content-Type': 'text/plain'}}); send('head:' + head.total_rows + ';'); var row; while ((row = getRow())) send(row.key + ';'); return 'tail'; }",
            "early": "function(head, req){ var row = getRow(); send('first:' + row.key); return 'done'; }",
            "none": "function(head, req){ return 'nothing read'; }",
            "throws": "function(head, req){ getRow(); throw new Error('at row 2'); }",
            "json": "function(head, req){ provides('json', function(){ var r; while ((r = getRow())) send(toJSON(r.value)); }); }"},
  "rewrites": "function(req){ if (req.path[4] === 'none') return null; if (req.path[4] === 'deny') throw({forbidden: 'no way'}); return {path: '../../' + req.path[4], query: {a: '1'}}; }"
})";

PoolOptions options() {
  PoolOptions o;
  o.command = {SETTEE_BINARY, "js"};
  o.log = [](std::string_view) {};
  return o;
}

DesignDoc ddoc() { return {"_design/r", kDdoc}; }

std::string joined(const ListAnswer& a) {
  std::string out;
  for (const auto& o : a.outputs)
    for (const auto& c : o.chunks) out += c;
  return out;
}

}  // namespace

TEST_CASE(
    "JS render: a list in process writes start and chunks before its answer and reads rows from its "
    "source",
    "[js][render]") {
  std::vector<std::string> written;
  QueryServer qs({}, [&](std::string_view l) { written.emplace_back(l); });
  std::deque<std::string> input{R"(["list_row",{"key":"a"}])", R"(["list_row",{"key":"b"}])",
                                R"(["list_end"])"};
  qs.setLineSource([&](std::string& line) {
    if (input.empty()) return false;
    line = input.front();
    input.pop_front();
    return true;
  });
  REQUIRE(qs.handle(std::string(R"(["ddoc","new","_design/r",)") + kDdoc + "]") == "true");
  CHECK(qs.handle(R"(["ddoc","_design/r",["lists","l"],[{"total_rows":2},{}]])") == R"(["end",["tail"]])");
  REQUIRE(written.size() == 3);
  CHECK(written[0] == R"(["start",["head:2;"],{"headers":{"Content-Type":"text/plain"}}])");
  CHECK(written[1] == R"(["chunks",["a;"]])");
  CHECK(written[2] == R"(["chunks",["b;"]])");
  // getRow() outside a list is an error, not a read of the input.
  REQUIRE(qs.handle(R"(["ddoc","new","_design/g",{"shows":{"g":"function(){ getRow(); }"}}])") == "true");
  CHECK(qs.handle(R"(["ddoc","_design/g",["shows","g"],[null,{}]])") ==
        R"(["error","list_error","getRow() is only available in list functions"])");
  // A list whose input ends early is a fatal error: the process must go.
  written.clear();
  CHECK(qs.handle(R"(["ddoc","_design/r",["lists","l"],[{"total_rows":0},{}]])") ==
        R"(["error","list_error","the input ended inside a list"])");
  CHECK(qs.broken());
}

TEST_CASE("JS render: shows and updates through the pool answer the response object and the document",
          "[js][render]") {
  QueryServerPool pool(options());
  auto shown = pool.show(ddoc(), "s", R"({"_id":"x","a":"A"})", R"({"query":{"q":"Q"}})");
  REQUIRE(shown);
  CHECK(*shown == R"({"body":"A/Q"})");
  auto none = pool.show(ddoc(), "s", "null", R"({"query":{"q":"Q"}})");
  REQUIRE(none);
  CHECK(*none == R"({"body":"none/Q"})");
  auto up = pool.update(ddoc(), "u", R"({"_id":"x","n":1})", R"({"method":"POST"})");
  REQUIRE(up);
  CHECK(up->doc == R"({"_id":"x","n":2})");
  CHECK(up->response == R"({"json":{"ok":true}})");
  auto skip = pool.update(ddoc(), "skip", "null", R"({"method":"POST"})");
  REQUIRE(skip);
  CHECK(skip->doc == "null");
  CHECK(skip->response == R"({"body":"skipped"})");
  auto missing = pool.show(ddoc(), "nope", "null", "{}");
  CHECK(std::string(missing.status().error()) == "not_found");
}

TEST_CASE("JS render: a list through the pool gets the rows it asks for, and only those", "[js][render]") {
  QueryServerPool pool(options());
  std::vector<std::string_view> rows{R"({"id":"1","key":"a","value":1})", R"({"id":"2","key":"b","value":2})",
                                     R"({"id":"3","key":"c","value":3})"};
  auto all = pool.list(ddoc(), "l", R"({"total_rows":3,"offset":0})", "{}", rows);
  REQUIRE(all.status);
  REQUIRE(all.outputs.size() == 5);  // start, a chunk per row read after the first, end
  CHECK(all.outputs[0].response == R"({"headers":{"Content-Type":"text/plain"}})");
  CHECK(joined(all) == "head:3;a;b;c;tail");
  auto early = pool.list(ddoc(), "early", "{}", "{}", rows);
  REQUIRE(early.status);
  CHECK(joined(early) == "first:adone");
  auto none = pool.list(ddoc(), "none", "{}", "{}", rows);
  REQUIRE(none.status);
  CHECK(joined(none) == "nothing read");
  auto empty = pool.list(ddoc(), "l", R"({"total_rows":0,"offset":0})", "{}", {});
  REQUIRE(empty.status);
  CHECK(joined(empty) == "head:0;tail");
  // An error after the first row comes with what was sent before it; the next list still works.
  auto thrown = pool.list(ddoc(), "throws", "{}", "{}", rows);
  CHECK(std::string(thrown.status.error()) == "render_error");
  CHECK(!thrown.outputs.empty());
  auto json = pool.list(ddoc(), "json", "{}", R"({"headers":{"Accept":"application/json"}})", rows);
  REQUIRE(json.status);
  CHECK(json.outputs[0].response == R"({"headers":{"Content-Type":"application/json"}})");
  CHECK(joined(json) == "123");
}

TEST_CASE("JS render: a rewrite function answers a rewrite, nothing, or a refusal", "[js][render]") {
  QueryServerPool pool(options());
  auto to = pool.rewrite(ddoc(), R"({"method":"GET","path":["db","_design","r","_rewrite","doc"]})");
  REQUIRE(to);
  CHECK(*to == R"({"path":"../../doc","query":{"a":"1"}})");
  auto none = pool.rewrite(ddoc(), R"({"method":"GET","path":["db","_design","r","_rewrite","none"]})");
  REQUIRE(none);
  CHECK(none->empty());
  auto deny = pool.rewrite(ddoc(), R"({"method":"GET","path":["db","_design","r","_rewrite","deny"]})");
  CHECK(deny.status().code() == ErrorCode::Forbidden);
  CHECK(deny.status().reason() == "no way");
}
