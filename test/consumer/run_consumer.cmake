# Builds and runs test/consumer against fusegrad; run with `cmake -P`.
#
#   -DMODE=package|subdirectory|pkgconfig
#   -DSOURCE_DIR=<fusegrad source tree>   -DCONSUMER_DIR=<this folder>
#   -DWORK_DIR=<scratch dir, wiped>       -DCXX_COMPILER=<compiler>
#   optional: -DGENERATOR= -DMAKE_PROGRAM= -DBUILD_TYPE= -DEIGEN3_DIR=
#             -DUSE_SLEEF=ON|OFF -DEXPECT_SLEEF=0|1
#             -DPKG_CONFIG=<pkg-config program> -DEXPECTED_VERSION=<x.y.z> (pkgconfig)
#
# package:      configure fusegrad (tests and bench off), build, install into
#               WORK_DIR/prefix; configure the consumer with
#               CMAKE_PREFIX_PATH=WORK_DIR/prefix, build, run.
# subdirectory: configure the consumer with add_subdirectory(SOURCE_DIR),
#               build, run.
# pkgconfig:    install as for package, then compile main.cpp with the compiler
#               alone, as a build without CMake does:
#               CXX -std=c++20 main.cpp $(pkg-config --cflags --libs fusegrad); run.
# Any failing step stops with FATAL_ERROR and that step's output.
cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS MODE SOURCE_DIR CONSUMER_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(package|subdirectory|pkgconfig)$")
  message(FATAL_ERROR "run_consumer.cmake: MODE must be package, subdirectory or pkgconfig, not '${MODE}'")
endif()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()

