#!/usr/bin/env bash
# Runs the PouchDB pull benchmark (pull_bench.mjs) against build/settee and pouchdb-server from compat/.
# Installs compat/'s npm packages and wrk when missing. Arguments go to pull_bench.mjs (--n, --runs, ...).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
command -v wrk >/dev/null || { SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo; $SUDO apt-get install -y -qq wrk; }
[[ -d "$root/compat/node_modules" ]] || (cd "$root/compat" && npm ci --no-audit --no-fund)
export SETTEE_BINARY="${SETTEE_BINARY:-$root/build/settee}"
exec node "$root/tools/bench/pull_bench.mjs" "$@"
