#!/usr/bin/env bash
# capi_bench.sh — the C API's cost as a ratio: capi_bench (C, libsettee.so) against its twin
# capi_bench_cpp (the same work through settee::Database), run alternately in one session so both see the
# same machine.
#
#   tools/bench/capi_bench.sh [--ci] [--n N] [--runs R] [--build DIR]
#
# Default: N=100000 documents, 5 runs of each (C, C++, C, C++, ...). Prints, per operation, the median
# rate of each and the ratio C/C++ (1.00 = no cost; below 1 the C API is slower), then each run's peak RSS
# (/usr/bin/time -v). --ci: N=5000, one run of each — proves the script and both programs work, its
# figures mean nothing. Needs the targets capi_bench and capi_bench_cpp built in the build folder.
set -euo pipefail

n=100000
runs=5
build="$(cd "$(dirname "$0")/../.." && pwd)/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ci) n=5000; runs=1; shift ;;
    --n) n="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "capi_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for program in capi_bench capi_bench_cpp; do
  [[ -x "$build/$program" ]] || { echo "capi_bench.sh: $build/$program is not built" >&2; exit 1; }
done

work="$(mktemp -d /tmp/capi_bench_sh.XXXXXX)"
trap '[[ -n "${CAPI_BENCH_KEEP:-}" ]] || rm -rf "$work"' EXIT

# One run of `program` into $work/<program>.<run>.out (rates) and .time (/usr/bin/time -v); the
# database lives in its own folder, removed after the run so the disk does not fill.
run_one() {
  local program="$1" run="$2"
  local dir="$work/db.$program.$run"
  mkdir -p "$dir"
  if ! /usr/bin/time -v -o "$work/$program.$run.time" "$build/$program" "$n" "$dir" \
      >"$work/$program.$run.out"; then
    echo "capi_bench.sh: $program failed (run $run)" >&2
    cat "$work/$program.$run.out" >&2
    exit 1
  fi
  rm -rf "$dir"
}

echo "capi_bench: N=$n documents, $runs run(s) of each, alternating; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= runs; r++)); do
  run_one capi_bench "$r"
  run_one capi_bench_cpp "$r"
done

# The table: per operation, the median of each program's runs and their ratio.
awk -v runs="$runs" '
  function median(list,   v, k, m, i, j, t) {
    k = split(list, v, " ")
    for (i = 1; i <= k; i++) v[i] += 0
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
  }
  {
    program = FILENAME; sub(/.*\//, "", program); sub(/\..*/, "", program)
    if (!($1 in unit)) { order[++ops] = $1; unit[$1] = $3 }
    rates[program, $1] = rates[program, $1] " " $2
  }
  END {
    printf "%-18s %-7s %14s %14s %8s\n", "operation", "unit", "C (median)", "C++ (median)", "C/C++"
    for (i = 1; i <= ops; i++) {
      op = order[i]
      c = median(rates["capi_bench", op]); cpp = median(rates["capi_bench_cpp", op])
      printf "%-18s %-7s %14.1f %14.1f %8.2f\n", op, unit[op], c, cpp, (cpp > 0 ? c / cpp : 0)
    }
  }' "$work"/capi_bench.*.out "$work"/capi_bench_cpp.*.out

echo "peak RSS (MB) per run:"
for program in capi_bench capi_bench_cpp; do
  line="$(printf '%-15s' "$program")"
  for ((r = 1; r <= runs; r++)); do
    kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$program.$r.time")"
    line+="$(printf ' %7.1f' "$(echo "$kb / 1024" | bc -l)")"
  done
  echo "$line"
done
