// The chained Rosenbrock function both solver tests minimize:
// sum over i of 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, minimal (0) at x = 1.
#pragma once
#include <fusegrad/fusegrad.hpp>

namespace fusegrad::testing {

inline auto rosenbrock = [](const Tensor<double, 1>& x) {
  const Index n = x.size();
  auto head = slice(x, {0}, {n - 1});
  auto tail = slice(x, {1}, {n - 1});
  return sum(100.0 * square(tail - square(head)) + square(1.0 - head));
};

}  // namespace fusegrad::testing
