// Random programs over every family of operations (test/support/random_program.hpp),
// each checked three ways: reverse mode against central differences, forward mode
// against reverse mode, fused against statement-by-statement evaluation. A failing
// program is printed as a TEST_CASE to paste into random_program_regressions_test.cpp.
#include <doctest/doctest.h>

#include <cstdint>

#include "../support/random_program.hpp"

namespace rp = fusegrad::testing::random_programs;

namespace {

// Size-0 dimensions are drawn too (about 6% of dimensions).
constexpr bool allow_empty = true;

void check_programs(std::uint64_t first_seed, int count, bool single) {
  rp::options options;
  options.allow_empty = allow_empty;
  int failed = 0, checked = 0;
  for (int i = 0; i < count; ++i) {
    const rp::program p = rp::generate(first_seed + std::uint64_t(i), single, options);
    const rp::outcome o = rp::check(p);
    if (o.skipped) continue;
    ++checked;
    if (!o.passed) {
      ++failed;
      if (failed <= 3) FAIL_CHECK(o.failure << "\n" << o.source);
    }
  }
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
