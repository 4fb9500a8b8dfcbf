#!/usr/bin/env bash
# Sets up, builds and runs every test: the Catch2 suite (release build), the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the compatibility tests against PouchDB and
# pouchdb-server from npm. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
SETTEE_WITH_NODE=1 tools/setup.sh --asan

echo "== unit and integration tests (release build)"
build/settee_tests

echo "== the same tests under ASan + UBSan"
# The SIGKILL durability test forks and kills children on purpose; it runs in the release build above.
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/settee_tests "~[crash]"

if [[ -f compat/package.json ]]; then
  echo "== compatibility tests against PouchDB and pouchdb-server"
  (cd compat && { [[ -d node_modules ]] || npm ci --no-audit --no-fund || npm install --no-audit --no-fund; } \
     && SETTEE_BINARY="$PWD/../build/settee" node --test --test-concurrency=1 ./*.test.mjs)
fi
