// Runs many random programs (test/support/random_program.hpp) and reports the failing
// ones as TEST_CASEs to paste into test/edge/random_program_regressions_test.cpp.
//
//   random_programs [--count N] [--seed S] [--empty] [--show K]
//
// N programs (default 100000), half in double and half in float, from seed S (default
// 1); --empty allows size-0 dimensions; the first K failures (default 5) are printed.
// The last line reads "N passed, M failed" (skipped programs, whose values left the
// checked range, are counted apart).
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "../test/support/random_program.hpp"

namespace rp = fusegrad::testing::random_programs;

int main(int argc, char** argv) {
  long count = 100000, show = 5;
  std::uint64_t seed = 1;
  rp::options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc) count = std::atol(argv[++i]);
    else if (arg == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--show" && i + 1 < argc) show = std::atol(argv[++i]);
    else if (arg == "--empty") options.allow_empty = true;
    else {
      std::cerr << "usage: random_programs [--count N] [--seed S] [--empty] [--show K]\n";
      return 2;
    }
  }
  long passed = 0, failed = 0, skipped = 0, thrown = 0;
  std::map<std::string, long> failures_by_kind;
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    const std::uint64_t s = seed + std::uint64_t(i);
    const bool single = i % 2 == 1;
    rp::outcome o;
    try {
      o = rp::check(rp::generate(s, single, options));
    } catch (const std::exception& e) {
      o.passed = false;
      o.failure = std::string("exception: ") + e.what();
      o.source = rp::to_cpp(rp::generate(s, single, options), false);
      ++thrown;
    }
    if (o.skipped) {
      ++skipped;
    } else if (o.passed) {
      ++passed;
    } else {
      ++failed;
      ++failures_by_kind[o.failure];
      if (failed <= show)
        std::cout << "---- program " << s << " (" << (single ? "float" : "double") << "): " << o.failure << "\n"
                  << o.source << "\n";
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [kind, n] : failures_by_kind) std::cout << n << " x " << kind << "\n";
  std::cout << skipped << " skipped (values out of the checked range), " << thrown << " threw; " << seconds
            << " s\n";
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
