# Install rules and package files of the device runtime (docs/install.md).
# Included at the end of runtime/CMakeLists.txt, so the top-level build and
# `cmake -S runtime` install the same thing: the static library (target
# tm_runtime, exported as TinyM2Net::runtime_static), the shared library
# (tm_runtime_shared, TinyM2Net::runtime_shared) where the platform has
# them, the public headers, the CMake package TinyM2NetRuntime and
# tinym2net-runtime.pc. It reads tm_runtime's final properties, so whatever
# the ISA option block above sets is what the shared library and the package
# record.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(CheckCSourceCompiles)

set(_tm_rt_dir ${CMAKE_CURRENT_SOURCE_DIR})

# The runtime's version is the one its header states.
file(STRINGS ${_tm_rt_dir}/tm_rt.h _tm_rt_ver REGEX "^#define TM_RT_VERSION_(MAJOR|MINOR) ")
string(REGEX REPLACE ".*MAJOR ([0-9]+).*" "\\1" TM_RUNTIME_VERSION_MAJOR "${_tm_rt_ver}")
string(REGEX REPLACE ".*MINOR ([0-9]+).*" "\\1" TM_RUNTIME_VERSION_MINOR "${_tm_rt_ver}")
set(TM_RUNTIME_VERSION ${TM_RUNTIME_VERSION_MAJOR}.${TM_RUNTIME_VERSION_MINOR}.0)

# ---- options -----------------------------------------------------------------
option(TM_RUNTIME_NO_MESSAGES
       "Compile the runtime's human-readable error reasons out (TM_RT_NO_MESSAGES, tm_rt.h)" OFF)
get_property(_tm_rt_can_share GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS)
if(_tm_rt_can_share)
  option(TM_RUNTIME_SHARED "Also build and install the runtime as a shared library" ON)
else()
  set(TM_RUNTIME_SHARED OFF)
endif()
option(TM_INSTALL_RUNTIME "Install the runtime, its headers and its packages" ON)

if(TM_RUNTIME_NO_MESSAGES)
  # PUBLIC: a program that uses TM_RT_MSG itself sees the same choice.
  target_compile_definitions(tm_runtime PUBLIC TM_RT_NO_MESSAGES)
endif()

# Installed file names carry the project's name (libtinym2net-runtime.a, .so).
set_target_properties(tm_runtime PROPERTIES OUTPUT_NAME tinym2net-runtime EXPORT_NAME runtime_static)
# The source folder is for this build only; installed users get the include dir.
set_target_properties(tm_runtime PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "$<BUILD_INTERFACE:${_tm_rt_dir}>")

if(TM_RUNTIME_SHARED)
  # The same sources, flags and definitions as tm_runtime, position-independent.
  get_target_property(_tm_rt_sources tm_runtime SOURCES)
  add_library(tm_runtime_shared SHARED ${_tm_rt_sources})
  foreach(prop C_STANDARD C_STANDARD_REQUIRED C_EXTENSIONS COMPILE_OPTIONS COMPILE_DEFINITIONS
               INCLUDE_DIRECTORIES INTERFACE_COMPILE_OPTIONS INTERFACE_COMPILE_DEFINITIONS
               INTERFACE_INCLUDE_DIRECTORIES LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(_v tm_runtime ${prop})
    if(NOT _v STREQUAL "_v-NOTFOUND")
      set_property(TARGET tm_runtime_shared PROPERTY ${prop} "${_v}")
    endif()
  endforeach()
  set_target_properties(tm_runtime_shared PROPERTIES
    OUTPUT_NAME tinym2net-runtime EXPORT_NAME runtime_shared
    VERSION ${TM_RUNTIME_VERSION}
    # 0.x: every minor version may change the model struct's layout.
    SOVERSION ${TM_RUNTIME_VERSION_MAJOR}.${TM_RUNTIME_VERSION_MINOR}
    POSITION_INDEPENDENT_CODE ON)
endif()

# ---- the kernel ISA this build compiles for ----------------------------------
# The same macro chain as tm_rt_kernels_isa() (tm_rt_kernels_dispatch.c), tested
# with the flags tm_runtime compiles with, so the package says what
# tm_rt_kernels_isa() will return.
function(_tm_rt_kernels_isa out)
  get_target_property(opts tm_runtime COMPILE_OPTIONS)
  get_directory_property(dir_opts DIRECTORY ${_tm_rt_dir} COMPILE_OPTIONS)
  set(flags "${CMAKE_C_FLAGS}")
  if(CMAKE_BUILD_TYPE)
    string(TOUPPER "${CMAKE_BUILD_TYPE}" cfg)
    string(APPEND flags " ${CMAKE_C_FLAGS_${cfg}}")
  endif()
  foreach(o IN LISTS dir_opts opts)
    if(NOT o MATCHES "\\$<" AND NOT o MATCHES "^-fsanitize")
      string(APPEND flags " ${o}")
    endif()
  endforeach()
  string(MD5 key "${CMAKE_C_COMPILER};${flags}")
  set(CMAKE_REQUIRED_FLAGS "${flags}")
  set(CMAKE_REQUIRED_QUIET ON)
  # Compile only: a bare-metal toolchain cannot link a test program.
  set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
  foreach(pair
      "avx512vnni:defined(__AVX2__) && defined(__AVX512F__) && defined(__AVX512VNNI__)"
      "dotprod:defined(__ARM_NEON) && defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)"
      "avx2:defined(__AVX2__)" "sse4.1:defined(__SSE4_1__)" "sse2:defined(__SSE2__)"
      "neon:defined(__ARM_NEON)" "arm-dsp:defined(__ARM_FEATURE_DSP)")
    string(REPLACE ":" ";" pair "${pair}")
    list(GET pair 0 name)
    list(GET pair 1 cond)
    string(MAKE_C_IDENTIFIER "TM_RT_ISA_${name}_${key}" var)
    check_c_source_compiles("#if !(${cond})\n#error no\n#endif\nint tm_rt_isa_probe;" ${var})
    if(${var})
      set(${out} ${name} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} reference PARENT_SCOPE)
