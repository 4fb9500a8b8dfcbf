#!/usr/bin/env bash
# Peak memory of a node under big request and response bodies (issue 9: "memory per request is bounded by
# the configured limits, never by what a client sends"). Each scenario runs against a fresh
# `settee serve` started under GNU time, and prints the node's peak RSS ("Maximum resident set size").
#
#   uploads   N concurrent PUT /db/docI/att of MB megabytes each (default 8 x 60 MB; goal: < 300 MB)
#   bulk      N concurrent POST /db/_bulk_docs of MB documents of 1 MB each
#   multipart N concurrent multipart/related PUT /db/docI of one MB-megabyte attachment
#   attget    GET /db/big?attachments=true of one BIG-megabyte attachment (default 200 MB), streamed to
#             /dev/null; the attachment is stored by an earlier run of the node, so only the GET counts
#
# Usage: tools/bench/big_body_bench.sh [scenario...]   (default: uploads attget)
# Environment: SETTEE_BINARY (default build/settee), N (8), MB (60), BIG (200).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[[ -x /usr/bin/time ]] || { SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo; $SUDO apt-get install -y -qq time; }
settee="${SETTEE_BINARY:-$root/build/settee}"
N="${N:-8}"
MB="${MB:-60}"
BIG="${BIG:-200}"
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(uploads attget)

work="$(mktemp -d)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$(pgrep -P "$pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
# Room for the biggest body: the 200 MB attachment and the 60 MB ones, base64 or not.
printf '[chttpd]\nmax_http_request_size = %d\n' $(((BIG + 64) * 1024 * 1024)) >"$work/local.ini"

# Starts the node under GNU time on the data directory $1; the report goes to $work/time.txt.
start_node() {
  /usr/bin/time -v -o "$work/time.txt" "$settee" serve --port "$port" --data "$1" --log-level none \
    --config "$work/local.ini" &
  pid=$!
  for _ in $(seq 100); do
    curl -sf "$url/_up" >/dev/null && return 0
    sleep 0.1
  done
  echo "the node did not start" >&2
  exit 1
}

# Runs "$@" N times at once, as I=1..N, and waits for all of them (not for the node, also a job).
concurrently() {
  local pids=()
  for I in $(seq "$N"); do
    "$@" &
    pids+=($!)
  done
  wait "${pids[@]}" || true
}

# Stops the node and prints the peak RSS GNU time recorded for it.
stop_node() {
  # The node is GNU time's child: signal it, and time reports once it has exited.
  kill -TERM "$(pgrep -P "$pid")"
  wait "$pid" || true
  pid=""
  local kb
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
  printf '%-10s peak RSS %d MB\n' "$1" $((kb / 1024))
}

head -c $((MB * 1024 * 1024)) /dev/urandom >"$work/body.bin"

for scenario in "${scenarios[@]}"; do
  data="$work/data-$scenario"
  case "$scenario" in
    uploads)
      start_node "$data"
      curl -sf -X PUT "$url/db" >/dev/null
      upload() { curl -s -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$work/body.bin" \
        "$url/db/doc$I/att" -o /dev/null -w "upload $I: %{http_code}\n"; }
      concurrently upload
      [[ $(curl -sf "$url/db" | python3 -c 'import json,sys; print(json.load(sys.stdin)["doc_count"])') == "$N" ]] \
        || echo "uploads: not every upload was stored" >&2
      stop_node "uploads ($N x $MB MB)"
      ;;
    bulk)
      python3 - "$work/body.bin" "$work/bulk.json" <<'PY'
import base64, json, sys
data = open(sys.argv[1], 'rb').read()
text = base64.b64encode(data)[: len(data)].decode()
step = 1024 * 1024  # documents of 1 MB each, within the default max_document_size
docs = [{"v": text[i:i + step]} for i in range(0, len(text), step)]
json.dump({"docs": docs}, open(sys.argv[2], 'w'))
PY
      start_node "$data"
      curl -sf -X PUT "$url/db" >/dev/null
      bulk() { curl -s -X POST -H 'Content-Type: application/json' --data-binary "@$work/bulk.json" \
        "$url/db/_bulk_docs" -o /dev/null -w "bulk $I: %{http_code}\n"; }
      concurrently bulk
      stop_node "bulk ($N x $MB MB)"
      ;;
    multipart)
      python3 - "$work/body.bin" "$work/related.bin" <<'PY'
import json, sys
data = open(sys.argv[1], 'rb').read()
doc = {"_attachments": {"a.bin": {"follows": True, "content_type": "application/octet-stream", "length": len(data)}}}
b = b"abc123boundary"
out = b"--" + b + b"\r\nContent-Type: application/json\r\n\r\n" + json.dumps(doc).encode()
out += b"\r\n--" + b + b"\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\r\n" + data
out += b"\r\n--" + b + b"--"
open(sys.argv[2], 'wb').write(out)
PY
      start_node "$data"
      curl -sf -X PUT "$url/db" >/dev/null
      related() { curl -s -X PUT -H 'Content-Type: multipart/related; boundary="abc123boundary"' \
        --data-binary "@$work/related.bin" "$url/db/doc$I" -o /dev/null -w "multipart $I: %{http_code}\n"; }
      concurrently related
      stop_node "multipart ($N x $MB MB)"
      ;;
    attget)
      head -c $((BIG * 1024 * 1024)) /dev/urandom >"$work/big.bin"
      start_node "$data"
      curl -sf -X PUT "$url/db" >/dev/null
      curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$work/big.bin" \
        "$url/db/big/att" -o /dev/null
      stop_node "(storing the $BIG MB attachment)"
      start_node "$data"
      bytes=$(curl -sf "$url/db/big?attachments=true" | wc -c)
      stop_node "attget ($BIG MB attachment, $bytes bytes of JSON)"
      ;;
    *)
      echo "unknown scenario: $scenario" >&2
      exit 2
      ;;
  esac
done
