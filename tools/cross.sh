#!/usr/bin/env bash
# Cross-builds Settee for another architecture with Debian's cross toolchain and runs its in-process tests
# under qemu-user. One architecture so far:
#   tools/cross.sh arm64     aarch64 (a Raspberry Pi-class gateway): build-arm64/, Release
# Like tools/setup.sh it installs what the machine lacks (as root, or with sudo) and is idempotent; the build
# is incremental and uses ccache when there is one. It runs the Catch2 tests below and the C API's tests
# under qemu-aarch64, checks the exports of libsettee.so (when the tree has settee_shared), and prints the
# size of the settee binary, and of it and of libsettee.so stripped.
#
# The target's libraries are Debian's :arm64 packages, unpacked with dpkg -x into build-arm64/sysroot rather
# than installed by multiarch: an :arm64 library installs only at the exact version of its amd64 twin, and
# their dependencies (libc6-dev:arm64 -> libnsl-dev -> krb5 -> libssl3) made apt upgrade the machine's
# libssl-dev, zlib1g-dev and linux-libc-dev, which every other build here uses. Unpacked, nothing of the
# host changes. Only the compilers (the core of crossbuild-essential-arm64, without its dpkg-cross, which
# would upgrade perl) and qemu-user are installed, never removing a package (--no-remove).
# tools/cross/aarch64-linux-gnu.cmake also takes a multiarch install (no SETTEE_TARGET_ROOT).
#
# Tests run: those that start no `settee` child process. The test binary runs under qemu-aarch64, but it
# starts `settee serve` (or `settee replicate`) with fork + exec, and an arm64 executable runs only through
# binfmt_misc, which a container does not have. Left out too, as in the sanitizer run: [timing] (emulation
# is several times slower) and [crash] (SIGKILL on purpose).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != arm64 ]]; then
  echo "usage: tools/cross.sh arm64" >&2
  exit 2
fi
triplet=aarch64-linux-gnu
build="build-arm64"
sysroot=$PWD/$build/sysroot
# Local replication: [repl] less what talks to a node ([remote], [service], [live], [http]) or runs the
# settee command ([cli], and the one hostile-peer test that runs `settee replicate`).
tests='[db]~[crash]~[timing],[mango]~[timing],[multipart],[router],'
tests+='[repl]~[remote]~[service]~[live]~[http]~[cli]~[timing]~"Hostile peer: settee replicate*"'
SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# ---- the host's tools: cross compilers, qemu-user, and the architecture-independent sources and headers
host_packages=(cmake pkg-config "gcc-$triplet" "g++-$triplet" qemu-user node-llhttp rapidjson-dev catch2)
missing=()
for p in "${host_packages[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "cross: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-remove --no-install-recommends \
    "${missing[@]}"
fi

# ---- the target's libraries, unpacked into build-arm64/sysroot
# Each -dev package with the runtime library its .so link points to.
target_packages=(libuv1-dev libuv1 libsqlite3-dev libsqlite3-0 libsimdjson-dev libsimdjson14 libssl-dev libssl3
                 zlib1g-dev zlib1g libre2-dev libre2-9 libicu-dev libicu72 duktape-dev libduktape207)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "cross: adding the arm64 architecture to apt (for apt-get download only; nothing :arm64 is installed)"
  $SUDO dpkg --add-architecture arm64
fi
if ! apt-cache show libuv1-dev:arm64 >/dev/null 2>&1; then
  $SUDO apt-get update -qq
