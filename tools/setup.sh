#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks and builds Settee into build/. Idempotent: packages
# already installed are not asked for again, and the build is incremental.
#   tools/setup.sh            release build (build/)
#   tools/setup.sh --asan     also the sanitizer build of the tests (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libuv1-dev node-llhttp libsqlite3-dev libsimdjson-dev
          rapidjson-dev catch2 libssl-dev zlib1g-dev libre2-dev libicu-dev duktape-dev
          wrk time)  # wrk and /usr/bin/time: tools/bench/http_bench.sh
# Node.js and npm run the compatibility tests; a machine that already has them (from anywhere) keeps them.
if [[ "${SETTEE_WITH_NODE:-0}" == 1 ]] && ! { command -v node && command -v npm; } >/dev/null; then
  packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

jobs=${SETTEE_JOBS:-2}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
if [[ "${1:-}" == "--asan" ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSETTEE_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs" --target settee_tests settee_capi_tests
fi
