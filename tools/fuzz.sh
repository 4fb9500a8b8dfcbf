#!/usr/bin/env bash
# Builds the libFuzzer targets (tools/fuzz/*_fuzz.cc) with clang, ASan and UBSan into build-fuzz/, and
# runs each for a while on a copy of its seed corpus (tools/fuzz/corpus/<target>/) with the dictionary of
# its input's language (tools/fuzz/*.dict). Prints each target's execution count; exits non-zero when
# any target crashes, leaks, hangs or breaks a property, leaving the input that did it in
# build-fuzz/findings/<target>/ (replay it with `build-fuzz/<target>_fuzz <file>`).
#   tools/fuzz.sh [--seconds N] [--jobs J] [target...]    N seconds per target (default 10)
# J targets run at once (default 1: the machine is shared). A longer run: nice -n 10 tools/fuzz.sh --seconds 120
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
jobs=1
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

# Debian's clang 14 and its libFuzzer runtime; nothing else is needed beyond tools/setup.sh's packages.
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fuzz: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
cc=$(command -v clang-14 || command -v clang)
cxx=$(command -v clang++-14 || command -v clang++)

CC=$cc CXX=$cxx cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSETTEE_FUZZ=ON -DSETTEE_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"${SETTEE_JOBS:-2}" --target fuzz >/dev/null

if ((${#targets[@]} == 0)); then
  for f in tools/fuzz/*_fuzz.cc; do
    name=$(basename "$f" .cc)
    targets+=("${name%_fuzz}")
  done
fi

# Runs one target; its log goes to build-fuzz/logs/<target>.log.
run_one() {
  local t=$1
  local work=build-fuzz/work/$t findings=build-fuzz/findings/$t log=build-fuzz/logs/$t.log
  rm -rf "$work" && mkdir -p "$work" "$findings" build-fuzz/logs
  [[ -d tools/fuzz/corpus/$t ]] && cp tools/fuzz/corpus/"$t"/* "$work"/
  local dict=()
  case $t in
    http_request|mango) dict=(-dict="tools/fuzz/$t.dict") ;;
    find_request) dict=(-dict=tools/fuzz/mango.dict) ;;
    collate_key) dict=(-dict=tools/fuzz/json.dict) ;;
    document|changes|revs_diff|bulk_get) dict=(-dict=tools/fuzz/json.dict) ;;
    capi_options) dict=(-dict=tools/fuzz/capi_options.dict) ;;
    multipart|multipart_stream|open_revs) dict=(-dict=tools/fuzz/multipart.dict) ;;
  esac
  # -timeout: an input that takes over 10 s is a hang; -rss_limit_mb: one that takes 2 GB is a finding.
  local status=0
  "build-fuzz/${t}_fuzz" "$work" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1 || status=$?
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if ((status == 0)); then
    printf '%-18s ok      %12s executions in %ss\n' "$t" "${execs:-?}" "$seconds"
  else
    printf '%-18s FAILED  %12s executions (exit %d); see %s and %s/\n' "$t" "${execs:-?}" "$status" "$log" "$findings"
    grep -E "ERROR|SUMMARY|property failed|runtime error" "$log" | head -5 | sed 's/^/    /'
  fi
  return $status
}

failed=0
pids=()
for t in "${targets[@]}"; do
  if [[ ! -x build-fuzz/${t}_fuzz ]]; then
    echo "fuzz: no target $t (see tools/fuzz/*_fuzz.cc)"
    exit 2
  fi
  if ((jobs <= 1)); then
    run_one "$t" || failed=1
    continue
  fi
  run_one "$t" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if ((failed)); then
  echo "fuzz: FAILED (inputs in build-fuzz/findings/)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