fi
# The sysroot is made again only when a package's candidate version changes.
wanted=$(for p in "${target_packages[@]}"; do
  echo "$p $(apt-cache policy "$p:arm64" | sed -n 's/^ *Candidate: //p')"
done)
if [[ "$(cat "$sysroot/.packages" 2>/dev/null)" != "$wanted" ]]; then
  echo "cross: unpacking ${target_packages[*]} (arm64) into $build/sysroot"
  rm -rf "$sysroot" "$build/debs"
  mkdir -p "$build/debs" "$sysroot"
  # (apt's warning that root downloads outside its sandbox, into a folder its _apt user cannot write, is noise.)
  (cd "$build/debs" &&
    apt-get download -qq "${target_packages[@]/%/:arm64}" 2> >(grep -v '^W: Download is performed unsandboxed' >&2))
  for deb in "$build"/debs/*.deb; do dpkg -x "$deb" "$sysroot"; done
  # One library folder: zlib1g puts its library under /lib, its -dev package the link under /usr/lib.
  if [[ -d "$sysroot/lib" ]]; then
    cp -a "$sysroot/lib/." "$sysroot/usr/lib/"
    rm -rf "${sysroot:?}/lib"
  fi
  # Links to absolute paths (/lib/aarch64-linux-gnu/libz.so.1...) point into the sysroot instead.
  while IFS= read -r link; do
    target=$(readlink "$link")
    ln -sfr "$sysroot/usr/${target#/usr/}" "$link"
  done < <(find "$sysroot" -type l -lname '/*')
  for p in "${target_packages[@]}"; do
    ls "$build"/debs/"${p}"_*_arm64.deb >/dev/null  # every package came down
  done
  echo "$wanted" >"$sysroot/.packages"
fi

# ---- configure and build
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$PWD/tools/cross/$triplet.cmake" -DSETTEE_TARGET_ROOT="$sysroot" \
  -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
# Only what is run or measured. The C API's tests and the shared library join when the tree has them.
known=$(cmake --build "$build" --target help)
has() { grep -q "\b$1\b" <<<"$known"; }
targets=(settee settee_tests)
has settee_capi_tests && targets+=(settee_capi_tests)
has settee_shared && targets+=(settee_shared)
jobs=${SETTEE_JOBS:-2}
started=$SECONDS
cmake --build "$build" -j"$jobs" --target "${targets[@]}"
echo "cross: ${targets[*]} built in $((SECONDS - started)) s"

# ---- run under qemu-user
# -L: the loader and the C/C++ runtime of the cross toolchain; LD_LIBRARY_PATH: the sysroot's libraries, for
# those a library needs (libicuuc -> libicudata), which the executables' RUNPATH does not cover.
run=(qemu-aarch64 -L "/usr/$triplet" -E LD_LIBRARY_PATH="$sysroot/usr/lib/$triplet")
if ! $triplet-readelf -h "$build/settee" | grep -q 'Machine: *AArch64'; then
  echo "cross: $build/settee is not an aarch64 executable" >&2
  exit 1
fi
version=$("${run[@]}" "$build/settee" version)
echo "cross: $version (aarch64, under qemu-aarch64)"
started=$SECONDS
"${run[@]}" "$build/settee_tests" "$tests"
echo "cross: tests ran in $((SECONDS - started)) s under qemu-aarch64"
if has settee_capi_tests; then
  echo "cross: the C API's tests (tests/capi) under qemu-aarch64"
  "${run[@]}" "$build/settee_capi_tests"
fi

# ---- sizes
size() { stat -c %s "$1"; }
human() { echo "$1 bytes ($(numfmt --to=iec-i --suffix=B --format=%.1f "$1"))"; }
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
$triplet-strip -o "$stripped" "$build/settee"
echo "cross: settee (aarch64, Release): $(human "$(size "$build/settee")"), stripped $(human "$(size "$stripped")")"
if has settee_shared; then
  if ctest --test-dir "$build" -N -R '^exported_symbols$' | grep -q 'Total Tests: 1'; then
    echo "cross: the arm64 libsettee.so exports the C API and nothing else (ctest exported_symbols)"
    ctest --test-dir "$build" -R '^exported_symbols$' --output-on-failure
  fi
  lib=$(find "$build" -maxdepth 2 -name 'libsettee.so*' -type f | head -n 1)
  $triplet-strip -o "$stripped" "$lib"
  echo "cross: libsettee.so (aarch64, Release): $(human "$(size "$lib")"), stripped $(human "$(size "$stripped")")"
else
  echo "cross: no settee_shared target in this tree, so no libsettee.so to measure"
fi
