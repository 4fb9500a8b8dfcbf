#!/usr/bin/env bash
# tests/package/check.sh [BUILD_DIR] — the installed package, used as an app outside the tree uses it:
#   1. builds settee, libsettee.so and libsettee.a in BUILD_DIR (default build/) and installs them into a
#      temporary prefix (cmake --install --prefix); the files are where they belong and every public
#      header compiles alone, including only the standard library and other settee/ headers;
#   2. find_package(Settee): tests/package/ configured with -DCMAKE_PREFIX_PATH=<prefix> builds a C
#      consumer of Settee::settee (libsettee.so, found through the build's rpath), the same one linked
#      with Settee::settee_static, and a C++ consumer of settee::Database from Settee::settee_static;
#   3. pkg-config: plain `cc` with $(pkg-config --cflags --libs settee) (PKG_CONFIG_PATH=<prefix>/lib/
#      pkgconfig), and the static link with --static;
#   4. examples/field_notes built against the package: add, list, status, and sync with a `settee serve`
#      of the prefix on a port of 127.0.0.1 (stopped by its PID), both devices converging.
# Every program runs; any failure fails the script. ctest runs it as the test `package`.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package: $*" >&2; exit 1; }
step() { echo "-- $*"; }
prefix=$work/prefix

step "install into a temporary prefix"
cmake --build "$build" -j"${SETTEE_JOBS:-2}" --target settee settee_shared settee_static >/dev/null
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name libsettee.a)")
for f in bin/settee include/settee/settee.h include/settee/version.h include/settee/database.h \
         include/settee/sync.h; do
  [[ -f $prefix/$f ]] || fail "$f is not installed"
done
for f in libsettee.a libsettee.so pkgconfig/settee.pc cmake/Settee/SetteeConfig.cmake \
         cmake/Settee/SetteeConfigVersion.cmake cmake/Settee/SetteeTargets.cmake; do
  [[ -e $libdir/$f ]] || fail "$libdir/$f is not installed"
done
# The shared library is versioned: libsettee.so -> libsettee.so.MAJOR (the SONAME) -> libsettee.so.X.Y.Z.
soname=$(objdump -p "$libdir/libsettee.so" | awk '$1 == "SONAME" {print $2}')
[[ $soname =~ ^libsettee\.so\.[0-9]+$ && -e $libdir/$soname ]] || fail "libsettee.so's SONAME is '$soname'"

