# tests/layering/check.cmake — the layering of src/ as a test (ctest -R layering; tools/test.sh runs it).
#
# Compiles small probe sources (syntax only) with the include directories CMake gives each library, and
# fails when a library can include a header it may not use, or cannot include one it may (the controls
# prove the probes reach the real headers, so a forbidden include failing is not an accident of flags).
#
# Arguments (-D): CXX, PROBES (this folder), PUBLIC_INCLUDE (include/), GEN_INCLUDE (the generated settee/version.h), INCLUDES_<lib> for settee_db,
# settee_http and settee_repl ('|'-separated include directories).

# lib|probe: must compile.
set(allowed
    "settee_db|db_own"
    "settee_http|http_own"
    "settee_repl|replicator_own"
    "app|app_public"
    "app|app_c_api")
# lib|probe|header: must fail, and fail because `header` is not found.
set(forbidden
    "settee_db|db_includes_http|http/server.h"
    "settee_db|db_includes_replicator|replicator/endpoint.h"
    "settee_http|http_includes_replicator|replicator/endpoint.h"
    "settee_repl|replicator_includes_capi|capi/capi_internal.h"
    "app|app_includes_store|db/store.h")

set(INCLUDES_app "${PUBLIC_INCLUDE}|${GEN_INCLUDE}")

function(compile lib probe out_rc out_log)
  if(NOT DEFINED INCLUDES_${lib} OR INCLUDES_${lib} STREQUAL "")
    message(FATAL_ERROR "no include directories given for ${lib}")
  endif()
  string(REPLACE "|" ";" dirs "${INCLUDES_${lib}}")
  set(flags)
  foreach(d ${dirs})
    list(APPEND flags "-I${d}")
  endforeach()
  execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -x c++ ${flags} ${PROBES}/${probe}.probe
                  RESULT_VARIABLE rc OUTPUT_VARIABLE log ERROR_VARIABLE log)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_log} "${log}" PARENT_SCOPE)
endfunction()

set(failures 0)
foreach(entry ${allowed})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 lib)
  list(GET parts 1 probe)
  compile(${lib} ${probe} rc log)
  if(rc EQUAL 0)
    message(STATUS "ok: ${lib} compiles ${probe}")
  else()
    message(STATUS "FAILED: ${lib} should compile ${probe}:\n${log}")
    math(EXPR failures "${failures} + 1")
  endif()
endforeach()
foreach(entry ${forbidden})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 lib)
  list(GET parts 1 probe)
  list(GET parts 2 header)
  compile(${lib} ${probe} rc log)
  string(FIND "${log}" "${header}" named)
  if(NOT rc EQUAL 0 AND named GREATER -1 AND log MATCHES "No such file|file not found")
    message(STATUS "ok: ${lib} cannot include ${header}")
  else()
    message(STATUS "FAILED: ${lib} must not see ${header} (${probe}), exit ${rc}:\n${log}")
    math(EXPR failures "${failures} + 1")
  endif()
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "layering: ${failures} probe(s) failed")
endif()
