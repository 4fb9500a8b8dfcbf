#!/usr/bin/env bash
# Runs the pouchdb-server benchmark (pouchdb_server_bench.mjs): `settee replicate` pulling from and pushing to
# pouchdb-server, next to that server's own _all_docs?include_docs=true rate in the same run, with peak RSS.
# Installs compat/'s npm packages and GNU time when missing. Arguments go to pouchdb_server_bench.mjs
# (--n, --runs, --page, --pull-into, --perf FILE, ...).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[[ -x /usr/bin/time ]] || { SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo; $SUDO apt-get install -y -qq time; }
[[ -d "$root/compat/node_modules" ]] || (cd "$root/compat" && npm ci --no-audit --no-fund)
export SETTEE_BINARY="${SETTEE_BINARY:-$root/build/settee}"
exec node "$root/tools/bench/pouchdb_server_bench.mjs" "$@"