step "every public header compiles alone and includes only the standard library and settee/ headers"
for h in "$prefix"/include/settee/*.h; do
  name=settee/$(basename "$h")
  while read -r inc; do
    case $inc in
      \"settee/*\") [[ -f $prefix/include/${inc//\"/} ]] || fail "$name includes $inc, which is not installed" ;;
      \<std*.h\>|\<[a-z_]*\>) ;;  # <stdint.h> and friends in C; <string>, <memory>... in C++
      *) fail "$name includes $inc: a public header may include only the standard library and settee/" ;;
    esac
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p' "$h")
  if [[ $name == settee/settee.h || $name == settee/version.h ]]; then
    printf '#include "%s"\nint probe;\n' "$name" | cc -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$prefix/include" -x c - \
      || fail "$name does not compile alone as C11"
  fi
  echo "#include \"$name\"" | c++ -std=c++20 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/include" -x c++ - \
    || fail "$name does not compile alone as C++20"
done

step "find_package(Settee): C on Settee::settee and Settee::settee_static, C++ on Settee::settee_static"
cmake -S "$src/tests/package" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/consumer" -j"${SETTEE_JOBS:-2}" >/dev/null
grep -q "libsettee.so.* => $libdir/" <<<"$(ldd "$work/consumer/c_consumer")" || fail "c_consumer does not load $libdir/libsettee.so"
if grep -q 'libsettee' <<<"$(readelf -d "$work/consumer/c_static_consumer")"; then fail "c_static_consumer needs libsettee.so"; fi
mkdir "$work/data"
out=$("$work/consumer/c_consumer" "$work/data/c")
version=${out%%$'\n'*}  # its first line: "settee VERSION"
"$work/consumer/c_static_consumer" "$work/data/c-static" >/dev/null
"$work/consumer/cxx_consumer" "$work/data/cxx" >/dev/null

step "pkg-config: cc \$(pkg-config --cflags --libs settee), and --static"
export PKG_CONFIG_PATH=$libdir/pkgconfig
[[ "settee $(pkg-config --modversion settee)" == "$version" ]] || fail "settee.pc's Version is not the library's ($version)"
# shellcheck disable=SC2046  # pkg-config's flags are words
cc -std=c11 -Wall -Wextra -Werror "$src/tests/package/c_consumer.c" \
   $(pkg-config --cflags --libs settee) -o "$work/pc_consumer"
LD_LIBRARY_PATH=$libdir "$work/pc_consumer" "$work/data/pc" >/dev/null
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror "$src/tests/package/c_consumer.c" $(pkg-config --cflags settee) \
   -Wl,--as-needed -Wl,-Bstatic -lsettee -Wl,-Bdynamic $(pkg-config --static --libs settee) -o "$work/pc_static_consumer"
if grep -q 'libsettee' <<<"$(readelf -d "$work/pc_static_consumer")"; then fail "pc_static_consumer needs libsettee.so"; fi
"$work/pc_static_consumer" "$work/data/pc-static" >/dev/null

step "examples/field_notes against the package"
cmake -S "$src/examples" -B "$work/examples" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/examples" >/dev/null
notes() { FIELD_NOTES_DEVICE=$1 "$work/examples/field_notes" "$work/$1" "${@:2}"; }
notes phone add "first note" >/dev/null
notes phone add 'a "quoted" note, tab	and ünïcode' >/dev/null
listing=$(notes phone list)
grep -q '  phone  first note$' <<<"$listing" || fail "list does not show the first note: $listing"
grep -q '  phone  a "quoted" note, tab	and ünïcode$' <<<"$listing" || fail "list does not show the second note intact: $listing"
grep -qx '2 notes' <<<"$listing" || fail "list does not count 2 notes: $listing"
grep -q '^never synced' <<<"$(notes phone status)" || fail "status before any sync"
notes phone bogus 2>/dev/null && fail "an unknown command succeeded"

# Offline: nothing listens on port 1; the sync says so and fails.
if out=$(notes phone sync http://127.0.0.1:1/notes 20 2>&1); then fail "sync with no node succeeded: $out"; fi
grep -q 'state offline' <<<"$out" || fail "sync with no node: $out"

# A node from the installed package, on a port it picks (read from its log).
"$prefix/bin/settee" serve --data "$work/node" --bind 127.0.0.1 --port 0 2>"$work/node.log" &
server_pid=$!
port=""
for _ in $(seq 200); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/node.log")
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || fail "settee serve exited: $(cat "$work/node.log")"
  sleep 0.05
done
[[ -n $port ]] || fail "settee serve did not say its port: $(cat "$work/node.log")"
url=http://127.0.0.1:$port/notes
curl -sf -X PUT "$url" >/dev/null || fail "could not create the node's database"

out=$(notes phone sync "$url") || fail "sync: $out"
grep -q 'state idle, pending 0, failed 0, conflicted 0, last sync 20' <<<"$out" || fail "sync: $out"
notes tablet add "from the tablet" >/dev/null
notes tablet sync "$url" >/dev/null || fail "the tablet's sync failed"
notes phone sync "$url" >/dev/null || fail "the phone's second sync failed"
listing=$(notes phone list)
if ! grep -q '  tablet  from the tablet$' <<<"$listing" || ! grep -qx '3 notes' <<<"$listing"; then
  fail "the phone does not have the tablet's note: $listing"
fi
[[ $(curl -sf "$url" | sed -n 's/.*"doc_count":\([0-9]*\).*/\1/p') == 3 ]] || fail "the node does not hold 3 notes"
# status: no network, from what the database keeps (the URL remembered from the last sync).
out=$(notes phone status) || fail "status after sync failed: $out"
grep -q "^http://127.0.0.1:$port/notes: state stopped, pending 0, failed 0, conflicted 0, last sync 20" <<<"$out" \
  || fail "status after sync: $out"

kill "$server_pid"
wait "$server_pid" || true
server_pid=""
echo "package: ok"
