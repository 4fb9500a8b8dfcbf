#!/usr/bin/env bash
# SIGKILL a real `settee serve` at random points of its writes (single PUTs, _bulk_docs, attachment
# uploads, a pull replication into it, compaction, purge) and check that nothing acknowledged is lost,
# every database passes PRAGMA integrity_check, and killed replications resume from their checkpoints.
#   tools/crash/kill_test.sh [--points N] [--seed S] [--verbose]     (default 40 points)
# Needs build/settee (tools/setup.sh), a C compiler with libsqlite3-dev, and Node.js 18 or later.
set -euo pipefail
cd "$(dirname "$0")/../.."
checker=build/crash/integrity_check
if [[ ! -x $checker || tools/crash/integrity_check.c -nt $checker ]]; then
  mkdir -p build/crash
  cc -O2 -o "$checker" tools/crash/integrity_check.c -lsqlite3
fi
exec node tools/crash/kill_test.mjs --binary build/settee --checker "$checker" "$@"
