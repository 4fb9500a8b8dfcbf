# CMake toolchain file: Settee for aarch64 Linux (arm64: a Raspberry Pi-class gateway) with Debian's cross
# compilers (gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu) on an amd64 machine. tools/cross.sh arm64 uses it:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=tools/cross/aarch64-linux-gnu.cmake [-DSETTEE_TARGET_ROOT=DIR]
# The target's libraries (libuv, SQLite, simdjson, OpenSSL, zlib, RE2, ICU) are Debian's :arm64 packages, found
# in one of two places:
#   - installed by multiarch (dpkg --add-architecture arm64; apt-get install libuv1-dev:arm64 ...): their files
#     are under /usr/lib/aarch64-linux-gnu and /usr/include. The default.
#   - unpacked with dpkg -x into a folder, SETTEE_TARGET_ROOT (holding usr/include, usr/lib/aarch64-linux-gnu):
#     for a machine whose amd64 packages are at versions the arm64 archive lacks, where multiarch would have
#     to upgrade or remove them. tools/cross.sh does this.
# Header-only and source dependencies (RapidJSON, Catch2 2, llhttp's C sources) are architecture-independent
# and come from the host's /usr/include and /usr/share, which the cross compiler searches last.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Tests and try_run run under qemu-user; -L is where the loader and the cross C/C++ runtime live. The
# executables' RUNPATH names the folder's library directory, but a library's own dependencies
# (libicuuc -> libicudata) are not looked up there: LD_LIBRARY_PATH covers them.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
if(SETTEE_TARGET_ROOT)
  list(APPEND CMAKE_CROSSCOMPILING_EMULATOR -E LD_LIBRARY_PATH=${SETTEE_TARGET_ROOT}/usr/lib/aarch64-linux-gnu)
endif()

# try_compile projects read this file again: hand them the folder too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SETTEE_TARGET_ROOT)

# Libraries, headers and CMake packages only from the target's places; programs (pkg-config) from the host.
# "/" stays a root for the architecture-independent headers and Catch2's CMake files (/usr/lib/cmake); with
# CMAKE_LIBRARY_ARCHITECTURE set, its libraries are searched in /usr/lib/aarch64-linux-gnu, never the host's.
set(CMAKE_FIND_ROOT_PATH ${SETTEE_TARGET_ROOT} /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

if(SETTEE_TARGET_ROOT)
  # pkg-config reads the folder's .pc files and puts the folder before their /usr paths.
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${SETTEE_TARGET_ROOT})
  set(ENV{PKG_CONFIG_LIBDIR} ${SETTEE_TARGET_ROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${SETTEE_TARGET_ROOT}/usr/share/pkgconfig)
  set(_settee_arm64_includes ${SETTEE_TARGET_ROOT}/usr/include/aarch64-linux-gnu ${SETTEE_TARGET_ROOT}/usr/include)
else()
  set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
  set(_settee_arm64_includes /usr/include/aarch64-linux-gnu)
endif()
# The arm64 headers come before the host's /usr/include (an amd64 twin of the same header may sit there), and
# the multiarch folder holds the arch-specific ones (openssl/configuration.h), which Debian's cross compiler
# does not search by itself.
foreach(dir ${_settee_arm64_includes})
  string(APPEND CMAKE_C_FLAGS_INIT " -isystem ${dir}")
  string(APPEND CMAKE_CXX_FLAGS_INIT " -isystem ${dir}")
endforeach()
