# Install rules and package files of the training side (docs/install.md):
# the libraries core .. experiments as static libraries, their headers, the
# programs tinym2net and tinym2net-run, the CMake package TinyM2Net and
# tinym2net.pc. Included from the top-level CMakeLists.txt after every
# folder; the runtime's own rules are cmake/TinyM2NetRuntimeInstall.cmake.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(TM_INSTALL_TRAINER "Install the training libraries, their headers and the programs" ON)

if(TM_RUNTIME_NO_MESSAGES AND TM_BUILD_TESTS)
  message(FATAL_ERROR "TM_RUNTIME_NO_MESSAGES=ON: the test suite checks the runtime's messages; "
                      "configure with -DTM_BUILD_TESTS=OFF too (or build the runtime alone: "
                      "cmake -S runtime)")
endif()

# Library target -> installed name (libtinym2net-<name>.a, TinyM2Net::<name>),
# in link order.
set(_tm_libs)
foreach(lib experiments export quant data layers autograd core)
  if(TARGET tm_${lib})
    list(APPEND _tm_libs tm_${lib})
    get_target_property(_dir tm_${lib} SOURCE_DIR)
    set_target_properties(tm_${lib} PROPERTIES OUTPUT_NAME tinym2net-${lib} EXPORT_NAME ${lib}
      # The source folder is for this build only; installed users get the include dir.
      INTERFACE_INCLUDE_DIRECTORIES "$<BUILD_INTERFACE:${_dir}>")
  endif()
endforeach()
set(_tm_programs tinym2net)
if(TARGET tinym2net-run)
  list(APPEND _tm_programs tinym2net-run)
endif()

if(TM_INSTALL_TRAINER)
  set(TM_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/TinyM2Net)
  install(TARGETS ${_tm_libs} ${_tm_programs} EXPORT TinyM2NetTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT trainer
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT trainer
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT trainer
          INCLUDES DESTINATION ${TM_INSTALL_INCLUDEDIR})
  foreach(lib IN LISTS _tm_libs)
    get_target_property(_dir ${lib} SOURCE_DIR)
    file(GLOB _headers ${_dir}/*.h)
    install(FILES ${_headers} DESTINATION ${TM_INSTALL_INCLUDEDIR} COMPONENT trainer)
  endforeach()
  install(EXPORT TinyM2NetTargets NAMESPACE TinyM2Net:: DESTINATION ${TM_CMAKEDIR}
          COMPONENT trainer)

  # TinyM2NetConfig.cmake finds the same dependencies this build linked.
  set(TM_OPENBLAS_HAS_SET_NUM_THREADS ${TM_HAVE_OPENBLAS_SET_NUM_THREADS})
  configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/TinyM2NetConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/TinyM2NetConfig.cmake
    INSTALL_DESTINATION ${TM_CMAKEDIR}
    PATH_VARS TM_INSTALL_INCLUDEDIR)
  write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/TinyM2NetConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/TinyM2NetConfig.cmake
                ${CMAKE_CURRENT_BINARY_DIR}/TinyM2NetConfigVersion.cmake
          DESTINATION ${TM_CMAKEDIR} COMPONENT trainer)

  # tinym2net.pc: static libraries, so every dependency is in Requires / Libs.
  set(TM_PC_LIBS "")
  foreach(lib IN LISTS _tm_libs)
    string(REGEX REPLACE "^tm_" "" _n ${lib})
    string(APPEND TM_PC_LIBS " -ltinym2net-${_n}")
  endforeach()
  set(TM_PC_REQUIRES "tinym2net-runtime = ${TM_RUNTIME_VERSION}, openblas, sndfile, samplerate, libpng, inih, jansson")
  # Debian ships hdf5.pc; elsewhere the libraries FindHDF5 found go in Libs.
  pkg_check_modules(TM_PC_HDF5 QUIET hdf5)
  set(TM_PC_HDF5_LIBS "")
  if(TM_PC_HDF5_FOUND)
    string(APPEND TM_PC_REQUIRES ", hdf5")
  else()
    foreach(l IN LISTS HDF5_C_LIBRARIES)
      string(APPEND TM_PC_HDF5_LIBS " ${l}")
    endforeach()
  endif()
  configure_file(${CMAKE_CURRENT_LIST_DIR}/tinym2net.pc.in ${CMAKE_CURRENT_BINARY_DIR}/tinym2net.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tinym2net.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
          COMPONENT trainer)
endif()
