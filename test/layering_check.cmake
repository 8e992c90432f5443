# fusegrad's headers are layered: a folder under include/fusegrad is one layer, and a
# header includes headers of its own layer or of layers below it, never above (so that,
# for example, the calculus in ops/ never depends on how expressions are evaluated).
# Run with `cmake -DINCLUDE_DIR=<fusegrad>/include -P layering_check.cmake` (ctest test
# header_layers).
cmake_minimum_required(VERSION 3.21)
# Lowest first; folders in one entry (comma-separated) are one level and may not include
# each other.
set(levels
  "core"
  "packet"
  "ops"
  "expr"
  "tape"
  "functional,nn,optim"
  "solvers,distributed")
set(level 0)
foreach(entry IN LISTS levels)
  string(REPLACE "," ";" folders "${entry}")
  foreach(folder IN LISTS folders)
    set(level_of_${folder} ${level})
  endforeach()
  math(EXPR level "${level} + 1")
endforeach()
# The umbrella header includes every layer: only the top level may include it.
math(EXPR level_of_umbrella "${level} - 1")

file(GLOB children RELATIVE "${INCLUDE_DIR}/fusegrad" "${INCLUDE_DIR}/fusegrad/*")
set(problems "")
foreach(child IN LISTS children)
  if(IS_DIRECTORY "${INCLUDE_DIR}/fusegrad/${child}" AND NOT DEFINED level_of_${child})
    list(APPEND problems "folder include/fusegrad/${child} is not in layering_check.cmake's list of layers")
  endif()
endforeach()

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}/fusegrad" "${INCLUDE_DIR}/fusegrad/*/*.hpp")
if(NOT headers)
  message(FATAL_ERROR "layering_check: no headers under ${INCLUDE_DIR}/fusegrad")
endif()
foreach(header IN LISTS headers)
  string(REGEX MATCH "^[^/]+" folder "${header}")
  if(NOT DEFINED level_of_${folder})
    continue()
  endif()
  set(own ${level_of_${folder}})
  file(STRINGS "${INCLUDE_DIR}/fusegrad/${header}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  foreach(line IN LISTS includes)
    set(target "")
    if(line MATCHES "\"\\.\\./([a-z_]+)/")
      set(target "${CMAKE_MATCH_1}")
    elseif(line MATCHES "<fusegrad/([a-z_]+)/")
      set(target "${CMAKE_MATCH_1}")
    elseif(line MATCHES "<fusegrad/fusegrad\\.hpp>|\"\\.\\./fusegrad\\.hpp\"")
      set(target "umbrella")
    endif()
    if(target STREQUAL "" OR target STREQUAL folder)
      continue()
    endif()
    if(NOT DEFINED level_of_${target})
      list(APPEND problems "${header} includes unknown layer '${target}': ${line}")
    elseif(target STREQUAL "umbrella" AND level_of_umbrella LESS_EQUAL own)
      continue()
    elseif(NOT level_of_${target} LESS own)
      list(APPEND problems "${header} (layer ${folder}) reaches up or sideways: ${line}")
    endif()
  endforeach()
endforeach()
if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "layering_check:\n  ${text}")
endif()
list(LENGTH headers count)
message(STATUS "layering_check: ${count} headers include only their own layer and those below it")
