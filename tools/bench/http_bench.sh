#!/usr/bin/env bash
# HTTP serving speed of one node: GET of one document and POST of a small one, with wrk.
#
# Starts build/settee (the release build tools/setup.sh makes) on a free loopback port with a fresh data
# directory, loads N documents, then runs wrk -t2 -c16 for D seconds, R times each:
#   GET   a random one of the N documents (GET /bench/doc-NNNNNN)
#   POST  a small JSON document to /bench (the node makes its id)
# and prints the median req/s of each and the node's peak RSS (/usr/bin/time -v). Then it restarts the
# node pinned to one core (taskset -c 0), then to two (taskset -c 0,1), runs GET on each and prints the
# ratio: how serving scales with cores. On 4 cores or more wrk is pinned to the cores from 2 on, so the
# node's two cores are its own; on fewer, wrk shares them and the ratio says little.
#
#   tools/bench/http_bench.sh [--docs 10000] [--duration 10] [--runs 3] [--connections 16] [--threads 2]
#                             [--loops N] [--binary build/settee] [--no-taskset]
# The node runs with log_level = warn (at the default, info, it writes a line to stderr per request).
# Needs wrk (tools/setup.sh installs it). The machine should be quiet: every other process shares the
# cores with the node and wrk.
set -euo pipefail
cd "$(dirname "$0")/../.."

docs=10000 duration=10 runs=3 connections=16 threads=2 binary=build/settee taskset_ratio=1 loops=""
usage() {
  sed -n '/^#   tools/,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//' | head -2 >&2
  exit 2
}
while (($#)); do
  case "$1" in
    --docs) docs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --loops) loops=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --no-taskset) taskset_ratio=0; shift ;;
    -h|--help) usage ;;
    *) echo "http_bench: unknown option $1" >&2; usage ;;
  esac
done
command -v wrk >/dev/null || { echo "http_bench: wrk is missing (tools/setup.sh installs it)" >&2; exit 1; }
[[ -x $binary ]] || { echo "http_bench: $binary is missing (run tools/setup.sh)" >&2; exit 1; }

work=$(mktemp -d)
node_pid="" time_pid=""
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

# start_node CPUS: a fresh data directory, the node pinned to CPUS ("" = not pinned); sets $port.
start_node() {
  local cpus=$1 pin=()
  [[ -n $cpus ]] && pin=(taskset -c "$cpus")
  rm -rf "$work/data" && mkdir -p "$work/data"
  local config="$work/settee.ini"
  { echo "[settee]"; echo "log_level = warn"; [[ -n $loops ]] && echo "loops = $loops"; } >"$config"
  : >"$work/node.log"
  /usr/bin/time -v -o "$work/time.txt" "${pin[@]}" "$binary" serve --port 0 --data "$work/data" \
    --config "$config" 2>"$work/node.log" &
  time_pid=$!
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/node.log")
    [[ -n $port ]] && break
    sleep 0.05
  done
  [[ -n $port ]] || { echo "http_bench: the node did not start:" >&2; cat "$work/node.log" >&2; exit 1; }
  node_pid=$(pgrep -P "$time_pid" | head -1)
}

load_docs() {
  curl -sf -X PUT "http://127.0.0.1:$port/bench" >/dev/null
  local batch=1000 i
  for ((i = 0; i < docs; i += batch)); do
    awk -v from="$i" -v n="$batch" -v total="$docs" 'BEGIN {
      printf "{\"docs\":["
      for (k = from; k < from + n && k < total; k++) {
        printf "%s{\"_id\":\"doc-%06d\",\"type\":\"bench\",\"n\":%d,\"name\":\"document number %d\",\"tags\":[\"a\",\"b\",\"c\"]}", (k > from ? "," : ""), k, k, k
      }
      printf "]}"
    }' | curl -sf -X POST -H 'Content-Type: application/json' --data-binary @- \
      "http://127.0.0.1:$port/bench/_bulk_docs" >/dev/null
  done
}

cat >"$work/get.lua" <<LUA
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/bench/doc-%06d", math.random(0, $docs - 1)))
end
LUA
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"type":"bench","name":"a small document","n":42,"tags":["a","b"]}'
LUA

# The node's CPU time so far, all threads, in clock ticks (utime + stime of /proc/PID/stat).
node_ticks() { awk '{print $14 + $15}' "/proc/$node_pid/stat"; }

# wrk stays off the node's cores when there are cores to spare (see the taskset ratio above).
wrk_pin=()
(($(nproc) >= 4)) && wrk_pin=(taskset -c "2-$(($(nproc) - 1))")

# run_wrk SCRIPT PATH: one run; prints "req/s cpu-us-per-request". The CPU time the node spent per
# request is steadier than req/s on a machine that is not quiet. A run with non-2xx answers fails.
run_wrk() {
  local out before after
  before=$(node_ticks)
  out=$("${wrk_pin[@]}" wrk -t"$threads" -c"$connections" -d"${duration}s" -s "$1" "http://127.0.0.1:$port$2")
  after=$(node_ticks)
  if grep -q "Non-2xx" <<<"$out"; then
    echo "http_bench: errors in the run:" >&2; echo "$out" >&2; exit 1
  fi
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    /requests in/ {n = $1}
    /^Requests\/sec:/ {rate = $2}
    END {printf "%s %.1f\n", rate, ticks * 1e6 / hz / n}' <<<"$out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# bench NAME SCRIPT PATH: R runs; prints the runs and sets $med.
bench() {
  local rates=() cpus=() r line
  for ((r = 0; r < runs; r++)); do
    line=$(run_wrk "$2" "$3")
    rates+=("${line% *}")
    cpus+=("${line#* }")
  done
  med=$(median "${rates[@]}")
  printf '%-6s median %8.0f req/s, node CPU %6.1f us/request   (runs: %s)\n' "$1" "$med" \
    "$(median "${cpus[@]}")" "${rates[*]}"
}

peak_rss_mb() { awk -F: '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/time.txt"; }

echo "settee http_bench: $(nproc) cores, wrk -t$threads -c$connections -d${duration}s, $runs runs, $docs docs"
start_node ""
load_docs
bench GET "$work/get.lua" /
get_med=$med
bench POST "$work/post.lua" /bench
stop_node
echo "node peak RSS: $(peak_rss_mb) MB"

if ((taskset_ratio)); then
  if (($(nproc) < 2)); then
    echo "taskset: skipped (one core)"
  else
    start_node 0
    load_docs
    bench "GET@1" "$work/get.lua" /
    one=$med
    stop_node
    echo "  peak RSS on 1 core: $(peak_rss_mb) MB"
    start_node 0,1
    load_docs
    bench "GET@2" "$work/get.lua" /
    two=$med
    stop_node
    echo "  peak RSS on 2 cores: $(peak_rss_mb) MB"
    awk -v a="$one" -v b="$two" 'BEGIN {printf "taskset: 2 cores / 1 core = %.2f\n", b / a}'
  fi
fi
