// SPDX-License-Identifier: MPL-2.0
#pragma once
// What the solver adapters (lbfgspp.hpp, ceres.hpp) share: a scalar function of a flat
// array of parameters, evaluated with its gradient by one reverse pass.
#include <optional>
#include <utility>

#include "../fusegrad.hpp"

namespace fusegrad {

/// A scalar function of a vector of parameters, evaluated on raw arrays as solvers hand
/// them over. `f` takes the parameters as a `const fg::Tensor<S, 1>&` and returns a
/// rank-0 expression or tensor. The parameters live in one leaf reused from call to
/// call, so steady-state evaluations allocate only what f does.
template <class S, class F>
class vector_function {
 public:
  /// Wraps f.
  explicit vector_function(F f) : function_(std::move(f)) {}

  /// f(x) for x of n elements; when `gradient` is not null, d f / d x is written there
  /// (n elements; zeros where f does not depend on x).
  S evaluate(const S* x, Index n, S* gradient) {
    if (!parameters_ || parameters_->size() != n) {
      parameters_.emplace(Shape<1>{n});
      parameters_->requires_grad(true);
    }
    Tensor<S, 1>& p = *parameters_;
    as_vector(p.mutable_value()) = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>>(x, n);
    ++evaluations_;
    if (!gradient) {
      no_grad off;
      Tensor<S, 0> value = function_(static_cast<const Tensor<S, 1>&>(p));
      return value.item();
    }
    p.zero_grad();
    Tensor<S, 0> value = function_(static_cast<const Tensor<S, 1>&>(p));
    Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, 1>> out(gradient, n);
    if (value.requires_grad()) value.backward();
    if (p.has_grad())
      out = as_vector(p.grad());
    else
      out.setZero();  // f does not depend on x
    return value.item();
  }

  /// How many times f has been evaluated.
  Index evaluations() const { return evaluations_; }

 private:
  F function_;
  std::optional<Tensor<S, 1>> parameters_;
  Index evaluations_ = 0;
};

}  // namespace fusegrad
