#!/usr/bin/env bash
# Runs the replication benchmark (replication_bench.mjs): PouchDB vs `settee replicate` pulling the same
# documents from a Settee node (and from pouchdb-server), with docs/s and peak RSS. Installs compat/'s npm
# packages and GNU time when missing. Arguments go to replication_bench.mjs (--n, --runs, --million, ...).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[[ -x /usr/bin/time ]] || { SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo; $SUDO apt-get install -y -qq time; }
[[ -d "$root/compat/node_modules" ]] || (cd "$root/compat" && npm ci --no-audit --no-fund)
export SETTEE_BINARY="${SETTEE_BINARY:-$root/build/settee}"
exec node "$root/tools/bench/replication_bench.mjs" "$@"
