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
#include <set>
#include <string>

#include "../test/support/random_program.hpp"

namespace rp = fusegrad::testing::random_programs;

namespace {

const char* op_names[] = {
    "exp", "log", "log_input", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "sqrt_input", "abs", "square",
    "pow_number", "negate", "clamp", "user_map", "add", "subtract", "multiply", "divide", "divide_by_input",
    "maximum", "minimum", "where", "pow", "user_zip", "sum", "mean", "max", "min", "prod", "logsumexp", "reshape",
    "permute", "slice", "pad", "concat", "stack", "reverse", "broadcast_to", "matmul", "dot", "outer", "tensordot",
    "softmax", "log_softmax", "mse", "cross_entropy_labels", "cross_entropy_probabilities"};

bool has_zero(const rp::Dims& d) {
  for (long x : d)
    if (x == 0) return true;
  return false;
}

// The operations of a program that take or give a tensor with a size-0 dimension.
std::set<std::string> operations_on_empty(const rp::program& p) {
  std::set<std::string> names;
  for (const rp::node& n : p.nodes) {
    bool empty = has_zero(n.dims);
    for (int a : n.args)
      if (a >= 0 && has_zero(p.dims_of(a))) empty = true;
    if (empty) names.insert(op_names[int(rp::primitives[n.primitive].code)]);
  }
  return names;
}

}  // namespace

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
  std::map<std::string, long> failures_by_kind, failing_on_empty;
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
      if (options.allow_empty)
        for (const std::string& name : operations_on_empty(rp::generate(s, single, options))) ++failing_on_empty[name];
      if (failed <= show)
        std::cout << "---- program " << s << " (" << (single ? "float" : "double") << "): " << o.failure << "\n"
                  << o.source << "\n";
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [kind, n] : failures_by_kind) std::cout << n << " x " << kind << "\n";
  if (!failing_on_empty.empty()) {
    std::cout << "operations with a size-0 operand or result in failing programs:";
    for (const auto& [name, n] : failing_on_empty) std::cout << " " << name << " (" << n << ")";
    std::cout << "\n";
  }
  std::cout << skipped << " skipped (values out of the checked range), " << thrown << " threw; " << seconds
            << " s\n";
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
