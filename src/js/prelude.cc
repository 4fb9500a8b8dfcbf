// js/prelude.cc — the JavaScript half of the query server: what CouchDB's share/server/*.js answer
// (views, reduces, filters, validate_doc_update, shows, updates, lists, rewrites), written for Duktape's
// ES5.1.
//
// The prelude is a program whose value is a function; query_server.cc calls it once per heap with three
// natives (writeLog(line), quit(), readLine()) and keeps the handler it returns in the heap stash, where
// user code cannot reach or replace it. handle(line, lineLength) answers one protocol line with one JSON
// text and never throws: every error becomes CouchDB's ["error", name, reason]. A list function is the one
// command that takes more than one line: getRow() writes the answer so far (["start", ...] or
// ["chunks", ...]) with writeLog and reads the next command (list_row or list_end) with readLine, as
// couchjs does on its stdin and stdout. The render half (content negotiation, start/send/getRow and the
// render commands) is in prelude_render.cc, spliced between kPreludeStart and kPreludeEnd.
#include "js/prelude.h"

namespace settee::js::detail {

const char kPreludeStart[] = R"JS((function (writeLog, quit, readLine) {
  "use strict";
  // Kept before any user code runs: a function that replaces JSON.stringify or Array.isArray must not
  // be able to change what the protocol writes.
  var parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray, freeze = Object.freeze;
  var hasOwn = Object.prototype.hasOwnProperty;

  var S = {funs: [], lib: null, config: {}, ddocs: {}, emits: null, filtering: false, emitted: false,
           lineLength: 0};

  function describe(e) {
    if (e instanceof Error) return e.name + ": " + e.message;
    try {
      var s = stringify(e);
      return s === undefined ? String(e) : s;
    } catch (x) {
      return String(e);
    }
  }

  function toJSON(v) { return stringify(v); }
  function log(message) {
    if (typeof message !== "string") message = stringify(message);
    writeLog(stringify(["log", String(message)]));
  }
  function emit(key, value) {
    if (S.filtering) {
      S.emitted = true;
      return;
    }
    var e = S.emits;
    if (e === null) throw ["error", "invalid_emit", "emit() is only available in map functions"];
    e[e.length] = [key, value];
  }
  function sum(values) {
    var r = 0;
    for (var i = 0; i < values.length; i++) r += values[i];
    return r;
  }
)JS";

