#!/usr/bin/env python3
"""Writes the seed corpora in tools/fuzz/corpus/<target>/ from the recorded CouchDB transcripts
(../shared/transcripts or $SETTEE_TRANSCRIPTS) and a few hand-written inputs shaped like the unit tests'.

Run it again after changing it; the corpus it writes is committed (small files, well under 1 MB in all),
so tools/fuzz.sh needs neither this script nor the transcripts.
"""
import gzip
import hashlib
import json
import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")
TRANSCRIPTS = os.environ.get("SETTEE_TRANSCRIPTS",
                             os.path.join(ROOT, "..", "..", "..", "shared", "transcripts"))
MAX_SEED = 8192  # bytes; libFuzzer's default -max_len is 4096, longer seeds are cut by it anyway

seeds = {}


def add(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    data = data[:MAX_SEED]
    seeds.setdefault(target, {})[hashlib.sha1(data).hexdigest()[:16]] = data


def exchanges(path):
    """(request line, request headers, request body, status, response headers, response body) per exchange."""
    text = open(path, encoding="utf-8", errors="surrogateescape").read()
    for block in re.split(r"^===== ", text, flags=re.M)[1:]:
        head, _, rest = block.partition("\n")
        request, _, response = rest.partition("\n----- ")
        status_line, _, response = response.partition("\n")

        def split(part):
            headers, body = [], []
            lines = part.split("\n")
            i = 0
            while i < len(lines) and lines[i].startswith("  "):
                name, _, value = lines[i].strip().partition(": ")
                headers.append((name, value))
                i += 1
            body = "\n".join(lines[i:]).strip("\n")
            body = re.split(r"\n\n\n|\n# ", body)[0] if body else ""
            return headers, body

        rq_headers, rq_body = split(request)
        rs_headers, rs_body = split(response)
        status = status_line.split(" ")[0]
        yield head, rq_headers, rq_body, status, rs_headers, rs_body


def header(headers, name):
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def asked_bulk_get(request, answer):
    """{"id": [revs]} of a _bulk_get request (or, when it is cut, of the answer's documents)."""
    asked = {}
    try:
        for d in json.loads(request)["docs"]:
            asked.setdefault(d["id"], []).append(d["rev"])
    except (ValueError, KeyError):
        for id_, rev in re.findall(r'"_id":"([^"]*)","_rev":"([^"]*)"', answer):
            asked.setdefault(id_, []).append(rev)
    return asked


def asked_open_revs(target):
    """{"id": [revs]} of GET /db/{id}?open_revs=[...]."""
    from urllib.parse import unquote, urlsplit, parse_qs
    url = urlsplit(target)
    doc_id = unquote(url.path.split("/", 2)[2])
    return {doc_id: json.loads(parse_qs(url.query)["open_revs"][0])}


def transcripts():
    if not os.path.isdir(TRANSCRIPTS):
        print("make_seeds: no transcripts at", TRANSCRIPTS, "- hand-written seeds only", file=sys.stderr)
        return
    for name in sorted(os.listdir(TRANSCRIPTS)):
        if not name.endswith(".txt"):
            continue
        for head, rq_h, rq_b, status, rs_h, rs_b in exchanges(os.path.join(TRANSCRIPTS, name)):
            parts = re.sub(r"^#\d+ ", "", head).split(" ")
            method, target = (parts[0], parts[1]) if len(parts) > 1 and parts[0].isupper() else ("GET", "/")
            if method.startswith("("):
                continue
            # The request as it went over the wire (a cut body keeps its declared length out).
            lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:5984"]
            lines += [f"{n}: {v}" for n, v in rq_h if n.lower() not in ("content-length", "transfer-encoding")]
            if rq_b and "bytes total]" not in rq_b:
                lines.append(f"Content-Length: {len(rq_b.encode('utf-8', 'surrogateescape'))}")
            add("http_request", "\r\n".join(lines) + "\r\n\r\n" + (rq_b if "bytes total]" not in rq_b else ""))

            ctype = header(rs_h, "content-type") or ""
            if "/_changes" in target and status == "200" and "feed=continuous" not in target:
                add("changes", rs_b)
            if "/_bulk_get" in target and status == "200":
                add("bulk_get", json.dumps(asked_bulk_get(rq_b, rs_b)) + "\n" + rs_b)
                try:
                    for result in json.loads(rs_b)["results"]:
                        for d in result["docs"]:
                            if "ok" in d:
                                add("document", b"\0" + json.dumps(d["ok"]).encode())
                except ValueError:
                    pass
            if "/_revs_diff" in target and status == "200":
                add("revs_diff", rq_b + "\n" + rs_b)
            if "open_revs=" in target:
                add("open_revs", ctype + "\n" + json.dumps(asked_open_revs(target)) + "\n" + crlf(rs_b))
            for t, b in ((ctype, rs_b), (header(rq_h, "content-type") or "", rq_b)):
                if t.startswith("multipart/"):
                    add("multipart", t + "\n" + crlf(b))
                    add("multipart_stream", (re.search(r'boundary="?([^";]+)', t) or [None, "x"])[1] + "\n" + crlf(b))
            if method in ("PUT", "POST") and rq_b.startswith("{") and "/_find" not in target:
                try:
                    doc = json.loads(rq_b)
                    for d in doc.get("docs", [doc]) if isinstance(doc, dict) else []:
                        add("document", b"\0" + json.dumps(d).encode())
                except ValueError:
                    pass
            if "/_find" in target or "/_explain" in target:
                try:
                    selector = json.loads(rq_b)["selector"]
                    docs = [l.rstrip(",") for l in rs_b.split("\n") if l.startswith('{"_id"')]
                    add("mango", json.dumps(selector) + "\n" + "\n".join(docs[:4]))
                except (ValueError, KeyError, TypeError):
                    pass
                add("find_request", rq_b)
            if status == "200" and rs_b.startswith("{\"docs\""):
                # Pairs of the values CouchDB answered with, for the index keys' order.
                try:
                    values = [v for d in json.loads(rs_b)["docs"] for v in d.values()]
                    for x, y in zip(values, values[1:]):
                        add("collate_key", json.dumps(x) + "\n" + json.dumps(y))
                except (ValueError, KeyError, TypeError, AttributeError):
                    pass
            for rev in re.findall(r'"\d+-[0-9a-z]+"', rq_b + rs_b)[:3]:
                add("rev_id", rev.strip('"'))


def hand_written():
    # HTTP framing, the shapes tests/http/server_test.cc sends.
    body = '{"a":1}'
    gz = gzip.compress(body.encode())
    for text in [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /db/_all_docs?limit=10&startkey=%22a%22 HTTP/1.0\r\n\r\n",
        f"PUT /db/doc HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}",
        "POST /db HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        "POST /db HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\n{}x\r\n0\r\nTrailer: v\r\n\r\n",
        "PUT /db/x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "GET /stream HTTP/1.1\r\n\r\nGET /stream HTTP/1.0\r\n\r\n",
        "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
        "HEAD /db HTTP/1.1\r\n\r\n",
        "DELETE /db/doc?rev=1-abc HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "POST /db HTTP/1.1\r\nContent-Encoding: deflate\r\nContent-Length: 1\r\n\r\nx",
        "GET / HTTP/2.0\r\n\r\n",
        "CONNECT x:1 HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    ]:
        add("http_request", text)
    add("http_request", f"POST /db HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: {len(gz)}\r\n\r\n".encode() + gz)

    # Documents with the special members.
    for doc in [
        {"_id": "a", "v": 1},
        {"_id": "_design/d", "views": {}},
        {"_id": "b", "_rev": "3-c", "_revisions": {"start": 3, "ids": ["c", "b", "a"]}, "_deleted": True},
        {"_id": "c", "_attachments": {"t.txt": {"content_type": "text/plain", "data": "aGVsbG8="}}},
        {"_id": "d", "_attachments": {"s": {"stub": True, "digest": "md5-x", "length": 5, "revpos": 1},
                                      "f": {"follows": True, "length": 3, "encoding": "gzip",
                                            "encoded_length": 9}}},
        {"_id": "e", "_conflicts": [], "_replication_state": "completed", "n": [1.5, None, "x"]},
    ]:
        add("document", b"\0" + json.dumps(doc).encode())
    add("document", b"\1" + json.dumps({"_id": "_local/x", "_rev": "0-1", "seq": 5}).encode())

    for rev in ["1-abc", "12-967a00dff5e02add41819138abb3284d", "0-1", "1-", "-a", "18446744073709551615-a"]:
        add("rev_id", rev)

    for url in ["http://127.0.0.1:5984/db", "https://user:p%40ss@Example.COM/a/b?x=1#frag",
                "http://[::1]:8080/db%2Fx?since=%2210-g%22", "http://h", "https://a:b@h:443/", "http://h:65535?q"]:
        add("url", url + "\n/_changes?feed=longpoll")

    add("config", "[chttpd]\nport = 5984\nbind_address = 0.0.0.0\nmax_http_request_size = 4294967296\n"
                  "[couchdb]\ndatabase_dir = ./data\nmax_document_size = 8000000\nuuid = abc\n"
                  "; comment\n# comment\n[settee]\nrevs_limit = 1000\nlog_level = debug\n")
    add("config", "[admins]\nadmin = -pbkdf2-abc,def,10\nbob = secret\n[httpd]\nenable_cors = true\n"
                  "[cors]\norigins = http://a, https://b\ncredentials = true\nheaders = accept\nmethods = GET\n")

    for sel, docs in [
        ({"type": "order", "n": {"$gt": 1, "$lte": 10}}, [{"type": "order", "n": 2}, {"type": "x"}]),
        ({"$or": [{"a.b": {"$in": [1, 2]}}, {"c": {"$exists": False}}]}, [{"a": {"b": 2}}, {"c": 1}]),
        ({"tags": {"$elemMatch": {"$eq": "a"}}, "s": {"$regex": "^o"}}, [{"tags": ["a"], "s": "open"}]),
        ({"$not": {"x": {"$size": 2}}, "m": {"$mod": [3, 1]}}, [{"x": [1], "m": 4}]),
        ({"o": {"$keyMapMatch": {"$beginsWith": "k"}}, "t": {"$type": "string"}}, [{"o": {"k1": 1}, "t": ""}]),
        ({"a": {"$allMatch": {"$gte": 0}}, "b": {"$all": [1, 2]}, "$nor": [{"c": None}]}, [{"a": [1], "b": [2, 1]}]),
        ({"a\\.b": {"$ne": 1}, "arr.0": {"$lt": "z"}}, [{"a.b": 2, "arr": ["y"]}]),
    ]:
        add("mango", json.dumps(sel) + "\n" + "\n".join(json.dumps(d) for d in docs))

    # _find bodies with every option (db/mango_find.h), and a few CouchDB refuses.
    for body in [
        {"selector": {"type": "order", "ts": {"$gt": 1003}}, "sort": [{"type": "desc"}, {"ts": "desc"}],
         "fields": ["_id", "ts", "a\\.b"], "limit": 4, "skip": 1, "execution_stats": True},
        {"selector": {"status": "open"}, "use_index": ["orders", "type-ts"], "allow_fallback": False,
         "conflicts": True, "r": 1, "update": False, "stable": True, "bookmark": "g1AAAABEeJzLYWBgYMpgSmHgKy5"},
        {"selector": {"$or": [{"a": 1}, {"b": {"$in": [1, "x", None]}}]}, "sort": ["a", "b"], "use_index": "_design/d"},
        {"selector": {"a": {"$gt": None}}, "sort": [{"a": "asc"}, {"b": "desc"}]},
        {"selector": {}, "limit": -1}, {"selector": "x"}, {"selector": {"a": {"$bogus": 1}}}, {"sort": []},
    ]:
        add("find_request", json.dumps(body))

    # Pairs of values for the index keys' order: each type, numbers spelled apart, ICU's string order
    # (case and accents), prefixes of arrays and objects.
    for x, y in [(None, False), (True, 0), (1, 1.0), (-0.0, 0), (2.5, 3), (1e308, -1e308), ("a", "A"),
                 ("A", "b"), ("é", "e"), ("e\u0301", "é"), ("", "\u0000"), ([1], [1, 2]), ([], {}),
                 ({"a": 1}, {"a": 1, "b": 2}), ({"b": 1}, {"a": 2}), ([1, "x"], [1, ["x"]]),
                 (9007199254740993, 9007199254740992.0), (-9223372036854775808, 18446744073709551615)]:
        add("collate_key", json.dumps(x, ensure_ascii=False) + "\n" + json.dumps(y, ensure_ascii=False))

    # Multipart, as tests/http/multipart_test.cc writes it.
    mixed = ("--B\r\nContent-Type: application/json\r\n\r\n{\"_id\":\"a\",\"_rev\":\"1-x\"}\r\n"
             "--B\r\nContent-Type: multipart/related; boundary=\"R\"\r\n\r\n"
             "--R\r\nContent-Type: application/json\r\n\r\n"
             "{\"_id\":\"a\",\"_rev\":\"2-y\",\"_attachments\":{\"f\":{\"follows\":true,\"length\":3}}}\r\n"
             "--R\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc\r\n--R--\r\n"
             "--B\r\nContent-Type: application/json; error=\"true\"\r\n\r\n{\"missing\":\"3-z\"}\r\n--B--")
    add("open_revs", "multipart/mixed; boundary=\"B\"\n{\"a\":[\"1-x\",\"2-y\",\"3-z\"]}\n" + mixed)
    add("open_revs", "application/json\n{\"a\":[\"1-x\",\"2-y\"]}\n"
                     "[{\"ok\":{\"_id\":\"a\",\"_rev\":\"1-x\",\"_revisions\":{\"start\":1,\"ids\":[\"x\"]}}},{\"missing\":\"2-y\"}]")
    add("multipart", "multipart/mixed; boundary=\"B\"\n" + mixed)
    add("multipart_stream", "B\n" + mixed)
    lf = "preamble\n--b  \nA: 1\n\nbody\n--b\n\n\n--b--\nepilogue"
    add("multipart", "b\n" + lf)
    add("multipart_stream", "b\n" + lf)

    add("changes", '{"results":[{"seq":1,"id":"a","changes":[{"rev":"1-x"}],"deleted":true}],"last_seq":1,"pending":0}')
    add("revs_diff", '{"a":["2-y","1-x"],"b":["1-q"]}\n{"a":{"missing":["2-y"],"possible_ancestors":["1-x"]},"b":{"missing":[]}}')
    add("bulk_get", '{"a":["1-x","2-y"]}\n{"results":[{"id":"a","docs":[{"ok":{"_id":"a","_rev":"1-x"}},{"error":{"id":"a","rev":"2-y","error":"not_found"}}]}]}')


def main():
    transcripts()
    hand_written()
    for target, files in seeds.items():
        folder = os.path.join(CORPUS, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(files)} seeds")


main()
