// SPDX-License-Identifier: MPL-2.0
#pragma once
// An objective for LBFGS++ (Debian: liblbfgspp-dev; header <LBFGS.h>), whose solvers
// call f(x, gradient) with Eigen vectors and expect the value back:
//
//   auto rosenbrock = [](const fg::Tensor<double, 1>& x) { ... return fg::sum(...); };
//   LBFGSpp::LBFGSSolver<double> solver(param);
//   auto objective = fg::make_lbfgspp_objective<double>(rosenbrock);
//   int iterations = solver.minimize(objective, x, fx);
//
// Not included by fusegrad.hpp: LBFGS++ is an optional dependency, and this header is
// the only one that needs it.
#include <Eigen/Core>
#include <LBFGS.h>

#include <utility>

#include "vector_function.hpp"

namespace fusegrad {

/// A function of a vector of parameters, in the form LBFGS++'s solvers call: value and
/// gradient in one evaluation (fg::vector_function says what f may be).
template <class S, class F>
class lbfgspp_objective {
 public:
  /// Wraps f.
  explicit lbfgspp_objective(F f) : function_(std::move(f)) {}

  /// f(x), with d f / d x written into `gradient` (resized to x's size).
  S operator()(const Eigen::Matrix<S, Eigen::Dynamic, 1>& x, Eigen::Matrix<S, Eigen::Dynamic, 1>& gradient) {
    gradient.resize(x.size());
    return function_.evaluate(x.data(), x.size(), gradient.data());
  }

  /// How many times the solver has evaluated f.
  Index evaluations() const { return function_.evaluations(); }

 private:
  vector_function<S, F> function_;
};

/// Deduces F: `fg::make_lbfgspp_objective<double>(f)`.
template <class S, class F>
lbfgspp_objective<S, F> make_lbfgspp_objective(F f) {
  return lbfgspp_objective<S, F>(std::move(f));
}

}  // namespace fusegrad