const char kPreludeEnd[] = R"JS(
  // Modules loaded by require() and non-ES5 code see the same helpers as globals, as in CouchDB.
  var g = (function () { return this; }).call(null) || Function("return this")();
  g.emit = emit; g.log = log; g.sum = sum; g.isArray = isArray; g.toJSON = toJSON;
  g.getRow = getRow; g.send = send; g.start = start; g.provides = provides; g.registerType = registerType;

  // CouchDB seals the document a map function gets, so that one view cannot change what the next sees.
  function seal(obj) {
    if (obj !== null && typeof obj === "object") {
      freeze(obj);
      for (var k in obj) seal(obj[k]);
    }
  }

  function trimEnd(s) {
    var n = s.length;
    while (n > 0) {
      var c = s.charAt(n - 1);
      if (c !== ";" && c !== " " && c !== "\n" && c !== "\r" && c !== "\t") break;
      n--;
    }
    return s.substring(0, n);
  }

  // CommonJS over a design document's members, as CouchDB's require(): paths are relative to the ddoc
  // (or to the requiring module for ./ and ../), and each module runs once per function.
  function resolveModule(names, mod, root) {
    if (names.length === 0) {
      if (typeof mod.current !== "string")
        throw ["error", "invalid_require_path", "Must require a JavaScript string, not: " + typeof mod.current];
      return {current: mod.current, parent: mod.parent, id: mod.id, exports: {}};
    }
    var n = names.shift();
    if (n === "..") {
      if (!(mod.parent && mod.parent.parent))
        throw ["error", "invalid_require_path", "Object has no parent " + stringify(mod.current)];
      return resolveModule(names, {id: mod.id.slice(0, mod.id.lastIndexOf("/")), parent: mod.parent.parent,
                                   current: mod.parent.current});
    } else if (n === ".") {
      if (!mod.parent) throw ["error", "invalid_require_path", "Object has no parent " + stringify(mod.current)];
      return resolveModule(names, {parent: mod.parent, current: mod.current, id: mod.id});
    } else if (root) {
      mod = {current: root};
    }
    if (mod.current === null || typeof mod.current !== "object" || mod.current[n] === undefined)
      throw ["error", "invalid_require_path", "Object has no property \"" + n + "\". " + stringify(mod.current)];
    return resolveModule(names, {current: mod.current[n], parent: mod, id: mod.id ? mod.id + "/" + n : n});
  }

  function makeRequire(ddoc) {
    var cache = {};
    function require(name, module) {
      module = module || {};
      var m = resolveModule(String(name).split("/"), module.parent, ddoc);
      if (!hasOwn.call(cache, m.id)) {
        cache[m.id] = {};  // before running it, so that circular requires end
        try {
          var f = Function("module", "exports", "require", m.current + "\n");
          f.call(null, m, m.exports, function (n) { return require(n, m); });
        } catch (e) {
          throw ["error", "compilation_error", "Module require('" + name + "') raised error " + describe(e)];
        }
        cache[m.id] = m.exports;
      }
      return cache[m.id];
    }
    return require;
  }

  // A function's source is an expression ("function(doc){...}"). It is evaluated inside a maker whose
  // parameters are CouchDB's helpers, so each function has its own emit, log and require.
  function compile(source, ddoc) {
    if (!source) throw ["error", "not_found", "missing function"];
    source = String(source);
    var maker, fun;
    try {
      maker = Function("require", "emit", "log", "sum", "isArray", "toJSON", "getRow", "send", "start",
                       "provides", "registerType", "return (" + trimEnd(source) + "\n);");
      fun = maker(makeRequire(ddoc), emit, log, sum, isArray, toJSON, getRow, send, start, provides,
                  registerType);
    } catch (e) {
      throw ["error", "compilation_error", describe(e) + " (" + source + ")"];
    }
    if (typeof fun !== "function")
      throw ["error", "compilation_error", "Expression does not eval to a function. (" + source + ")"];
    return fun;
  }

  // A map or reduce function that throws is logged and yields nothing for that input, as in CouchDB;
  // only "fatal_error" and ["fatal", ...] stop the whole command.
  function viewError(e, doc) {
    if (e === "fatal_error") throw ["error", "map_runtime_error", "function raised 'fatal_error'"];
    if (isArray(e) && e[0] === "fatal") throw e;
    var message = "function raised exception " + describe(e);
    if (doc) message += " with doc._id " + doc._id;
    log(message);
  }

  function mapDoc(doc) {
    seal(doc);
    var out = new Array(S.funs.length);
    for (var i = 0; i < S.funs.length; i++) {
      S.emits = [];
      var text;
      try {
        S.funs[i](doc);
        text = stringify(S.emits);
      } catch (e) {
        viewError(e, doc);
        text = "[]";
      }
      out[i] = text;
    }
    S.emits = null;
    return "[" + out.join(",") + "]";
  }

  function runReduce(sources, keys, values, rereduce) {
    if (!isArray(sources) || !isArray(values))
      throw ["error", "query_protocol_error", "reduce takes a list of functions and a list of values"];
    var funs = [], codeSize = 0, i;
    for (i = 0; i < sources.length; i++) {
      codeSize += String(sources[i]).length;
      funs[i] = compile(sources[i], {views: {lib: S.lib}});
    }
    var reductions = new Array(funs.length);
    for (i = 0; i < funs.length; i++) {
      try {
        reductions[i] = funs[i](keys, values, rereduce);
      } catch (e) {
        viewError(e);
        reductions[i] = null;
      }
    }
    var line = stringify(reductions);
    var inputLength = S.lineLength - codeSize;
    if (S.config && S.config.reduce_limit && line.length > 4096 && line.length * 2 > inputLength) {
      var message = ["Reduce output must shrink more rapidly:", "input size:", inputLength, "output size:",
                     line.length].join(" ");
      if (S.config.reduce_limit === "log") log("reduce_overflow_error: " + message);
      else throw ["error", "reduce_overflow_error", message];
    }
    return "[true," + line + "]";
  }

  function reduce(sources, kvs) {
    if (!isArray(kvs)) throw ["error", "query_protocol_error", "reduce takes a list of [[key, id], value]"];
    var keys = new Array(kvs.length), values = new Array(kvs.length);
    for (var i = 0; i < kvs.length; i++) {
      var kv = kvs[i];
      if (!isArray(kv)) throw ["error", "query_protocol_error", "reduce takes a list of [[key, id], value]"];
      keys[i] = kv[0];
      values[i] = kv[1];
    }
    return runReduce(sources, keys, values, false);
  }

  function docsOf(args) {
    if (!isArray(args) || !isArray(args[0]))
      throw ["error", "query_protocol_error", "this design function takes [[docs...], ...]"];
    return args[0];
  }

  var ddocDispatch = {
    filters: function (fun, ddoc, args) {
      var docs = docsOf(args), req = args[1], r = new Array(docs.length);
      for (var i = 0; i < docs.length; i++) r[i] = (fun.apply(ddoc, [docs[i], req]) && true) || false;
      return stringify([true, r]);
    },
    // filter=_view: the map function as a filter, passing the documents it emits anything for.
    views: function (fun, ddoc, args) {
      var docs = docsOf(args), r = new Array(docs.length);
      S.filtering = true;
      try {
        for (var i = 0; i < docs.length; i++) {
          S.emitted = false;
          fun.apply(ddoc, [docs[i]]);
          r[i] = S.emitted;
        }
      } finally {
        S.filtering = false;
      }
      return stringify([true, r]);
    },
    validate_doc_update: function (fun, ddoc, args) {
      if (!isArray(args)) throw ["error", "query_protocol_error", "validate_doc_update takes a list of arguments"];
      try {
        fun.apply(ddoc, args);
        return "1";
      } catch (e) {
        if (e instanceof Error) throw e;
        var answer = stringify(e);
        return answer === undefined ? "null" : answer;
      }
    }
  };

  for (var kind in renderDispatch) ddocDispatch[kind] = renderDispatch[kind];

  function ddocCommand(cmd) {
    if (cmd[1] === "new") {
      if (typeof cmd[2] !== "string" || cmd[3] === null || typeof cmd[3] !== "object")
        throw ["error", "query_protocol_error", "ddoc new takes an id and a design document"];
      S.ddocs[cmd[2]] = cmd[3];
      return "true";
    }
    var id = cmd[1], path = cmd[2];
    if (typeof id !== "string" || !hasOwn.call(S.ddocs, id))
      throw ["error", "query_protocol_error", "uncached design doc: " + id];
    if (!isArray(path) || path.length === 0 || typeof path[0] !== "string")
      throw ["error", "query_protocol_error", "a design function's path is a non-empty list of names"];
    var responder = hasOwn.call(ddocDispatch, path[0]) ? ddocDispatch[path[0]] : null;
    if (!responder) throw ["error", "unknown_command", "unknown ddoc command '" + path[0] + "'"];
    var ddoc = S.ddocs[id], point = ddoc, fun;
    for (var i = 0; i < path.length; i++) {
      var name = String(path[i]);
      var next = point !== null && typeof point === "object" && hasOwn.call(point, name) ? point[name] : undefined;
      if (i + 1 === path.length) {
        if (!next) throw ["error", "not_found", "missing " + path[0] + " function " + name + " on design doc " + id];
        // Compiled once per process and kept in place of the source, as CouchDB does.
        if (typeof next !== "function") point[name] = next = compile(next, ddoc);
        fun = next;
      } else {
        if (next === undefined) throw ["error", "not_found", "missing " + path[0] + " function " + name +
                                       " on design doc " + id];
        point = next;
      }
    }
    return responder(fun, ddoc, cmd[3]);
  }

  function errorAnswer(e) {
    if (isArray(e) && (e[0] === "error" || e[0] === "fatal")) {
      if (e[0] === "fatal") quit();
      return stringify(["error", String(e[1]), typeof e[2] === "string" ? e[2] : describe(e[2])]);
    }
    if (e !== null && typeof e === "object" && !(e instanceof Error) && e.error && e.reason)
      return stringify(["error", String(e.error), String(e.reason)]);
    if (e instanceof Error) return stringify(["error", String(e.name), String(e.message)]);
    return stringify(["error", "unnamed_error", describe(e)]);
  }

  function dispatch(cmd) {
    if (!isArray(cmd) || typeof cmd[0] !== "string")
      throw ["error", "query_protocol_error", "a command is a JSON array that starts with its name"];
    switch (cmd[0]) {
      case "reset":
        S.funs = [];
        S.lib = null;
        S.config = cmd[1] !== null && typeof cmd[1] === "object" ? cmd[1] : {};
        return "true";
      case "add_lib":
        S.lib = cmd[1];
        return "true";
      case "add_fun":
        S.funs[S.funs.length] = compile(cmd[1], {views: {lib: S.lib}});
        return "true";
      case "map_doc":
        return mapDoc(cmd[1]);
      case "reduce":
        return reduce(cmd[1], cmd[2]);
      case "rereduce":
        return runReduce(cmd[1], null, cmd[2], true);
      case "ddoc":
        return ddocCommand(cmd);
      default:
        throw ["error", "unknown_command", "unknown command '" + cmd[0] + "'"];
    }
  }

  return function handle(line, lineLength) {
    S.lineLength = lineLength;
    try {
      return dispatch(parse(line));
    } catch (e) {
      S.emits = null;
      S.filtering = false;
      try {
        return errorAnswer(e);
      } catch (x) {
        return "[\"error\",\"unnamed_error\",\"an error that cannot be described\"]";
      }
    }
  };
}))JS";

}  // namespace settee::js::detail
