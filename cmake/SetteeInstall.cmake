# `cmake --install build --prefix P` (included from CMakeLists.txt after cmake/SetteeLibrary.cmake):
#   P/bin/settee
#   P/lib/libsettee.so* and libsettee.a (lib is GNUInstallDirs' CMAKE_INSTALL_LIBDIR)
#   P/include/settee/*.h                 the C API (settee.h), the C++ API and the generated version.h
#   P/lib/pkgconfig/settee.pc            pkg-config: `pkg-config --cflags --libs settee`
#   P/lib/cmake/Settee/                  find_package(Settee): Settee::settee (libsettee.so, the C API) and
#                                        Settee::settee_static (libsettee.a, the C++ and the C API)
# Everything is relative to P, whatever prefix was configured: the package can be installed anywhere.
include(CMakePackageConfigHelpers)

install(TARGETS settee RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS settee_shared settee_static EXPORT SetteeTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The public headers include only the standard library and each other (tests/package/check.sh compiles
# each one alone against the installed tree).
file(GLOB SETTEE_PUBLIC_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/include/settee/*.h)
install(FILES ${SETTEE_PUBLIC_HEADERS} ${SETTEE_GEN_INCLUDE}/settee/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/settee)

set(SETTEE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Settee)
install(EXPORT SetteeTargets NAMESPACE Settee:: DESTINATION ${SETTEE_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/SetteeConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/package/SetteeConfig.cmake
                              INSTALL_DESTINATION ${SETTEE_CMAKE_DIR})
# A 0.x minor release may break the API as much as a major one; SameMajorVersion is what the package
# promises from 1.0 (and the library's SOVERSION is the major version).
write_basic_package_version_file(${CMAKE_BINARY_DIR}/package/SetteeConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/package/SetteeConfig.cmake ${CMAKE_BINARY_DIR}/package/SetteeConfigVersion.cmake
        DESTINATION ${SETTEE_CMAKE_DIR})

# settee.pc finds the prefix from its own place (${pcfiledir}), so it holds no absolute path.
file(RELATIVE_PATH SETTEE_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" SETTEE_PC_TO_PREFIX "${SETTEE_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/settee.pc.in ${CMAKE_BINARY_DIR}/package/settee.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/package/settee.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
