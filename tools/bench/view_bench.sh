#!/usr/bin/env bash
# Map/reduce views on one node: building an index over N documents, then key lookups on it.
#
# Starts build/settee on a free loopback port with a fresh data directory (under /usr/bin/time -v, for
# the node's peak RSS), loads N small documents with _bulk_docs, then, one design document at a time:
#   map     function(doc){ emit(doc.n, null); }                     (a JS map, no reduce)
#   count   function(doc){ emit(doc.type, doc.n); } with _count      (a JS map and a built-in reduce)
#   sum     the same map with _sum
# The first query of each (reduce=false&limit=1) builds its index: docs/s = N / the query's wall time.
# Then one full reduce of `count` (group=true) and of `sum` is timed. Then wrk
# looks keys up on the built `map` view for D seconds (GET .../_view/map?key=<random n>, one row each)
# and on the `count` view grouped by key (one reduced row each), and prints req/s.
#
#   tools/bench/view_bench.sh [--docs 1000000] [--ci] [--duration 10] [--connections 16] [--threads 2]
#                             [--binary build/settee]
# --ci: 20,000 documents and 3-second lookups (a smoke run for CI). The node runs with log_level = warn.
# Needs wrk and curl (tools/setup.sh installs them). Anchor: CouchDB indexes in the low thousands of
# docs/s per couchjs process on this kind of machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

docs=1000000 duration=10 connections=16 threads=2 binary=build/settee
usage() {
  sed -n '/^#   tools/,/^# --ci/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while (($#)); do
  case "$1" in
    --docs) docs=$2; shift 2 ;;
    --ci) docs=20000 duration=3; shift ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "view_bench: unknown option $1" >&2; usage ;;
  esac
done
command -v wrk >/dev/null || { echo "view_bench: wrk is missing (tools/setup.sh installs it)" >&2; exit 1; }
[[ -x $binary ]] || { echo "view_bench: $binary is missing (build it first)" >&2; exit 1; }

work=$(mktemp -d)
node_pid="" time_pid="" port=""
stop_node() {
  # By PID: the node (child of /usr/bin/time) gets SIGTERM and stops cleanly; time then writes its report.
  if [[ -n $node_pid ]]; then
    kill -TERM "$node_pid" 2>/dev/null || true
    wait "$time_pid" 2>/dev/null || true
  fi
  node_pid="" time_pid=""
}
cleanup() { stop_node; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/data"
printf '[settee]\nlog_level = warn\n' >"$work/settee.ini"
/usr/bin/time -v -o "$work/time.txt" "$binary" serve --port 0 --data "$work/data" --config "$work/settee.ini" \
  2>"$work/node.log" &
time_pid=$!
for _ in $(seq 200); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/node.log")
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n $port ]] || { echo "view_bench: the node did not start:" >&2; cat "$work/node.log" >&2; exit 1; }
node_pid=$(pgrep -P "$time_pid" | head -1)
base="http://127.0.0.1:$port/bench"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

echo "settee view_bench: $(nproc) cores, $docs documents, wrk -t$threads -c$connections -d${duration}s"
curl -sf -X PUT "$base" >/dev/null
t0=$(now)
batch=10000
for ((i = 0; i < docs; i += batch)); do
  awk -v from="$i" -v n="$batch" -v total="$docs" 'BEGIN {
    split("post comment user tag", types, " ")
    printf "{\"docs\":["
    for (k = from; k < from + n && k < total; k++)
      printf "%s{\"_id\":\"doc-%07d\",\"type\":\"%s\",\"n\":%d,\"name\":\"document number %d\"}", (k > from ? "," : ""), k, types[k % 4 + 1], k, k
    printf "]}"
  }' | curl -sf -X POST -H 'Content-Type: application/json' --data-binary @- "$base/_bulk_docs" >/dev/null
done
echo "load: $docs documents in $(elapsed "$t0" "$(now)") s"

put_ddoc() { curl -sf -X PUT -H 'Content-Type: application/json' --data-binary "$2" "$base/_design/$1" >/dev/null; }
put_ddoc map '{"views":{"map":{"map":"function(doc){ emit(doc.n, null); }"}}}'
put_ddoc count '{"views":{"count":{"map":"function(doc){ emit(doc.type, doc.n); }","reduce":"_count"}}}'
put_ddoc sum '{"views":{"sum":{"map":"function(doc){ emit(doc.type, doc.n); }","reduce":"_sum"}}}'

# build NAME QUERY: the first query of a view builds its index; prints its docs/s.
build() {
  local t1 t2 out
  t1=$(now)
  out=$(curl -sf --max-time 36000 "$base/_design/$1/_view/$1?$2" | tr -d "\r\n")
  t2=$(now)
  awk -v n="$docs" -v s="$(elapsed "$t1" "$t2")" -v name="$1" -v out="$out" 'BEGIN {
    printf "build %-6s %8.2f s  %8.0f docs/s   (%s)\n", name, s, n / s, substr(out, 1, 60)
  }'
}
build map "limit=1"
build count "reduce=false&limit=1"
build sum "reduce=false&limit=1"

# reduce NAME QUERY: one reduce over the whole built view.
reduce() {
  local t1 t2
  t1=$(now)
  curl -sf --max-time 36000 "$base/_design/$1/_view/$1?$2" >/dev/null
  t2=$(now)
  printf 'reduce %-6s %8.2f s   (%s over %s rows)\n' "$1" "$(elapsed "$t1" "$t2")" "$2" "$docs"
}
reduce count "group=true"
reduce sum ""

cat >"$work/key.lua" <<LUA
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/bench/_design/map/_view/map?key=%d", math.random(0, $docs - 1)))
end
LUA
cat >"$work/group.lua" <<'LUA'
local types = {"%22post%22", "%22comment%22", "%22user%22", "%22tag%22"}
request = function()
  return wrk.format("GET", "/bench/_design/count/_view/count?group=true&key=" .. types[math.random(1, 4)])
end
LUA

# lookup NAME SCRIPT: one wrk run; a run with non-2xx answers fails.
lookup() {
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"${duration}s" -s "$2" "http://127.0.0.1:$port/")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "view_bench: errors in the run:" >&2; echo "$out" >&2; exit 1
  fi
  awk -v name="$1" '/^Requests\/sec:/ {printf "lookup %-12s %8.0f req/s\n", name, $2}' <<<"$out"
}
lookup "map key" "$work/key.lua"
lookup "count group" "$work/group.lua"

du -sh "$work/data" | awk '{print "data directory: " $1}'
stop_node
awk -F: '/Maximum resident set size/ {printf "node peak RSS: %.1f MB\n", $2 / 1024}' "$work/time.txt"
