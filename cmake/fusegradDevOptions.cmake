# Build settings for fusegrad's own tests and benchmarks (never installed,
# never applied to fusegrad::fusegrad itself). Link a target to one of these
# INTERFACE targets to get its flags:
#
#   fusegrad_test_options   -O0 with assertions on in optimized configurations
#                           (the configuration's -O3/-DNDEBUG are overridden;
#                           the tests spend nearly all their time in the compiler:
#                           -O0 compiles the largest in 83-87% of -Og's time, and
#                           -Og in about 85% of -O1's and 60% of -O2's; the suite
#                           runs in about 23 s at -O0 against 15 s at -Og; the
#                           bench checks every gradient at -O3 -march=native
#                           before timing it, and runs the random programs at -O3),
#                           warnings, a larger heap before GCC's
#                           first garbage collection (below), and with
#                           FUSEGRAD_SANITIZE=ON -fsanitize=address,undefined for
#                           compile and link.
#   fusegrad_bench_options  -O3 -march=native -DNDEBUG in optimized configurations.
include_guard(GLOBAL)

set(_fusegrad_optimized_configs "$<CONFIG:Release,RelWithDebInfo,MinSizeRel>")

add_library(fusegrad_test_options INTERFACE)
target_compile_features(fusegrad_test_options INTERFACE cxx_std_20)
target_compile_options(fusegrad_test_options INTERFACE
  "$<${_fusegrad_optimized_configs}:-O0;-UNDEBUG>"
  -Wall -Wextra)
# A test translation unit instantiates hundreds of expression types and GCC holds
# 2-4 GB while compiling it; by default it collects garbage from 128 MB of heap
# on, again and again. From 1 GB on instead, the tests compile in about 10% less
# time (GCC 12, at -Og and at -O0 with sanitizers) for about 20% more memory.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(fusegrad_test_options INTERFACE --param=ggc-min-heapsize=1048576)
endif()
if(FUSEGRAD_SANITIZE)
  # UBSan's null and alignment checks are left out: they instrument every member access
  # and pointer dereference of the expression templates and made the build 1.6 times
  # slower, and ASan reports a null or misaligned access as the fault it causes. -g1
  # (line tables) is all a sanitizer's stack trace reads, at about 3/4 of -g's cost.
  set(_fusegrad_sanitize_flags
      -fsanitize=address,undefined -fno-sanitize=alignment,null -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
  target_compile_options(fusegrad_test_options INTERFACE ${_fusegrad_sanitize_flags} -g1)
  target_link_options(fusegrad_test_options INTERFACE ${_fusegrad_sanitize_flags})
  message(STATUS "fusegrad: tests built with ${_fusegrad_sanitize_flags}")
endif()

if(FUSEGRAD_TSAN)
  if(FUSEGRAD_SANITIZE)
    message(FATAL_ERROR "fusegrad: FUSEGRAD_TSAN and FUSEGRAD_SANITIZE cannot be combined (ThreadSanitizer excludes ASan)")
  endif()
  target_compile_options(fusegrad_test_options INTERFACE -fsanitize=thread -g1)
  target_link_options(fusegrad_test_options INTERFACE -fsanitize=thread)
  message(STATUS "fusegrad: tests built with -fsanitize=thread")
endif()

add_library(fusegrad_bench_options INTERFACE)
target_compile_features(fusegrad_bench_options INTERFACE cxx_std_20)
target_compile_options(fusegrad_bench_options INTERFACE
  "$<${_fusegrad_optimized_configs}:-O3;-march=native;-DNDEBUG>")
