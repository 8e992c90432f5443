# Locate SLEEF (header sleef.h and library libsleef) without a CMake package
# config (Debian's libsleef-dev ships none) and define the imported target
# fusegrad::sleef. Used by fusegrad's own CMakeLists.txt and, once installed,
# by fusegradConfig.cmake.
#
#   fusegrad_find_sleef([GLOBAL])
#
# Sets FUSEGRAD_SLEEF_FOUND in the caller's scope, and the cache variables
# FUSEGRAD_SLEEF_INCLUDE_DIR and FUSEGRAD_SLEEF_LIBRARY (set them, or SLEEF_ROOT
# as a CMake or environment variable, to point at a non-standard install).
include_guard(GLOBAL)

function(fusegrad_find_sleef)
  cmake_parse_arguments(PARSE_ARGV 0 _arg "GLOBAL" "" "")
  set(FUSEGRAD_SLEEF_FOUND FALSE PARENT_SCOPE)

  find_path(FUSEGRAD_SLEEF_INCLUDE_DIR
    NAMES sleef.h
    HINTS ${SLEEF_ROOT} ENV SLEEF_ROOT
    PATH_SUFFIXES include
    DOC "Directory containing sleef.h")
  find_library(FUSEGRAD_SLEEF_LIBRARY
    NAMES sleef
    HINTS ${SLEEF_ROOT} ENV SLEEF_ROOT
    PATH_SUFFIXES lib lib64
    DOC "The SLEEF library (libsleef)")
  mark_as_advanced(FUSEGRAD_SLEEF_INCLUDE_DIR FUSEGRAD_SLEEF_LIBRARY)

  if(NOT FUSEGRAD_SLEEF_INCLUDE_DIR OR NOT FUSEGRAD_SLEEF_LIBRARY)
    return()
  endif()

  if(NOT TARGET fusegrad::sleef)
    set(_scope "")
    if(_arg_GLOBAL)
      set(_scope GLOBAL)
    endif()
    add_library(fusegrad::sleef UNKNOWN IMPORTED ${_scope})
    set_target_properties(fusegrad::sleef PROPERTIES
      IMPORTED_LOCATION "${FUSEGRAD_SLEEF_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${FUSEGRAD_SLEEF_INCLUDE_DIR}")
  endif()
  set(FUSEGRAD_SLEEF_FOUND TRUE PARENT_SCOPE)
endfunction()
