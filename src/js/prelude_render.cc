// js/prelude_render.cc — the render half of the query server's JavaScript (see prelude.cc, which holds
// the rest): content negotiation (registerType, provides), start/send/getRow, and the render commands
// shows, updates, lists and rewrites, as CouchDB's share/server/render.js answers them. It is spliced
// into the prelude's closure, so it sees the prelude's helpers (log, stringify, isArray, writeLog,
// readLine) and the prelude sees its functions and `renderDispatch`.
#include "js/prelude.h"

namespace settee::js::detail {

const char kPreludeRender[] = R"JS(
  function trim(s) { return String(s).replace(/^\s+/, "").replace(/\s+$/, ""); }
  function typeOf(v) {
    if (v === null) return "null";
    if (isArray(v)) return "array";
    return typeof v;
  }
  // A show, update or list may answer a plain string: it is the body.
  function wrap(resp) { return typeof resp === "string" ? {body: resp} : resp; }

  // ---- Content negotiation: registerType() names media types, provides() offers a rendering per name,
  // and the request's ?format= or Accept header picks one (best match by q and specificity, as CouchDB's
  // mimeparse). Names registered stay for the life of the process, as in couchjs.
  var mimesByKey = {}, keysByMime = {};
  function registerType(key) {
    var mimes = [];
    for (var i = 1; i < arguments.length; i++) mimes[mimes.length] = String(arguments[i]);
    mimesByKey[key] = mimes;
    for (var j = 0; j < mimes.length; j++) keysByMime[mimes[j]] = key;
  }
  registerType("all", "*/*");
  registerType("text", "text/plain; charset=utf-8", "txt");
  registerType("html", "text/html; charset=utf-8");
  registerType("xhtml", "application/xhtml+xml", "xhtml");
  registerType("xml", "application/xml", "text/xml", "application/x-xml");
  registerType("js", "text/javascript", "application/javascript", "application/x-javascript");
  registerType("css", "text/css");
  registerType("ics", "text/calendar");
  registerType("csv", "text/csv");
  registerType("rss", "application/rss+xml");
  registerType("atom", "application/atom+xml");
  registerType("yaml", "application/x-yaml", "text/yaml");
  registerType("multipart_form", "multipart/form-data");
  registerType("url_encoded_form", "application/x-www-form-urlencoded");
  registerType("json", "application/json", "text/x-json");