# Settings every configure step gets.
set(common_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
if(GENERATOR)
  list(APPEND common_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND common_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(EIGEN3_DIR)
  list(APPEND common_args "-DEigen3_DIR=${EIGEN3_DIR}")
endif()
if(DEFINED USE_SLEEF AND NOT USE_SLEEF STREQUAL "")
  list(APPEND common_args "-DFUSEGRAD_USE_SLEEF=${USE_SLEEF}")
endif()

# run_step(<description> <command>...): run, echo the output, stop on failure.
function(run_step what)
  string(REPLACE ";" " " pretty "${ARGN}")
  message(STATUS "[${MODE}] ${what}: ${pretty}")
  execute_process(
    COMMAND ${ARGN}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${MODE}] ${what} failed (${rc}):\n${pretty}\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(consumer_args
  "-DFUSEGRAD_CONSUMER_MODE=${MODE}"
  "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF")
if(DEFINED EXPECT_SLEEF AND NOT EXPECT_SLEEF STREQUAL "")
  if(EXPECT_SLEEF)
    list(APPEND consumer_args "-DFUSEGRAD_CONSUMER_EXPECT_SLEEF=ON")
  else()
    list(APPEND consumer_args "-DFUSEGRAD_CONSUMER_EXPECT_SLEEF=OFF")
  endif()
endif()

if(MODE MATCHES "^(package|pkgconfig)$")
  set(lib_build "${WORK_DIR}/fusegrad-build")
  set(prefix "${WORK_DIR}/prefix")
  run_step("configure fusegrad"
    "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${lib_build}" ${common_args}
    -DFUSEGRAD_BUILD_TESTS=OFF -DFUSEGRAD_BUILD_BENCH=OFF)
  run_step("build fusegrad"
    "${CMAKE_COMMAND}" --build "${lib_build}" --config "${BUILD_TYPE}" --parallel 2)
  run_step("install fusegrad"
    "${CMAKE_COMMAND}" --install "${lib_build}" --config "${BUILD_TYPE}" --prefix "${prefix}")
  foreach(f IN ITEMS
      "include/fusegrad/fusegrad.hpp"
      "lib/cmake/fusegrad/fusegradConfig.cmake"
      "lib/cmake/fusegrad/fusegradConfigVersion.cmake"
      "lib/cmake/fusegrad/fusegradTargets.cmake"
      "share/pkgconfig/fusegrad.pc")
    if(NOT EXISTS "${prefix}/${f}")
      message(FATAL_ERROR "[package] install did not produce ${prefix}/${f}")
    endif()
  endforeach()
  list(APPEND consumer_args "-DCMAKE_PREFIX_PATH=${prefix}")
else()
  list(APPEND consumer_args "-DFUSEGRAD_SOURCE_DIR=${SOURCE_DIR}")
endif()

if(MODE STREQUAL "pkgconfig")
  if(NOT PKG_CONFIG)
    message(FATAL_ERROR "[pkgconfig] -DPKG_CONFIG=<pkg-config program> is required")
  endif()
  set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig")
  run_step("pkg-config version" "${PKG_CONFIG}" --modversion fusegrad)
  string(STRIP "${step_output}" pc_version)
  if(EXPECTED_VERSION AND NOT pc_version STREQUAL EXPECTED_VERSION)
    message(FATAL_ERROR "[pkgconfig] fusegrad.pc says version ${pc_version}, not ${EXPECTED_VERSION}")
  endif()
  run_step("pkg-config accepts 0.3" "${PKG_CONFIG}" --atleast-version=0.3 fusegrad)
  execute_process(COMMAND "${PKG_CONFIG}" --atleast-version=9.0 fusegrad RESULT_VARIABLE rc)
  if(rc EQUAL 0)
    message(FATAL_ERROR "[pkgconfig] pkg-config --atleast-version=9.0 accepted fusegrad ${pc_version}")
  endif()
  run_step("pkg-config flags" "${PKG_CONFIG}" --cflags --libs fusegrad)
  set(extra "")
  if(EXPECT_SLEEF)
    if(NOT step_output MATCHES "-DFUSEGRAD_HAS_SLEEF=1" OR NOT step_output MATCHES "-lsleef")
      message(FATAL_ERROR "[pkgconfig] fusegrad was built with SLEEF, but pkg-config gives: ${step_output}")
    endif()
    set(extra "-DCONSUMER_EXPECT_SLEEF")
  endif()
  # The shell expands $(pkg-config ...), as it does in a user's build script.
  file(MAKE_DIRECTORY "${WORK_DIR}/consumer-build/bin")
  run_step("compile consumer with pkg-config flags" sh -c
    "\"${CXX_COMPILER}\" -std=c++20 ${extra} \"${CONSUMER_DIR}/main.cpp\" -o \"${WORK_DIR}/consumer-build/bin/fusegrad_consumer\" $(\"${PKG_CONFIG}\" --cflags --libs fusegrad)")
  run_step("run consumer" "${WORK_DIR}/consumer-build/bin/fusegrad_consumer")
  if(NOT step_output MATCHES "consumer ok")
    message(FATAL_ERROR "[pkgconfig] consumer ran but did not print 'consumer ok':\n${step_output}")
  endif()
  message(STATUS "[pkgconfig] consumer ok")
  return()
endif()

set(consumer_build "${WORK_DIR}/consumer-build")
run_step("configure consumer"
  "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${consumer_build}" ${common_args} ${consumer_args})

if(MODE STREQUAL "package")
  # The package must come from the prefix just installed, not from elsewhere.
  file(STRINGS "${consumer_build}/CMakeCache.txt" found_dir REGEX "^fusegrad_DIR:")
  string(REGEX REPLACE "^fusegrad_DIR:[A-Z]+=" "" found_dir "${found_dir}")
  file(REAL_PATH "${prefix}" real_prefix)
  file(REAL_PATH "${found_dir}" real_found_dir)
  string(FIND "${real_found_dir}/" "${real_prefix}/" pos)
  if(NOT pos EQUAL 0)
    message(FATAL_ERROR "[package] consumer found fusegrad in '${found_dir}', not under '${prefix}'")
  endif()
endif()

run_step("build consumer"
  "${CMAKE_COMMAND}" --build "${consumer_build}" --config "${BUILD_TYPE}" --parallel 2)
run_step("run consumer" "${consumer_build}/bin/fusegrad_consumer")
if(NOT step_output MATCHES "consumer ok")
  message(FATAL_ERROR "[${MODE}] consumer ran but did not print 'consumer ok':\n${step_output}")
endif()
message(STATUS "[${MODE}] consumer ok")
