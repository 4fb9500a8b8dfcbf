// The request object a render function gets and the reading of the response object it answers, as
// CouchDB's chttpd_external builds and reads them.
#include "http/handlers/design_render.h"

#include <simdjson.h>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "db/crypto.h"
#include "http/handlers/db_info.h"

namespace settee::http::detail {

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

void writePairs(db::JsonWriter& w, const Pairs& pairs) {
  w.StartObject();
  for (const auto& [key, value] : pairs) {
    db::writeKey(w, key);
    db::writeString(w, value);
  }
  w.EndObject();
}

void writeSegments(db::JsonWriter& w, const std::vector<std::string>& segments) {
  w.StartArray();
  for (const auto& s : segments) db::writeString(w, s);
  w.EndArray();
}

// "a=1&b=x+y" as decoded pairs (form bodies, and the query of a requested path).
Pairs parseQueryString(std::string_view text) {
  Pairs out;
  while (!text.empty()) {
    size_t amp = text.find('&');
    std::string_view part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    auto k = percentDecode(key, true);
    auto v = percentDecode(value, true);
    out.emplace_back(k ? *k : std::string(key), v ? *v : std::string(value));
  }
  return out;
}

// "a=b; c=\"d\"" as pairs, quotes taken off, as mochiweb's parse_cookie.
Pairs parseCookies(std::string_view header) {
  Pairs out;
  while (!header.empty()) {
    size_t semi = header.find_first_of(";,");
    std::string_view part = trimWhitespace(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    size_t eq = part.find('=');
    if (part.empty() || eq == std::string_view::npos) continue;
    std::string_view key = trimWhitespace(part.substr(0, eq));
    std::string_view value = trimWhitespace(part.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (!key.empty()) out.emplace_back(std::string(key), std::string(value));
  }
  return out;
}

// The decoded segments of a path such as "/db/_design/x/_show/y?a=b".
std::vector<std::string> pathSegments(std::string_view path) {
  std::vector<std::string> out;
  path = path.substr(0, path.find('?'));
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view s = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (s.empty()) continue;
    auto d = percentDecode(s, false);
    out.push_back(d ? *d : std::string(s));
  }
  return out;
}

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equalsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// How Erlang's ~p prints a decoded JSON value, for external_response_error's reason.
void erlangTerm(simdjson::dom::element e, std::string& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      out += "<<\"";
      for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += "\">>";
      return;
    }
    case simdjson::dom::element_type::OBJECT: {
      out += "{[";
      bool first = true;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto field : obj) {
        if (!first) out += ",";
        first = false;
        out += "{<<\"" + std::string(field.key) + "\">>,";
        erlangTerm(field.value, out);
        out += "}";
      }
      out += "]}";
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out += "[";
      bool first = true;
      simdjson::dom::array arr = e.get_array().value_unsafe();
      for (auto item : arr) {
        if (!first) out += ",";
        first = false;
        erlangTerm(item, out);
      }
      out += "]";
      return;
    }
    default:
      out += simdjson::minify(e);
  }
}

Response externalError(std::string reason) { return Response::error(500, "external_response_error", reason); }

}  // namespace

Result<std::string> renderRequestJson(Call& call, std::optional<std::string_view> docId,
                                      RequestFields fields) {
  const bool all = fields == RequestFields::All;
  std::optional<DatabaseInfo> info;
  if (all) {
    auto got = call.db->info();
    if (!got) return got.status();
    info = std::move(*got);
  }
  std::string secObj = "{}";
  if (auto security = call.db->security(); security && !security->empty()) secObj = std::move(*security);
  const Request& req = call.req;
  return writeJson([&](db::JsonWriter& w) {
    w.StartObject();
    if (all) {
      db::writeKey(w, "info");
      writeDbInfo(w, *info);
      db::writeKey(w, "uuid");
      db::writeString(w, db::randomHex(16));
      db::writeKey(w, "id");
      if (docId)
        db::writeString(w, *docId);
      else
        w.Null();
    }
    db::writeKey(w, "method");
    db::writeString(w, req.method);
    // A rewritten request carries the path its client asked for, as CouchDB's x-couchdb-requested-path.
    db::writeKey(w, "requested_path");
    if (const std::string* asked = req.header("x-couchdb-requested-path"))
      writeSegments(w, pathSegments(*asked));
    else
      writeSegments(w, req.segments);
    db::writeKey(w, "path");
    writeSegments(w, req.segments);
    db::writeKey(w, "raw_path");
    db::writeString(w, req.target);
    db::writeKey(w, "query");
    w.StartObject();
    simdjson::dom::parser parser;
    for (const auto& [key, value] : req.query) {
      db::writeKey(w, key);
      simdjson::dom::element parsed;
      if ((key == "key" || key == "startkey" || key == "endkey" || key == "descending") &&
          !parser.parse(value).get(parsed))
        db::writeElement(w, parsed);
      else
        db::writeString(w, value);
    }
    w.EndObject();
    db::writeKey(w, "headers");
    writePairs(w, req.headers);
    db::writeKey(w, "body");
    db::writeString(w, req.body.empty() ? std::string_view("undefined") : std::string_view(req.body));
    db::writeKey(w, "peer");
    db::writeString(w, req.peer);
    if (all) {
      db::writeKey(w, "form");
      const std::string* type = req.header("Content-Type");
      if (type && startsWithNoCase(*type, "application/x-www-form-urlencoded") &&
          (req.method == "POST" || req.method == "PUT"))
        writePairs(w, parseQueryString(req.body));
      else
        writePairs(w, {});
    }
    db::writeKey(w, "cookie");
    const std::string* cookie = req.header("Cookie");
    writePairs(w, cookie ? parseCookies(*cookie) : Pairs{});
    db::writeKey(w, "userCtx");
    db::writeRaw(w, userCtxJson(call.dbName, call.user.name, call.user.roles, call.user.isAdmin()));
    db::writeKey(w, "secObj");
    db::writeRaw(w, secObj);
    w.EndObject();
  });
}

