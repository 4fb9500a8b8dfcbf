#!/usr/bin/env bash
# Sets up, builds and runs every test: the Catch2 suite (release build), the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the compatibility tests against PouchDB and
# pouchdb-server from npm. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
SETTEE_WITH_NODE=1 tools/setup.sh --asan

echo "== layering: each library compiles only against the headers it may use (tests/layering)"
ctest --test-dir build -R '^layering$' --output-on-failure

# libsettee.so exports only the C API; the installed package builds apps outside the tree both ways, and
# examples/field_notes runs against it (a `settee serve` of the package on a port of 127.0.0.1).
echo "== the installed package: find_package(Settee) and pkg-config (tests/package/check.sh)"
ctest --test-dir build -R '^exported_symbols$' --output-on-failure && tests/package/check.sh build

echo "== unit and integration tests (release build)"
build/settee_tests

echo "== the C API's tests, in C11 (tests/capi)"
build/settee_capi_tests

echo "== kill -9 at 40 random points of a live node's writes" && tools/crash/kill_test.sh --points 40

echo "== unit and live-server tests under ASan + UBSan"
# The in-process tests (store, revision trees, Mango, multipart, router, local replication) and the
# [http] tests, whose `settee serve` is build-asan/settee (SETTEE_BINARY names the binary of the tests'
# own build), so the server's request paths run under the sanitizers too. The server's stderr goes to a
# log in a temporary directory the test deletes, so every sanitizer report (the server's and the tests')
# is written under log_path instead, and any report fails the run. Left out: the SIGKILL test (it forks
# and kills on purpose) and [timing] tests, which assert what happens within a time or how the kernel
# paces a socket, and a sanitized debug build is several times slower. The quarantine of freed memory is
# 8 MB instead of 256: the [http] tests bound the server's peak RSS, and a 48 MB body freed would
# otherwise stay resident in it.
reports=$(mktemp -d)
status=0
ASAN_OPTIONS="detect_leaks=1:quarantine_size_mb=8:log_path=$reports/asan" UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports/ubsan" \
  build-asan/settee_tests "[db]~[crash],[mango],[multipart],[router],[repl]~[remote]~[service],[http]~[timing]" || status=$?
# The C API's tests with LeakSanitizer: every handle type is made and freed in them, so a leak of any is a
# report here.
ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan" UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports/ubsan" \
  build-asan/settee_capi_tests || status=$?
if compgen -G "$reports/*" >/dev/null; then
  cat "$reports"/*
  echo "sanitizer reports above" >&2
  status=1
fi
rm -rf "$reports"
((status == 0))

echo "== every fuzz target for 10 s (tools/fuzz.sh)" && tools/fuzz.sh --seconds 10

echo "== arm64 cross build and tests under qemu (tools/cross.sh arm64)" && tools/cross.sh arm64

if [[ -f compat/package.json ]]; then
  echo "== compatibility tests against PouchDB and pouchdb-server"
  (cd compat && { [[ -d node_modules ]] || npm ci --no-audit --no-fund || npm install --no-audit --no-fund; } \
     && SETTEE_BINARY="$PWD/../build/settee" node --test --test-concurrency=1 ./*.test.mjs)
  # The Mango benchmark at a small size: proves the script and its correctness checks run (its figures are
  # for the full run, tools/bench/mango_bench.sh without --ci).
  echo "== Mango benchmark, CI size (tools/bench/mango_bench.sh --ci)" && tools/bench/mango_bench.sh --ci
  # Sync: the outbox is exact and documents arrive; bookkeeping cost within a loose bound for short runs
  # (the full run, tools/bench/sync_bench.sh, checks the issue's 10%).
  echo "== sync benchmark, CI size (tools/bench/sync_bench.sh --ci)" && tools/bench/sync_bench.sh --ci
  # Views: a JS-mapped index with built-in reduces is built and queried over HTTP (figures: the full run).
  echo "== view benchmark, CI size (tools/bench/view_bench.sh --ci)" && tools/bench/view_bench.sh --ci
fi
