#!/usr/bin/env bash
# Runs the sync benchmark (sync_bench.mjs): the cost of sync-state bookkeeping on local writes (0 vs 1
# registered peer, must stay under 10%) and the time from a local write to its arrival on a live peer
# (median and p99 over loopback, a Settee node and pouchdb-server). Builds settee and sync_bench_device
# when missing; installs compat/'s npm packages and GNU time when missing. Arguments go to sync_bench.mjs
# (--runs, --docs, --latency-docs, ..., --ci for the quick check).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[[ -x /usr/bin/time ]] || { SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo; $SUDO apt-get install -y -qq time; }
[[ -d "$root/compat/node_modules" ]] || (cd "$root/compat" && npm ci --no-audit --no-fund)
export SETTEE_BINARY="${SETTEE_BINARY:-$root/build/settee}"
bindir="$(dirname "$SETTEE_BINARY")"
if [[ ! -x "$SETTEE_BINARY" || ! -x "$bindir/sync_bench_device" ]]; then
  cmake --build "$bindir" -j2 --target settee sync_bench_device
fi
exec node "$root/tools/bench/sync_bench.mjs" "$@"
