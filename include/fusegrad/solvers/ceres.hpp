// SPDX-License-Identifier: MPL-2.0
#pragma once
// fusegrad functions as Ceres Solver problems (Debian: libceres-dev; CMake:
// find_package(Ceres), target Ceres::ceres):
//
//   // minimize a scalar function with ceres::GradientProblemSolver
//   ceres::GradientProblem problem(new fg::ceres_first_order_function(f, n));
//   ceres::Solve(options, problem, x.data(), &summary);
//
//   // least squares: residuals r(p) with the Jacobian from fg::jacobian
//   problem.AddResidualBlock(new fg::ceres_cost_function(r, residuals, parameters), nullptr, p.data());
//
// Ceres takes ownership of both (it deletes them). Exceptions from f (a shape error, say)
// propagate out of ceres::Solve. Ceres evaluates residual blocks on several threads when
// Solver::Options::num_threads > 1; fusegrad's graphs are per thread, but keep one
// thread unless f shares no tensor that requires a gradient.
//
// Not included by fusegrad.hpp: Ceres is an optional dependency.
#include <ceres/ceres.h>

#include <string>
#include <type_traits>
#include <utility>

#include "../fusegrad.hpp"
#include "vector_function.hpp"

namespace fusegrad {

/// A scalar function of n parameters as a ceres::FirstOrderFunction, for
/// ceres::GradientProblem. f takes a `const fg::Tensor<double, 1>&` and returns a rank-0
/// expression or tensor; one evaluation is one forward and one reverse pass.
template <class F>
class ceres_first_order_function : public ceres::FirstOrderFunction {
 public:
  /// f of `parameters` parameters.
  ceres_first_order_function(F f, int parameters) : function_(std::move(f)), parameters_(parameters) {
    if (parameters < 0) throw shape_error("fusegrad: ceres_first_order_function of a negative parameter count");
  }

  /// f at `parameters`, and its gradient when `gradient` is not null.
  bool Evaluate(const double* parameters, double* cost, double* gradient) const override {
    *cost = function_.evaluate(parameters, parameters_, gradient);
    return true;
  }
  /// The parameter count given at construction.
  int NumParameters() const override { return parameters_; }

 private:
  mutable vector_function<double, F> function_;  // Ceres evaluates through a const object
  int parameters_;
};

/// Residuals r(p) of one parameter block as a ceres::CostFunction. r takes a
/// `const fg::Tensor<double, 1>&` of `parameters` elements and returns a rank-1
/// expression or tensor of `residuals` elements. The Jacobian comes from fg::jacobian:
/// by default in reverse mode, one reverse pass per residual, which needs nothing of r;
/// fg::mode::forward (one pass per parameter, cheaper when there are fewer parameters
/// than residuals) or fg::mode::automatic needs r generic over the scalar type (an
/// `auto` parameter), since it runs on dual numbers.
template <class F>
class ceres_cost_function : public ceres::CostFunction {
 public:
  /// r with `residuals` residuals of a block of `parameters` parameters.
  ceres_cost_function(F r, int residuals, int parameters, mode jacobian_mode = mode::reverse)
      : function_(std::move(r)), mode_(jacobian_mode) {
    if (residuals < 0 || parameters < 0)
      throw shape_error("fusegrad: ceres_cost_function of a negative residual or parameter count");
    if (mode_ != mode::reverse && !runs_on_dual_numbers)
      throw graph_error(
          "fusegrad: ceres_cost_function: a forward-mode Jacobian needs a residual function generic over the "
          "scalar type (an auto parameter); this one takes only Tensor<double, 1>");
    set_num_residuals(residuals);
    mutable_parameter_block_sizes()->push_back(parameters);
  }

  /// The residuals at parameters[0], and the row-major Jacobian when Ceres asks for it.
  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    const Index n = parameter_block_sizes()[0], m = num_residuals();
    Tensor<double, 1> p(Shape<1>{n});
    as_vector(p.mutable_value()) = Eigen::Map<const Eigen::VectorXd>(parameters[0], n);
    {
      no_grad off;
      Tensor<double, 1> r = function_(static_cast<const Tensor<double, 1>&>(p));
      if (r.size() != m)
        throw shape_error("fusegrad: ceres_cost_function: the function gave " + std::to_string(r.size()) +
                          " residuals, not the " + std::to_string(m) + " it was declared with");
      Eigen::Map<Eigen::VectorXd>(residuals, m) = as_vector(r.value());
    }
    if (jacobians && jacobians[0]) {
      EigenTensor<double, 2> j;
      if constexpr (runs_on_dual_numbers)
        j = jacobian(function_, p, mode_);
      else  // reverse mode only: fg::jacobian would instantiate its forward path on dual numbers
        j = functional_detail::jacobian_by_rows(function_, p, functional_detail::value_at(function_, p));
      for (Index i = 0; i < m; ++i)
        for (Index k = 0; k < n; ++k) jacobians[0][i * n + k] = j(i, k);
    }
    return true;
  }

 private:
  static constexpr bool runs_on_dual_numbers = std::is_invocable_v<const F&, const Tensor<Dual<double>, 1>&>;
  F function_;
  mode mode_;
};

}  // namespace fusegrad
