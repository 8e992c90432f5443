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

// The first two test cases draw no size-0 dimensions (their programs stay as they were
// when they were written); a third draws them. With size-0 dimensions more programs have
// nothing to compare (an empty output) and are skipped.
constexpr bool allow_empty = false;

// FUSEGRAD_RANDOM_PROGRAMS=N runs N programs per test case instead (a long run by hand;
// the bench target random_programs does the same at -O3).
int program_count(int default_count) {
  const char* given = std::getenv("FUSEGRAD_RANDOM_PROGRAMS");
  return given ? std::atoi(given) : default_count;
}

void check_programs(std::uint64_t first_seed, int count, bool single, bool empty = allow_empty,
                    double least_checked = 0.9) {
  count = program_count(count);
  rp::options options;
  options.allow_empty = empty;
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
  CHECK(checked >= count * least_checked);
}

}  // namespace

TEST_CASE("random double programs agree with central differences, forward mode and fused evaluation") {
  check_programs(1000, 150, false);
}

TEST_CASE("random float programs agree with central differences, forward mode and fused evaluation") {
  check_programs(5000, 150, true);
}

// Until the fix of a division by a product's inner dimension (a summed region around a
// product over an empty inner dimension: SIGFPE), these crashed from seed 1172 (double)
// and 5433 (float). 3000 programs of each type passed after it, 9% skipped.
TEST_CASE("random programs with size-0 dimensions run and agree where they have values") {
  check_programs(1000, 100, false, true, 0.8);
  check_programs(5000, 100, true, true, 0.8);
}

// Two programs the bench target random_programs failed (seeds 20261204 + 179416 and
// + 20617, 200,000 programs) whose gradients and values are right: the checker's own
// estimates were wrong.
// - 20440620 (double): sin of a logsumexp near -4542, so the output is strongly curved in
//   x0; central differences at h = 1.4e-6 are off by 2.5e-6 of the gradient (11554.0076
//   against 11554.0366, which long double differences approach as h shrinks: 11554.0365
//   at h = 1e-7).
// - 20281821 (float): sin(x0 + sum(exp(v7^2))), where v7, a sum of tanh, reaches 2.30
//   and the sum of exponentials moves 913 times as much as v7 does: one float rounding
//   of v7 (2.4e-7) moves the output by 2e-4, and the fused and
//   statement-by-statement evaluations round it differently (the fused one is within twice
//   the other's distance from the double evaluation at the same inputs).
// - 777004283 (float, seed 777000000 + 4283 of 300,000): a relu turns between h and 2h
//   from x0's element 5, which the one-sided differences at h do not show; the estimate
//   at 2h, and the extrapolation from it, were 11% off (fusegrad's gradient is -98.16 in
//   float, -98.17 in double and long double).
TEST_CASE("the random-program checker does not fail a right program for curvature or float rounding") {
  rp::options options;
  options.allow_empty = allow_empty;
  const rp::outcome curved = rp::check(rp::generate(20440620, false, options));
  CHECK_MESSAGE(curved.passed, curved.failure);
  const rp::outcome rounded = rp::check(rp::generate(20281821, true, options));
  CHECK_MESSAGE(rounded.passed, rounded.failure);
  const rp::outcome kinked = rp::check(rp::generate(777004283, true, options));
  CHECK_MESSAGE(kinked.passed, kinked.failure);
  CHECK_FALSE(curved.skipped);
  CHECK_FALSE(rounded.skipped);
  CHECK_FALSE(kinked.skipped);
}
