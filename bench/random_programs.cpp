// Runs many random programs (test/support/random_program.hpp) and reports the failing
// ones as TEST_CASEs to paste into test/edge/random_program_regressions_test.cpp.
//
//   random_programs [--count N] [--seed S] [--empty] [--show K] [--statements K]
//
// N programs (default 100000), half in double and half in float, from seed S (default
// 1); --empty allows size-0 dimensions (each program then runs in a child process, so
// that a crash is counted, not fatal); the first K failures (default 5) are printed;
// programs have at most K statements (default 6; 1 tells which operation fails).
// The last line reads "N passed, M failed" (skipped programs, whose values left the
// checked range, are counted apart).
#include <sys/wait.h>
#include <unistd.h>

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
    "exp", "log", "log_input", "sin", "cos", "tanh", "sigmoid", "softplus", "log_sigmoid", "relu", "sqrt", "sqrt_input", "abs", "square",
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

rp::outcome checked(std::uint64_t seed, bool single, const rp::options& options) {
  rp::outcome o;
  try {
    o = rp::check(rp::generate(seed, single, options));
  } catch (const std::exception& e) {
    o.passed = false;
    o.failure = std::string("exception: ") + e.what();
    o.source = rp::to_cpp(rp::generate(seed, single, options), false);
  }
  return o;
}

// The check in a child process: with size-0 dimensions, Eigen's assertions can abort,
// and one crash should not end the run. The child writes "P", "S" or "F<failure>\n<source>".
rp::outcome checked_apart(std::uint64_t seed, bool single, const rp::options& options) {
  int channel[2];
  if (pipe(channel) != 0) return checked(seed, single, options);
  std::cout.flush();
  const pid_t child = fork();
  if (child == 0) {
    close(channel[0]);
    const rp::outcome o = checked(seed, single, options);
    const std::string message = o.skipped ? "S" : o.passed ? "P" : "F" + o.failure + "\n" + o.source;
    for (std::size_t at = 0; at < message.size();) {
      const ssize_t n = write(channel[1], message.data() + at, message.size() - at);
      if (n <= 0) break;
      at += std::size_t(n);
    }
    _exit(0);
  }
  close(channel[1]);
  std::string message;
  char buffer[4096];
  for (ssize_t n; (n = read(channel[0], buffer, sizeof buffer)) > 0;) message.append(buffer, std::size_t(n));
  close(channel[0]);
  int status = 0;
  waitpid(child, &status, 0);
  rp::outcome o;
  if (message.empty()) {
    o.passed = false;
    o.failure = "crashed (signal " + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) + ")";
    const rp::program p = rp::generate(seed, single, options);
    o.source = "  // inputs:";
    for (std::size_t k = 0; k < p.inputs.size(); ++k) {
      o.source += " x" + std::to_string(k) + " (";
      for (std::size_t i = 0; i < p.inputs[k].size(); ++i) o.source += (i ? ", " : "") + std::to_string(p.inputs[k][i]);
      o.source += ")";
    }
    o.source += "\n" + rp::to_cpp(p, false);
  } else if (message[0] == 'S') {
    o.skipped = true;
  } else if (message[0] == 'F') {
    o.passed = false;
    const std::size_t end = message.find('\n');
    o.failure = message.substr(1, end - 1);
    o.source = end == std::string::npos ? "" : message.substr(end + 1);
  }
  return o;
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
    else if (arg == "--statements" && i + 1 < argc) options.max_statements = std::atoi(argv[++i]);
    else {
      std::cerr << "usage: random_programs [--count N] [--seed S] [--empty] [--show K] [--statements K]\n";
      return 2;
    }
  }
  long passed = 0, failed = 0, skipped = 0, thrown = 0;
  std::map<std::string, long> failures_by_kind, failing_on_empty;
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    const std::uint64_t s = seed + std::uint64_t(i);
    const bool single = i % 2 == 1;
    rp::outcome o = options.allow_empty ? checked_apart(s, single, options) : checked(s, single, options);
    if (o.failure.rfind("exception", 0) == 0) ++thrown;
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
