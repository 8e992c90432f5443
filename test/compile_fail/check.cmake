# Runs the compiler on a file that must not compile and checks what the user reads:
#   cmake -DCOMPILER=... -DFLAGS=<;-list> -DSOURCE=... -DMESSAGE=<regex> -P check.cmake
# Passes when the compilation fails, its first error matches MESSAGE (a fusegrad
# sentence, not an error from inside Eigen or a list of candidates) and at most one
# further error follows it (issue: one readable sentence per mistake).
execute_process(
  COMMAND "${COMPILER}" ${FLAGS} -fsyntax-only "${SOURCE}"
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
if(result EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled; it must not")
endif()
string(REGEX MATCHALL "[^\n]*error:[^\n]*" errors "${output}")
list(LENGTH errors count)
if(count EQUAL 0)
  message(FATAL_ERROR "the compiler failed without an error line:\n${output}")
endif()
list(GET errors 0 first)
if(NOT first MATCHES "${MESSAGE}")
  message(FATAL_ERROR "the first error is not the expected sentence (${MESSAGE}):\n${first}\n\nfull output:\n${output}")
endif()
if(count GREATER 2)
  message(FATAL_ERROR "${count} errors (at most 2 expected):\n${output}")
endif()
message(STATUS "${count} error(s), the first: ${first}")