endfunction()
_tm_rt_kernels_isa(TM_RUNTIME_KERNELS_ISA)
if(DEFINED TM_RUNTIME_AVX2)
  set(_tm_rt_avx2 ${TM_RUNTIME_AVX2})
else()
  set(_tm_rt_avx2 OFF)
endif()
message(STATUS "TinyM2Net runtime ${TM_RUNTIME_VERSION}: kernels ${TM_RUNTIME_KERNELS_ISA}, "
               "TM_RUNTIME_NO_MESSAGES=${TM_RUNTIME_NO_MESSAGES}, "
               "TM_RUNTIME_SHARED=${TM_RUNTIME_SHARED}")

# ---- install -----------------------------------------------------------------
# Every header, the runtime's and the trainer's, goes to include/tinym2net/.
set(TM_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/tinym2net)
# pkg-config: prefix relative to the .pc file's own place, so the tree can move.
file(RELATIVE_PATH _tm_rt_pc_up /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" _tm_rt_pc_up "${_tm_rt_pc_up}")
set(TM_PC_PREFIX "\${pcfiledir}/${_tm_rt_pc_up}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(TM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
endif()
# The top-level build's cmake/TinyM2NetInstall.cmake uses these too.
get_directory_property(_tm_rt_parent PARENT_DIRECTORY)
if(_tm_rt_parent)
  foreach(v TM_RUNTIME_VERSION TM_RUNTIME_KERNELS_ISA TM_INSTALL_INCLUDEDIR TM_PC_PREFIX)
    set(${v} "${${v}}" PARENT_SCOPE)
  endforeach()
endif()

if(TM_INSTALL_RUNTIME)
  set(TM_RUNTIME_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/TinyM2NetRuntime)
  set(_tm_rt_targets tm_runtime)
  if(TM_RUNTIME_SHARED)
    list(APPEND _tm_rt_targets tm_runtime_shared)
  endif()
  install(TARGETS ${_tm_rt_targets} EXPORT TinyM2NetRuntimeTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
          INCLUDES DESTINATION ${TM_INSTALL_INCLUDEDIR})
  install(FILES ${_tm_rt_dir}/tm_rt.h ${_tm_rt_dir}/tm_rt_fft.h ${_tm_rt_dir}/tm_rt_frontend.h
                ${_tm_rt_dir}/tm_rt_kernels.h ${_tm_rt_dir}/tm_rt_model.h
          DESTINATION ${TM_INSTALL_INCLUDEDIR} COMPONENT runtime)
  install(EXPORT TinyM2NetRuntimeTargets NAMESPACE TinyM2Net::
          DESTINATION ${TM_RUNTIME_CMAKEDIR} COMPONENT runtime)

  set(_tm_rt_tpl ${CMAKE_CURRENT_LIST_DIR})
  configure_package_config_file(${_tm_rt_tpl}/TinyM2NetRuntimeConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/TinyM2NetRuntimeConfig.cmake
    INSTALL_DESTINATION ${TM_RUNTIME_CMAKEDIR}
    PATH_VARS TM_INSTALL_INCLUDEDIR)
  # 0.x: only the same minor version is compatible.
  write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/TinyM2NetRuntimeConfigVersion.cmake
    VERSION ${TM_RUNTIME_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/TinyM2NetRuntimeConfig.cmake
                ${CMAKE_CURRENT_BINARY_DIR}/TinyM2NetRuntimeConfigVersion.cmake
          DESTINATION ${TM_RUNTIME_CMAKEDIR} COMPONENT runtime)

  set(TM_PC_CFLAGS "")
  set(TM_PC_NO_MESSAGES 0)
  if(TM_RUNTIME_NO_MESSAGES)
    set(TM_PC_CFLAGS " -DTM_RT_NO_MESSAGES")
    set(TM_PC_NO_MESSAGES 1)
  endif()
  set(TM_PC_AVX2 0)
  if(_tm_rt_avx2)
    set(TM_PC_AVX2 1)
  endif()
  configure_file(${_tm_rt_tpl}/tinym2net-runtime.pc.in
                 ${CMAKE_CURRENT_BINARY_DIR}/tinym2net-runtime.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tinym2net-runtime.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT runtime)
endif()
