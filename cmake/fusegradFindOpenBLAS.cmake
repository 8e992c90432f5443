# Locate OpenBLAS through its CMake package (Debian's libopenblas-serial-dev,
# -pthread-dev and -openmp-dev ship OpenBLASConfig.cmake, which sets variables but
# no target) and define the imported target fusegrad::openblas. Used by fusegrad's
# own CMakeLists.txt and, once installed, by fusegradConfig.cmake.
#
#   fusegrad_find_openblas([GLOBAL])
#
# Sets FUSEGRAD_OPENBLAS_FOUND in the caller's scope, and the cache variables
# FUSEGRAD_OPENBLAS_INCLUDE_DIR (holding cblas.h) and FUSEGRAD_OPENBLAS_LIBRARY (set
# them, or OpenBLAS_DIR, to point at another install).
include_guard(GLOBAL)

function(fusegrad_find_openblas)
  cmake_parse_arguments(PARSE_ARGV 0 _arg "GLOBAL" "" "")
  set(FUSEGRAD_OPENBLAS_FOUND FALSE PARENT_SCOPE)

  if(NOT FUSEGRAD_OPENBLAS_INCLUDE_DIR OR NOT FUSEGRAD_OPENBLAS_LIBRARY)
    find_package(OpenBLAS CONFIG QUIET)
    if(NOT OpenBLAS_FOUND)
      return()
    endif()
    find_path(FUSEGRAD_OPENBLAS_INCLUDE_DIR NAMES cblas.h HINTS ${OpenBLAS_INCLUDE_DIRS} NO_DEFAULT_PATH
              DOC "Directory containing OpenBLAS's cblas.h")
    list(GET OpenBLAS_LIBRARIES 0 _library)
    set(FUSEGRAD_OPENBLAS_LIBRARY "${_library}" CACHE FILEPATH "The OpenBLAS library")
  endif()
  mark_as_advanced(FUSEGRAD_OPENBLAS_INCLUDE_DIR FUSEGRAD_OPENBLAS_LIBRARY)
  if(NOT FUSEGRAD_OPENBLAS_INCLUDE_DIR OR NOT EXISTS "${FUSEGRAD_OPENBLAS_LIBRARY}")
    return()
  endif()

  if(NOT TARGET fusegrad::openblas)
    set(_scope "")
    if(_arg_GLOBAL)
      set(_scope GLOBAL)
    endif()
    add_library(fusegrad::openblas UNKNOWN IMPORTED ${_scope})
    set_target_properties(fusegrad::openblas PROPERTIES
      IMPORTED_LOCATION "${FUSEGRAD_OPENBLAS_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${FUSEGRAD_OPENBLAS_INCLUDE_DIR}")
  endif()
  set(FUSEGRAD_OPENBLAS_FOUND TRUE PARENT_SCOPE)
endfunction()
