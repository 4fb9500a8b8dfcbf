#!/usr/bin/env bash
# Sets up, builds, and starts `settee serve` on its embedded default: data under ./data, 127.0.0.1:5984.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
exec build/settee serve --data ./data --bind 127.0.0.1 --port 5984 "$@"
