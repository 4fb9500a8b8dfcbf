#!/usr/bin/env bash
# Sets up, builds and runs every test: the Catch2 suite (release build), the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the compatibility tests against PouchDB and
# pouchdb-server from npm. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
SETTEE_WITH_NODE=1 tools/setup.sh --asan

echo "== layering: each library compiles only against the headers it may use (tests/layering)"
ctest --test-dir build -R '^layering$' --output-on-failure

echo "== unit and integration tests (release build)"
build/settee_tests

echo "== kill -9 at 40 random points of a live node's writes" && tools/crash/kill_test.sh --points 40

echo "== unit tests under ASan + UBSan"
# The in-process unit tests: store, revision trees, Mango, multipart, router, local replication. (The
# SIGKILL test forks and kills on purpose, and the live-server tests exercise the release binary above.)
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  build-asan/settee_tests "[db]~[crash],[mango],[multipart],[router],[repl]~[remote]~[service]"

echo "== every fuzz target for 10 s (tools/fuzz.sh)" && tools/fuzz.sh --seconds 10

if [[ -f compat/package.json ]]; then
  echo "== compatibility tests against PouchDB and pouchdb-server"
  (cd compat && { [[ -d node_modules ]] || npm ci --no-audit --no-fund || npm install --no-audit --no-fund; } \
     && SETTEE_BINARY="$PWD/../build/settee" node --test --test-concurrency=1 ./*.test.mjs)
fi