  // What the current show or list offers and what was chosen; reset before each.
  var M = {offers: [], used: false, contentType: null};
  function provides(type, fun) {
    M.used = true;
    M.offers[M.offers.length] = [type, fun];
  }
  function resetProvides() {
    M.offers = [];
    M.used = false;
    M.contentType = null;
  }
  // A media range "type/sub; p=v; q=0.5" as {type, sub, params, q}; q outside 0..1 or unreadable is 1.
  function mediaRange(text) {
    var parts = String(text).split(";"), params = {};
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].split("=");
      if (kv.length === 2) params[trim(kv[0])] = trim(kv[1]);
    }
    var full = trim(parts[0]);
    if (full === "*") full = "*/*";
    var ts = full.split("/"), q = 1;
    if (params.q) {
      q = parseFloat(params.q);
      if (isNaN(q) || q > 1 || q < 0) q = 1;
    }
    return {type: ts[0], sub: ts[1], params: params, q: q};
  }
  // How well `mime` fits the best of `ranges` (-1: not at all), and that range's q.
  function fitness(mime, ranges) {
    var t = mediaRange(mime), best = -1, bestQ = 0;
    for (var i = 0; i < ranges.length; i++) {
      var r = ranges[i];
      if ((r.type === t.type || r.type === "*" || t.type === "*") &&
          (r.sub === t.sub || r.sub === "*" || t.sub === "*")) {
        var f = (r.type === t.type ? 100 : 0) + (r.sub === t.sub ? 10 : 0);
        for (var p in t.params)
          if (p !== "q" && hasOwn.call(r.params, p) && r.params[p] === t.params[p]) f += 1;
        if (f > best) {
          best = f;
          bestQ = r.q;
        }
      }
    }
    return [best, bestQ];
  }
  // The supported type the Accept header prefers: highest fitness, then q, then the later one; "" when
  // the best has q=0 or none fits.
  function bestMatch(supported, accept) {
    var ranges = [], parts = String(accept).split(","), i;
    for (i = 0; i < parts.length; i++) ranges[i] = mediaRange(parts[i]);
    var at = -1, bf = 0, bq = 0;
    for (i = 0; i < supported.length; i++) {
      var w = fitness(supported[i], ranges);
      if (at < 0 || w[0] > bf || (w[0] === bf && w[1] >= bq)) {
        at = i;
        bf = w[0];
        bq = w[1];
      }
    }
    return at >= 0 && bq ? supported[at] : "";
  }
  function runProvides(req, ddoc) {
    var offers = M.offers, key = null, fun, i;
    var headers = req && req.headers, query = req && req.query;
    var accept = headers && typeof headers === "object" ? headers["Accept"] : undefined;
    if (query && typeof query === "object" && query.format) {
      key = query.format;
      M.contentType = hasOwn.call(mimesByKey, key) ? mimesByKey[key][0] : null;
    } else if (accept) {
      // Later offers are listed first, so that on a tie the first offer (the last listed) wins.
      offers.reverse();
      var supported = [];
      for (i = 0; i < offers.length; i++)
        if (hasOwn.call(mimesByKey, offers[i][0])) supported = supported.concat(mimesByKey[offers[i][0]]);
      M.contentType = bestMatch(supported, accept);
      key = hasOwn.call(keysByMime, M.contentType) ? keysByMime[M.contentType] : null;
    } else if (offers.length) {
      key = offers[0][0];
      M.contentType = hasOwn.call(mimesByKey, key) ? mimesByKey[key][0] : null;
    }
    if (key !== null) {
      for (i = 0; i < offers.length; i++) {
        if (offers[i][0] == key) {
          fun = offers[i][1];
          break;
        }
      }
    }
    if (typeof fun === "function") return fun.call(ddoc);
    var names = [];
    for (i = 0; i < offers.length; i++) {
      var k = offers[i][0];
      names[i] = (hasOwn.call(mimesByKey, k) ? mimesByKey[k].join(", ") : "") || k;
    }
    throw ["error", "not_acceptable",
           "Content-Type " + (accept || key) + " not supported, try one of: " + names.join(", ")];
  }

  // ---- Rendering: start() and send() build an answer in chunks; getRow() (lists only) hands the chunks
  // so far to the node and reads the next row.
  var R = {chunks: [], startResp: {}, newHeader: false, gotRow: false, lastRow: false, listing: false};
  function resetRender() {
    R.chunks = [];
    R.startResp = {};
    R.newHeader = false;
    R.gotRow = false;
    R.lastRow = false;
  }
  function start(resp) {
    R.startResp = resp || {};
    R.newHeader = true;
  }
  function send(chunk) { R.chunks[R.chunks.length] = String(chunk); }
  function withContentType(resp, type) {
    if (resp === null || typeof resp !== "object") resp = {};
    if (resp.headers === null || typeof resp.headers !== "object") resp.headers = {};
    if (type && !resp.headers["Content-Type"]) resp.headers["Content-Type"] = type;
    return resp;
  }
  // [label, chunks] (with the headers start() gave since the last one), and the chunks emptied.
  function chunksLine(label) {
    var line = R.newHeader ? stringify([label, R.chunks, R.startResp]) : stringify([label, R.chunks]);
    R.newHeader = false;
    R.chunks = [];
    return line;
  }
  function getRow() {
    if (!R.listing) throw ["error", "list_error", "getRow() is only available in list functions"];
    if (R.lastRow) return null;
    if (!R.gotRow) {
      R.gotRow = true;
      R.startResp = withContentType(R.startResp, M.contentType);
      writeLog(stringify(["start", R.chunks, R.startResp]));
      R.chunks = [];
      R.startResp = {};
      R.newHeader = false;
    } else {
      writeLog(chunksLine("chunks"));
    }
    var line = readLine();
    if (typeof line !== "string") throw ["fatal", "list_error", "the input ended inside a list"];
    var cmd = parse(line);
    if (isArray(cmd) && cmd[0] === "list_end") {
      R.lastRow = true;
      return null;
    }
    if (!isArray(cmd) || cmd[0] !== "list_row") throw ["fatal", "list_error", "not a row '" + (isArray(cmd) ? cmd[0] : cmd) + "'"];
    return cmd[1];
  }
  // A render function's own throw of {error, reason} or ["error", ...] passes as it is; anything else is
  // logged and becomes render_error, as in CouchDB.
  function renderError(e) {
    if ((e !== null && typeof e === "object" && e.error && e.reason) ||
        (isArray(e) && (e[0] === "error" || e[0] === "fatal")))
      throw e;
    var stack = e !== null && typeof e === "object" ? e.stack : undefined;
    var message = "function raised error: " + describeRender(e) + " \nstacktrace: " + stack;
    log(message);
    throw ["error", "render_error", message];
  }
  function describeRender(e) {
    try {
      return String(e);
    } catch (x) {
      return describe(e);
    }
  }


  var renderDispatch = {
    // shows/<name>(doc, req): ["resp", response]. A response is an object ({body}, {json}, {base64},
    // {code}, {headers}) or a string (the body).
    shows: function (fun, ddoc, args) {
      if (!isArray(args)) throw ["error", "query_protocol_error", "a show takes [doc, req]"];
      try {
        resetRender();
        resetProvides();
        var resp = wrap(fun.apply(ddoc, args) || {});
        if (R.chunks.length > 0 && resp !== null && typeof resp === "object") {
          // send() in a show: the chunks come before the returned body, with start()'s headers and code.
          var started = R.startResp !== null && typeof R.startResp === "object" ? R.startResp : {};
          if (started.headers !== null && typeof started.headers === "object") {
            resp.headers = resp.headers || {};
            for (var h in started.headers) resp.headers[h] = started.headers[h];
          }
          if (started.code !== undefined && resp.code === undefined) resp.code = started.code;
          resp.body = R.chunks.join("") + (resp.body || "");
          resetRender();
        }
        if (M.used && resp !== null && typeof resp === "object") {
          var offered = wrap(runProvides(args[1], ddoc) || {});
          resp.body = (resp.body || "") + R.chunks.join("") + ((offered && offered.body) || "");
          resp = withContentType(resp, M.contentType);
          resetRender();
        }
        var type = typeOf(resp);
        if (type !== "object" && type !== "string")
          throw ["error", "render_error", "undefined response from show function"];
        return stringify(["resp", wrap(resp)]);
      } catch (e) {
        // A show of a document that does not exist may fail on the null: that is the missing document.
        var req = args[1];
        if (args[0] === null && req !== null && typeof req === "object" && isArray(req.path) && req.path.length > 5)
          throw ["error", "not_found", "document not found"];
        renderError(e);
      }
    },
    // updates/<name>(doc, req) returns [doc to write or null, response]: ["up", doc, response].
    updates: function (fun, ddoc, args) {
      if (!isArray(args)) throw ["error", "query_protocol_error", "an update takes [doc, req]"];
      try {
        var req = args[1];
        if (req !== null && typeof req === "object" && req.method === "GET")
          throw ["error", "method_not_allowed", "Update functions do not allow GET"];
        var result = fun.apply(ddoc, args);
        var doc = result[0], resp = result[1], type = typeOf(resp);
        if (type !== "object" && type !== "string")
          throw ["error", "render_error", "undefined response from update function"];
        return stringify(["up", doc === undefined ? null : doc, wrap(resp)]);
      } catch (e) {
        renderError(e);
      }
    },
    // lists/<name>(head, req): the rows come one command at a time through getRow(); the last answer is
    // ["end", chunks].
    lists: function (fun, ddoc, args) {
      if (!isArray(args)) throw ["error", "query_protocol_error", "a list takes [head, req]"];
      try {
        resetProvides();
        resetRender();
        R.listing = true;
        var tail = fun.apply(ddoc, args);
        if (M.used) tail = runProvides(args[1], ddoc);
        if (!R.gotRow) getRow();
        if (tail !== undefined) R.chunks[R.chunks.length] = typeof tail === "string" ? tail : stringify(tail);
        return chunksLine("end");
      } catch (e) {
        renderError(e);
      } finally {
        R.listing = false;
      }
    },
    // rewrites(req): ["ok", {path, query, headers, method, body} or {code, body, headers}], or
    // ["no_dispatch_rule"] when the function answers nothing. A string answer is the path.
    rewrites: function (fun, ddoc, args) {
      if (!isArray(args)) throw ["error", "query_protocol_error", "a rewrite takes [req]"];
      var result;
      try {
        result = fun.apply(ddoc, args);
      } catch (e) {
        // As from validate_doc_update, {forbidden: m} and {unauthorized: m} refuse the request.
        if (e !== null && typeof e === "object" && !(e instanceof Error) &&
            (typeof e.forbidden === "string" || typeof e.unauthorized === "string"))
          return stringify(typeof e.forbidden === "string" ? {forbidden: e.forbidden} : {unauthorized: e.unauthorized});
        renderError(e);
      }
      if (!result) return stringify(["no_dispatch_rule"]);
      if (typeof result === "string") {
        var req = args[0];
        result = {path: result, method: req !== null && typeof req === "object" ? req.method : undefined};
      }
      return stringify(["ok", result]);
    }
  };
)JS";

}  // namespace settee::js::detail
