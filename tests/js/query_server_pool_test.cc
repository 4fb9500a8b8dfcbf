// The JavaScript query server as the node uses it: QueryServerPool driving real `settee js` processes
// (SETTEE_BINARY) over CouchDB's query server protocol.
#include "js/query_server_pool.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "js/query_server.h"

using namespace settee;
using namespace settee::js;
using namespace std::chrono_literals;

namespace {

struct Logs {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::vector<std::string> all() {
    std::lock_guard lock(mutex);
    return lines;
  }
};

PoolOptions options(Logs* logs = nullptr, std::chrono::milliseconds timeout = 5000ms) {
  PoolOptions o;
  o.command = {SETTEE_BINARY, "js"};
  o.timeout = timeout;
  if (logs) {
    o.log = [logs](std::string_view m) {
      std::lock_guard lock(logs->mutex);
      logs->lines.emplace_back(m);
    };
  }
  return o;
}

std::vector<Emitted> emitsOf(QueryServerPool& pool, const std::string& fn, std::string_view doc) {
  auto r = pool.mapDocs({{fn}, ""}, {doc});
  REQUIRE(r.status().reason() == "");
  REQUIRE(r->size() == 1);
  REQUIRE((*r)[0].size() == 1);
  return (*r)[0][0];
}

// A process of ours that still exists (a zombie counts: it is not reaped).
bool processExists(pid_t pid) { return std::filesystem::exists("/proc/" + std::to_string(pid)); }

// Children of this test process that are zombies.
int zombieChildren() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == getpid() &&
        state == 'Z')
      ++n;
  }
  return n;
}

const char* kDdoc = R"({"_id":"_design/app",
  "validate_doc_update": "function(newDoc, oldDoc, userCtx, secObj){ if (newDoc.bad) throw({forbidden: 'bad docs are refused'}); if (newDoc.auth) throw({unauthorized: 'log in'}); if (newDoc.needsOld && !oldDoc) throw({forbidden: 'no old doc'}); if (newDoc.adminOnly && userCtx.roles.indexOf('_admin') < 0) throw({unauthorized: 'admins only, not ' + userCtx.name}); if (newDoc.members && secObj.members.names.indexOf(userCtx.name) < 0) throw({forbidden: 'not a member'}); if (newDoc.oops) throw new TypeError('oops'); }",
  "filters": {"open": "function(doc, req){ return doc.status === (req.query.status || 'open'); }",
              "lib": "function(doc, req){ return require('lib/check').isOdd(doc.n); }"},
  "views": {"byTag": {"map": "function(doc){ (doc.tags||[]).forEach(function(t){ emit(t, null); }); }"},
            "lib": {"math": "exports.double = function(x){ return 2 * x; };"}},
  "lib": {"check": "var m = require('./util'); exports.isOdd = function(n){ return m.mod2(n) === 1; };",
          "util": "exports.mod2 = function(n){ return n % 2; };"}
})";

}  // namespace

TEST_CASE("JS pool: map functions emit every JSON type, minified, per document and per function", "[js]") {
  QueryServerPool pool(options());
  auto r = pool.mapDocs({{"function(doc){ emit(null, false); emit(true, 1.5); emit(-3, 'é\"x'); emit([1, "
                          "[2]], {a: {b: null}}); "
                          "emit(doc._id); }",
                          "function(doc){ if (doc.n > 1) emit(doc.n, doc); }"},
                         ""},
                        {R"({"_id":"a","n":1})", "{\"_id\" : \"b\",\n \"n\" : 2}"});
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  const DocEmits& a = (*r)[0];
  REQUIRE(a.size() == 2);
  CHECK(a[0] == std::vector<Emitted>{{"null", "false"},
                                     {"true", "1.5"},
                                     {"-3", R"("é\"x")"},
                                     {"[1,[2]]", R"({"a":{"b":null}})"},
                                     {R"("a")", "null"}});
  CHECK(a[1].empty());
  const DocEmits& b = (*r)[1];
  CHECK(b[1] == std::vector<Emitted>{{"2", R"({"_id":"b","n":2})"}});
}

TEST_CASE("JS pool: a map function that throws for one document emits nothing for it and logs why", "[js]") {
  Logs logs;
  QueryServerPool pool(options(&logs));
  auto r = pool.mapDocs({{"function(doc){ if (doc.bad) throw new Error('no ' + doc._id); emit(doc._id, 1); }",
                          "function(doc){ emit('always', null); }"},
                         ""},
                        {R"({"_id":"x"})", R"({"_id":"y","bad":true})", R"({"_id":"z"})"});
  REQUIRE(r);
  CHECK((*r)[0][0] == std::vector<Emitted>{{R"("x")", "1"}});
  CHECK((*r)[1][0].empty());
  CHECK((*r)[1][1] == std::vector<Emitted>{{R"("always")", "null"}});
  CHECK((*r)[2][0] == std::vector<Emitted>{{R"("z")", "1"}});
  auto lines = logs.all();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "function raised exception Error: no y with doc._id y");
}

