# The libraries an app links (included from CMakeLists.txt once the internal targets exist):
#   settee_shared  libsettee.so: the C API (include/settee/settee.h), exporting the settee_* functions only
#   settee_static  libsettee.a:  one archive of db, http, replicator, the C API and llhttp, for C++ apps
#                  (include/settee/*.h) and for linking the C API statically
# Both name the system libraries they need (Debian's shared libsqlite3, libuv, ...): neither carries a
# copy of them.

# Everything that goes into the libraries is position-independent (an archive's objects end up in a
# shared library) and compiled with hidden visibility: only what settee.h marks SETTEE_API is exported.
# Visibility changes nothing for the programs that link the internal archives (settee, the tests): a
# hidden symbol is still resolved between the objects of one link.
set(SETTEE_LIBRARY_PARTS settee_db settee_http ${SETTEE_REPL_LIB} settee_capi llhttp)
set_target_properties(${SETTEE_LIBRARY_PARTS} PROPERTIES
  POSITION_INDEPENDENT_CODE ON
  C_VISIBILITY_PRESET hidden
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON)

# The system libraries under the internal targets, as the package names them to its users.
set(SETTEE_SYSTEM_LIBS PkgConfig::SQLITE3 PkgConfig::UV PkgConfig::RE2 PkgConfig::ICU simdjson::simdjson
    OpenSSL::SSL OpenSSL::Crypto ZLIB::ZLIB Threads::Threads)

# libsettee.so: the C API's objects; the rest is pulled from the internal archives as they need it.
# The version script (cmake/settee.map) makes the settee_* functions the only dynamic symbols, and
# --no-undefined makes a missing dependency a link error here instead of a load error in an app.
set(SETTEE_SYMBOL_MAP ${CMAKE_CURRENT_LIST_DIR}/settee.map)
add_library(settee_shared SHARED $<TARGET_OBJECTS:settee_capi>)
target_link_libraries(settee_shared PRIVATE settee_capi)
target_include_directories(settee_shared INTERFACE
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<BUILD_INTERFACE:${SETTEE_GEN_INCLUDE}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
if(APPLE)
  # Apple's linker (macOS, iOS) has no version scripts: it keeps the settee_* functions global by pattern,
  # and an undefined symbol is a link error there by default.
  target_link_options(settee_shared PRIVATE "LINKER:-exported_symbol,_settee_*")
else()
  target_link_options(settee_shared PRIVATE -Wl,--version-script=${SETTEE_SYMBOL_MAP})
  # (Not in a sanitized build: clang leaves the sanitizer runtime to the executable, so a shared library
  # has its symbols undefined on purpose.)
  if(NOT SETTEE_SANITIZE AND NOT SETTEE_FUZZ)
    target_link_options(settee_shared PRIVATE -Wl,--no-undefined)
  endif()
endif()
set_target_properties(settee_shared PROPERTIES
  OUTPUT_NAME settee
  EXPORT_NAME settee
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${SETTEE_SYMBOL_MAP})

# libsettee.a: every object of the internal archives in one, so an app links one library. Its link
# interface is the system libraries (the internal targets are not part of the package).
set(SETTEE_STATIC_OBJECTS)
foreach(part ${SETTEE_LIBRARY_PARTS})
  list(APPEND SETTEE_STATIC_OBJECTS $<TARGET_OBJECTS:${part}>)
endforeach()
add_library(settee_static STATIC ${SETTEE_STATIC_OBJECTS})
target_link_libraries(settee_static PUBLIC ${SETTEE_SYSTEM_LIBS})
target_include_directories(settee_static INTERFACE
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<BUILD_INTERFACE:${SETTEE_GEN_INCLUDE}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# The C++ headers use C++20's library; a C app linking the archive gets the C++ runtime through the
# imported target's link languages (or -lstdc++ in settee.pc's Libs.private).
target_compile_features(settee_static INTERFACE cxx_std_20)
set_target_properties(settee_static PROPERTIES OUTPUT_NAME settee EXPORT_NAME settee_static
                                               LINKER_LANGUAGE CXX)