Result<DesignDocCopy> openDesignDoc(Call& call, std::string_view name) {
  std::string id = "_design/" + std::string(name);
  auto json = call.db->get(id);
  if (!json) return json.status();
  return DesignDocCopy{std::move(id), std::move(*json)};
}

Status requireFunction(const DesignDocCopy& ddoc, std::string_view member, std::string_view name) {
  simdjson::dom::parser parser;
  simdjson::dom::object root, group;
  if (parser.parse(ddoc.json).get(root)) return notFound("json_mismatch");
  simdjson::dom::element value;
  if (root[member].get(value)) return notFound("missing json key: " + std::string(member));
  if (value.get_object().get(group)) return notFound("json_mismatch");
  if (group[name].get(value)) return notFound("missing json key: " + std::string(name));
  return Status::ok();
}

Response externalResponse(std::string_view responseJson, const Headers& extraHeaders,
                          std::optional<int> code) {
  simdjson::dom::parser parser;
  simdjson::dom::object resp;
  if (parser.parse(responseJson).get(resp)) return externalError("Invalid data from external server");
  int status = code.value_or(200);
  std::string contentType = "application/json";
  std::string body;
  Headers headers;
  for (auto field : resp) {
    std::string_view key = field.key;
    simdjson::dom::element value = field.value;
    int64_t n = 0;
    bool flag = false;
    std::string_view text;
    if (key == "code" && !value.get_int64().get(n) && n >= 100 && n <= 599) {
      status = static_cast<int>(n);
    } else if (key == "stop" && !value.get_bool().get(flag) && flag) {
      // a leftover of _external: means nothing here
    } else if (key == "json") {
      body = simdjson::minify(value) + "\n";
      contentType = "application/json";
    } else if (key == "body") {
      body = value.get_string().get(text) ? simdjson::minify(value) : std::string(text);
      contentType = "text/html; charset=utf-8";
    } else if (key == "base64" && !value.get_string().get(text)) {
      auto bytes = db::base64Decode(text);
      if (!bytes) return externalError("Invalid data from external server: the base64 body does not decode");
      body = std::move(*bytes);
      contentType = "application/binary";
    } else if (simdjson::dom::object h; key == "headers" && !value.get_object().get(h)) {
      headers.clear();
      for (auto hv : h) {
        std::string_view s;
        headers.emplace_back(std::string(hv.key),
                             hv.value.get_string().get(s) ? simdjson::minify(hv.value) : std::string(s));
      }
    } else {
      std::string term = "{<<\"" + std::string(key) + "\">>,";
      erlangTerm(value, term);
      return externalError("Invalid data from external server: " + term + "}");
    }
  }
  Response r;
  r.status = status;
  r.headers = std::move(headers);
  for (const auto& [name, value] : extraHeaders) r.setHeader(name, value);
  if (!r.header("Content-Type")) r.headers.emplace_back("Content-Type", contentType);
  r.body = std::move(body);
  return r;
}

Response renderError(const Status& status) {
  std::string_view name = status.error();
  if (name == "not_found") return Response::error(404, "not_found", status.reason());
  if (name == "not_acceptable") return Response::error(406, "not_acceptable", status.reason());
  if (status.code() == ErrorCode::Forbidden || status.code() == ErrorCode::Unauthorized ||
      status.code() == ErrorCode::NotFound || status.code() == ErrorCode::Conflict)
    return errorResponse(status);
  return Response::error(500, name, status.reason());
}

std::string etagOf(std::string_view parts) {
  auto raw = db::base64Decode(db::md5Digest(parts).substr(4));  // the 16 bytes of the digest
  std::vector<unsigned> digits;
  if (raw)
    for (unsigned char c : *raw) digits.push_back(c);
  std::string out;
  // Long division of the big-endian byte string by 36 until nothing is left.
  while (!digits.empty()) {
    unsigned rest = 0;
    std::vector<unsigned> next;
    for (unsigned d : digits) {
      unsigned cur = rest * 256 + d;
      if (!next.empty() || cur / 36) next.push_back(cur / 36);
      rest = cur % 36;
    }
    out.insert(out.begin(), "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest]);
    digits.swap(next);
  }
  return "\"" + (out.empty() ? std::string("0") : out) + "\"";
}

std::string urlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace settee::http::detail