TEST_CASE("JS pool: documents are sealed, so one map function cannot change what the next sees", "[js]") {
  QueryServerPool pool(options());
  auto r = pool.mapDocs(
      {{"function(doc){ doc.n = 99; doc.sub.x = 5; }", "function(doc){ emit(doc.n, doc.sub.x); }"}, ""},
      {R"({"_id":"a","n":1,"sub":{"x":1}})"});
  REQUIRE(r);
  CHECK((*r)[0][1] == std::vector<Emitted>{{"1", "1"}});
}

TEST_CASE("JS pool: log() reaches the log, not the results; characters beyond U+FFFF come back as UTF-8",
          "[js]") {
  Logs logs;
  QueryServerPool pool(options(&logs));
  auto e = emitsOf(pool, "function(doc){ log({seen: doc._id}); emit(doc.s, '\\ud83d\\ude00'); }",
                   R"({"_id":"a","s":"\ud83d\ude03 \u00e9"})");
  CHECK(e == std::vector<Emitted>{{"\"\xF0\x9F\x98\x83 \xC3\xA9\"", "\"\xF0\x9F\x98\x80\""}});
  CHECK(logs.all() == std::vector<std::string>{R"({"seen":"a"})"});
}

TEST_CASE(
    "JS query server: answers are made valid UTF-8: CESU-8 pairs joined, lone surrogates and bad bytes "
    "replaced",
    "[js]") {
  std::string s =
      "a\xED\xA0\xBD\xED\xB8\x80"
      "b\xED\xA0\xBD"
      "c\xF6\xA4"
      "d\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  toValidUtf8(s);
  CHECK(s ==
        "a\xF0\x9F\x98\x80"
        "b\xEF\xBF\xBD"
        "c\xEF\xBF\xBD\xEF\xBF\xBD"
        "d\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  std::string ok = "plain \xC3\xA9";
  toValidUtf8(ok);
  CHECK(ok == "plain \xC3\xA9");
}

TEST_CASE("JS pool: reduce gets [key, id] pairs and values, rereduce gets reductions", "[js]") {
  QueryServerPool pool(options());
  const std::vector<std::string> fns = {"function(keys, values, rereduce){ return sum(values); }",
                                        "function(keys, values, rereduce){ return rereduce ? 'again' : "
                                        "keys.map(function(k){ return k[1] + ':' + k[0]; }); }"};
  auto r = pool.reduce(fns, {{"\"a\"", "d1", "1"}, {"[1,2]", "d2", "2"}, {"null", "d\"3", "4"}});
  REQUIRE(r);
  CHECK(*r == std::vector<std::string>{"7", R"(["d1:a","d2:1,2","d\"3:null"])"});
  auto rr = pool.rereduce(fns, {"7", "3"});
  REQUIRE(rr);
  CHECK(*rr == std::vector<std::string>{"10", R"("again")"});
}

TEST_CASE("JS pool: a JS reduce whose output does not shrink is a reduce_overflow_error", "[js]") {
  QueryServerPool pool(options());
  std::vector<std::string_view> values(200, "\"0123456789\"");
  auto rr = pool.rereduce({"function(k, values){ return values.concat(values); }"}, values);
  REQUIRE(!rr);
  CHECK(std::string(rr.status().error()) == "reduce_overflow_error");
  CHECK(rr.status().reason().rfind("Reduce output must shrink more rapidly:", 0) == 0);
}

TEST_CASE("JS pool: a function that does not compile is a compilation_error naming its source", "[js]") {
  QueryServerPool pool(options());
  auto r = pool.mapDocs({{"function(doc){ syntax error"}, ""}, {R"({"_id":"a"})"});
  REQUIRE(!r);
  CHECK(std::string(r.status().error()) == "compilation_error");
  CHECK(r.status().code() == ErrorCode::BadRequest);
  CHECK(r.status().reason().find("SyntaxError") != std::string::npos);
  CHECK(r.status().reason().ends_with(" (function(doc){ syntax error)"));
  auto notFn = pool.reduce({"42"}, {});
  REQUIRE(!notFn);
  CHECK(notFn.status().reason() == "Expression does not eval to a function. (42)");
  // The pool goes on with good functions afterwards.
  CHECK(emitsOf(pool, "function(doc){ emit(1, 2); }", "{}") == std::vector<Emitted>{{"1", "2"}});
}

TEST_CASE("JS pool: validate_doc_update accepts, forbids or asks for authorization with its message",
          "[js]") {
  QueryServerPool pool(options());
  DesignDoc ddoc{"_design/app", kDdoc};
  const char* user = R"({"db":"v","name":"bob","roles":["staff"]})";
  const char* sec = R"({"members":{"names":["ann"],"roles":[]}})";
  CHECK(pool.validate(ddoc, R"({"_id":"ok"})", "null", user, sec));
  Status forbidden = pool.validate(ddoc, R"({"bad":true})", "null", user, sec);
  CHECK(forbidden.code() == ErrorCode::Forbidden);
  CHECK(forbidden.reason() == "bad docs are refused");
  Status unauthorized = pool.validate(ddoc, R"({"auth":true})", "null", user, sec);
  CHECK(unauthorized.code() == ErrorCode::Unauthorized);
  CHECK(unauthorized.reason() == "log in");
  // Its arguments: the old document, userCtx and the security object.
  CHECK(pool.validate(ddoc, R"({"needsOld":true})", "null", user, sec).reason() == "no old doc");
  CHECK(pool.validate(ddoc, R"({"needsOld":true})", R"({"_id":"x"})", user, sec));
  CHECK(pool.validate(ddoc, R"({"adminOnly":true})", "null", user, sec).reason() == "admins only, not bob");
  CHECK(pool.validate(ddoc, R"({"members":true})", "null", user, sec).code() == ErrorCode::Forbidden);
  // A thrown Error is an error of the function, not a refusal.
  Status error = pool.validate(ddoc, R"({"oops":true})", "null", user, sec);
  CHECK(std::string(error.error()) == "TypeError");
  CHECK(error.reason() == "oops");
}

TEST_CASE("JS pool: filters see req.query; filter=_view passes what the map function emits for", "[js]") {
  QueryServerPool pool(options());
  DesignDoc ddoc{"_design/app", kDdoc};
  std::vector<std::string_view> docs = {R"({"_id":"a","status":"open","tags":["x"]})",
                                        R"({"_id":"b","status":"done"})", R"({"_id":"c","tags":[]})"};
  auto open = pool.filter(ddoc, "open", docs, R"({"query":{}})");
  REQUIRE(open);
  CHECK(*open == std::vector<bool>{true, false, false});
  auto done = pool.filter(ddoc, "open", docs, R"({"query":{"status":"done"}})");
  REQUIRE(done);
  CHECK(*done == std::vector<bool>{false, true, false});
  auto view = pool.filterView(ddoc, "byTag", docs);
  REQUIRE(view);
  CHECK(*view == std::vector<bool>{true, false, false});
  auto missing = pool.filter(ddoc, "nope", docs, "{}");
  REQUIRE(!missing);
  CHECK(std::string(missing.status().error()) == "not_found");
  CHECK(missing.status().reason() ==
        "missing filters function nope on design doc _design/app@" +
            missing.status().reason().substr(missing.status().reason().find('@') + 1));
}

TEST_CASE("JS pool: require() loads CommonJS modules from the design document and views.lib", "[js]") {
  QueryServerPool pool(options());
  DesignDoc ddoc{"_design/app", kDdoc};
  auto odd = pool.filter(ddoc, "lib", {R"({"n":1})", R"({"n":2})"}, "{}");
  REQUIRE(odd);
  CHECK(*odd == std::vector<bool>{true, false});
  auto r = pool.mapDocs({{"function(doc){ emit(require('views/lib/math').double(doc.n), null); }"},
                         R"({"math":"exports.double = function(x){ return 2 * x; };"})"},
                        {R"({"n":21})"});
  REQUIRE(r);
  CHECK((*r)[0][0] == std::vector<Emitted>{{"42", "null"}});
  auto bad = pool.mapDocs({{"function(doc){ emit(require('views/lib/nope'), null); }"}, R"({"math":""})"},
                          {R"({"n":21})"});
  REQUIRE(bad);  // the require error is the map function's: logged, nothing emitted
  CHECK((*bad)[0][0].empty());
}

TEST_CASE("JS pool: a map function that never returns is killed at the timeout; the pool keeps answering",
          "[js]") {
  QueryServerPool pool(options(nullptr, 500ms));
  Result<std::vector<DocEmits>> loop = Status();
  const auto t0 = std::chrono::steady_clock::now();
  std::thread runaway([&] { loop = pool.mapDocs({{"function(doc){ while(true){} }"}, ""}, {"{}"}); });
  // Meanwhile another caller is answered by another process.
  std::this_thread::sleep_for(100ms);
  CHECK(emitsOf(pool, "function(doc){ emit('fine', 1); }", "{}") == std::vector<Emitted>{{R"("fine")", "1"}});
  runaway.join();
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(!loop);
  CHECK(std::string(loop.status().error()) == "os_process_error");
  CHECK(loop.status().reason() == "OS process timed out.");
  CHECK(took < 2s);
  CHECK(pool.pids().size() == 1);  // the runaway's process is gone
  CHECK(emitsOf(pool, "function(doc){ emit('after', 1); }", "{}").size() == 1);
  CHECK(zombieChildren() == 0);
}

TEST_CASE("JS pool: a function that logs without end is killed at the timeout too", "[js]") {
  std::atomic<size_t> lines{0};
  PoolOptions o = options(nullptr, 500ms);
  o.log = [&](std::string_view) { ++lines; };
  QueryServerPool pool(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = pool.mapDocs({{"function(doc){ while(true) log('again'); }"}, ""}, {"{}"});
  REQUIRE(!r);
  CHECK(r.status().reason() == "OS process timed out.");
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(lines > 0);
  CHECK(pool.pids().empty());
}

TEST_CASE("JS pool: a query server that cannot be started is an os_process_error", "[js]") {
  PoolOptions o = options();
  o.command = {"/nonexistent/settee", "js"};
  QueryServerPool pool(o);
  auto r = pool.rereduce({"function(k, v){ return 1; }"}, {"1"});
  REQUIRE(!r);
  CHECK(std::string(r.status().error()) == "os_process_error");
  CHECK(r.status().reason().rfind("cannot start the query server /nonexistent/settee", 0) == 0);
  CHECK(zombieChildren() == 0);
}

TEST_CASE("JS pool: a memory hog is answered with an error and its process replaced", "[js]") {
  PoolOptions o = options();
  o.command = {SETTEE_BINARY, "js", "--max-memory", std::to_string(32u << 20)};
  QueryServerPool pool(o);
  CHECK(emitsOf(pool, "function(doc){ emit(1, 1); }", "{}").size() == 1);
  const pid_t first = pool.pids().at(0);
  auto hog = pool.mapDocs({{"function(doc){ var a = []; while(true) a.push(new Array(1e6)); }"}, ""}, {"{}"});
  REQUIRE(!hog);
  CHECK(std::string(hog.status().error()) == "os_process_error");
  CHECK(hog.status().reason().rfind("out of memory", 0) == 0);
  CHECK(pool.pids().empty());
  CHECK(!processExists(first));
  CHECK(emitsOf(pool, "function(doc){ emit(2, 2); }", "{}") == std::vector<Emitted>{{"2", "2"}});
  CHECK(pool.processesStarted() == 2);
}

TEST_CASE("JS pool: a process killed between calls is replaced and the next call still answered", "[js]") {
  QueryServerPool pool(options());
  CHECK(emitsOf(pool, "function(doc){ emit(1, 1); }", "{}").size() == 1);
  const pid_t first = pool.pids().at(0);
  REQUIRE(::kill(first, SIGKILL) == 0);
  CHECK(emitsOf(pool, "function(doc){ emit(1, 1); }", "{}").size() == 1);
  CHECK(pool.processesStarted() == 2);
  CHECK(pool.pids().at(0) != first);
  CHECK(!processExists(first));
}

TEST_CASE("JS pool: a query server that exits without answering is an os_process_error with its status",
          "[js]") {
  PoolOptions o = options();
  o.command = {"/bin/sh", "-c", "read line; exit 3"};
  QueryServerPool pool(o);
  auto r = pool.reduce({"function(k, v){ return 1; }"}, {});
  REQUIRE(!r);
  CHECK(std::string(r.status().error()) == "os_process_error");
  CHECK(r.status().reason() == "the JavaScript process exited with status 3 before it answered");
  CHECK(pool.pids().empty());
  CHECK(zombieChildren() == 0);
}

TEST_CASE("JS pool: callers wait for a free process when all are busy, up to the timeout", "[js]") {
  PoolOptions o = options(nullptr, 1000ms);
  o.maxProcesses = 1;
  QueryServerPool pool(o);
  const std::string busy200 =
      "function(doc){ var t = Date.now(); while (Date.now() - t < 200) {} emit(1, 1); }";
  REQUIRE(pool.mapDocs({{busy200}, ""}, {"{}"}));  // started and warm
  // Each answer comes within the timeout, but the call holds the only process for ~200 ms per document.
  SECTION("a caller waits and then gets the same process") {
    std::thread holder([&] { CHECK(pool.mapDocs({{busy200}, ""}, {"{}", "{}"})); });
    std::this_thread::sleep_for(50ms);
    CHECK(emitsOf(pool, "function(doc){ emit(2, 2); }", "{}").size() == 1);
    holder.join();
    CHECK(pool.processesStarted() == 1);
  }
  SECTION("a caller that waits longer than the timeout gets os_process_error") {
    std::vector<std::string_view> docs(8, "{}");
    std::thread holder([&] { CHECK(pool.mapDocs({{busy200}, ""}, docs)); });
    std::this_thread::sleep_for(50ms);
    auto r = pool.mapDocs({{"function(doc){ emit(2, 2); }"}, ""}, {"{}"});
    REQUIRE(!r);
    CHECK(std::string(r.status().error()) == "os_process_error");
    CHECK(r.status().reason() == "no JavaScript process became free within the os_process_timeout");
    holder.join();
    CHECK(pool.processesStarted() == 1);
  }
}

TEST_CASE("JS pool: COUCHDB_QUERY_SERVER_JAVASCRIPT chooses the query server, as in CouchDB", "[js]") {
  CHECK(queryServerCommand("/x/settee") == std::vector<std::string>{"/x/settee", "js"});
  ::setenv("COUCHDB_QUERY_SERVER_JAVASCRIPT",
           (std::string(SETTEE_BINARY) + " js --max-memory 16777216").c_str(), 1);
  auto command = queryServerCommand("/x/settee");
  ::unsetenv("COUCHDB_QUERY_SERVER_JAVASCRIPT");
  CHECK(command == std::vector<std::string>{
                       "/bin/sh", "-c", "exec " + std::string(SETTEE_BINARY) + " js --max-memory 16777216"});
  PoolOptions o = options();
  o.command = command;
  QueryServerPool pool(o);
  CHECK(emitsOf(pool, "function(doc){ emit(1, 1); }", "{}").size() == 1);
}

TEST_CASE("JS pool: no process is left behind, not even a zombie, once the pool is gone", "[js]") {
  std::vector<pid_t> pids;
  {
    PoolOptions o = options(nullptr, 300ms);
    o.maxProcesses = 3;
    QueryServerPool pool(o);
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i)
      threads.emplace_back([&] { (void)pool.mapDocs({{"function(doc){ emit(1, 1); }"}, ""}, {"{}"}); });
    for (auto& t : threads) t.join();
    (void)pool.mapDocs({{"function(doc){ while(true){} }"}, ""}, {"{}"});
    pids = pool.pids();
    CHECK(!pids.empty());
  }
  for (pid_t p : pids) CHECK(!processExists(p));
  CHECK(zombieChildren() == 0);
}

TEST_CASE("JS query server: in process, every command is answered on one line, errors as CouchDB's", "[js]") {
  std::vector<std::string> logs;
  QueryServer qs({}, [&](std::string_view l) { logs.emplace_back(l); });
  CHECK(qs.handle(R"(["reset",{"reduce_limit":true}])") == "true");
  CHECK(qs.handle(R"(["add_fun","function(doc){ emit(doc.a, null); }"])") == "true");
  CHECK(qs.handle(R"(["map_doc",{"a":[1]}])") == "[[[[1],null]]]");
  CHECK(qs.handle(R"(["nope"])") == R"(["error","unknown_command","unknown command 'nope'"])");
  CHECK(qs.handle("[\"x\xff\"]") == R"(["error","query_protocol_error","the command is not valid UTF-8"])");
  CHECK(qs.handle("not json").rfind(R"(["error","SyntaxError",)", 0) == 0);
  CHECK(qs.handle(R"(["ddoc","_design/none",["filters","f"],[[],{}]])") ==
        R"(["error","query_protocol_error","uncached design doc: _design/none"])");
  CHECK(qs.handle(R"(["ddoc","new","_design/s",{"shows":{"s":"function(){}"}}])") == "true");
  // A show that returns nothing answers an empty response, as CouchDB's render.js does.
  CHECK(qs.handle(R"(["ddoc","_design/s",["shows","s"],[null,{}]])") == R"(["resp",{}])");
  CHECK(qs.handle(R"(["ddoc","_design/s",["nope","s"],[]])") ==
        R"(["error","unknown_command","unknown ddoc command 'nope'"])");
  CHECK(!qs.broken());
  CHECK(logs.empty());
}
