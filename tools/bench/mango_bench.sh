#!/usr/bin/env bash
# Runs the Mango benchmark (mango_bench.mjs): _find with and without an index on N documents of ~1 KB
# (equality and range-with-sort, 20 rows each), index build time, the _bulk_docs rate with 0, 1 and 3
# indexes, and the node's peak RSS at N and N/10. Installs compat/'s npm packages when missing.
#   tools/bench/mango_bench.sh [--docs N (1000000)] [--quick (100000)] [--ci (20000, few runs)]
#                              [--runs R] [--scan-runs S] [--write-docs W] [--write-runs WR] [--batch B]
#                              [--check | --no-check]
# The binary is build/settee (SETTEE_BINARY overrides). The full run needs ~3 GB of disk in $TMPDIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[[ -d "$root/compat/node_modules" ]] || (cd "$root/compat" && npm ci --no-audit --no-fund)
export SETTEE_BINARY="${SETTEE_BINARY:-$root/build/settee}"
exec node "$root/tools/bench/mango_bench.mjs" "$@"
