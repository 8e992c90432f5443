# Extracts README.md's quick start, compiles it and runs it.
#
#   cmake -DREADME=<README.md> -DWORK_DIR=<dir> -DCXX_COMPILER=<c++>
#         -DFLAGS=<flag|flag|...> [-DLIBRARIES=<lib|lib|...>] -P readme_quickstart.cmake
#
# The quick start is the ```cpp fenced block between the lines
# <!-- quickstart-begin --> and <!-- quickstart-end -->. The script fails if the
# markers or the block are missing or empty, if the code does not compile, or if the
# program exits with a non-zero status or prints nothing.
cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS README WORK_DIR CXX_COMPILER FLAGS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "readme_quickstart.cmake: -D${var}=... is required")
  endif()
endforeach()

set(begin_marker "<!-- quickstart-begin -->")
set(end_marker "<!-- quickstart-end -->")
file(READ "${README}" text)
string(FIND "${text}" "${begin_marker}" begin)
string(FIND "${text}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  message(FATAL_ERROR "${README}: no ${begin_marker} ... ${end_marker} section")
endif()
string(LENGTH "${begin_marker}" marker_length)
math(EXPR start "${begin} + ${marker_length}")
math(EXPR length "${end} - ${start}")
string(SUBSTRING "${text}" ${start} ${length} section)

# The code between the ```cpp line and the closing ``` line.
string(FIND "${section}" "```cpp\n" fence_open)
if(fence_open EQUAL -1)
  message(FATAL_ERROR "${README}: the quick start section holds no ```cpp block")
endif()
math(EXPR code_start "${fence_open} + 7")
string(SUBSTRING "${section}" ${code_start} -1 rest)
string(FIND "${rest}" "```" fence_close)
if(fence_close EQUAL -1)
  message(FATAL_ERROR "${README}: the quick start's ```cpp block is not closed")
endif()
string(SUBSTRING "${rest}" 0 ${fence_close} code)
string(STRIP "${code}" stripped)
if(stripped STREQUAL "")
  message(FATAL_ERROR "${README}: the quick start's ```cpp block is empty")
endif()

file(MAKE_DIRECTORY "${WORK_DIR}")
set(source "${WORK_DIR}/quickstart.cpp")
set(program "${WORK_DIR}/quickstart")
file(WRITE "${source}" "${code}")
file(REMOVE "${program}")

string(REPLACE "|" ";" flags "${FLAGS}")
string(REPLACE "|" ";" libraries "${LIBRARIES}")
execute_process(
  COMMAND "${CXX_COMPILER}" ${flags} -O1 "${source}" -o "${program}" ${libraries}
  RESULT_VARIABLE compile_result)
if(NOT compile_result EQUAL 0)
  message(FATAL_ERROR "README quick start (${source}) does not compile")
endif()

execute_process(
  COMMAND "${program}"
  RESULT_VARIABLE run_result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
message("${output}")
if(NOT run_result EQUAL 0)
  message(FATAL_ERROR "README quick start exited with ${run_result}")
endif()
string(STRIP "${output}" output)
if(output STREQUAL "")
  message(FATAL_ERROR "README quick start printed nothing")
endif()
message(STATUS "README quick start (${source}) compiles and runs")
