#!/usr/bin/env bash
# Runs the attachment replication benchmark (attachment_bench.mjs): PouchDB vs `settee replicate` copying
# documents with large attachments (MB/s, peak RSS of the replicator and the nodes). Installs compat/'s npm
# packages and GNU time when missing. Arguments go to attachment_bench.mjs (--docs, --mb, --runs).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[[ -x /usr/bin/time ]] || { SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo; $SUDO apt-get install -y -qq time; }
[[ -d "$root/compat/node_modules" ]] || (cd "$root/compat" && npm ci --no-audit --no-fund)
export SETTEE_BINARY="${SETTEE_BINARY:-$root/build/settee}"
exec node "$root/tools/bench/attachment_bench.mjs" "$@"
